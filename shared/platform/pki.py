"""Keys and certificates for a local or test installation: an operator CA, mail_dispatch's S/MIME
signing certificate, mail_dispatch's X25519 key that secrets are sealed for, the front end's
X25519 key that answers are sealed for, protocol_log's Ed25519 checkpoint key and the Ed25519 key
the authentication API signs access tokens with (the read APIs hold its public half). Production
takes its certificates from the state's PKI instead; the paths are the same settings.

`python -m shared.platform.pki init DIR` creates what is missing in DIR and changes nothing else;
`python -m shared.platform.pki operator DIR OPERATOR_ID ROLE` issues an operator's signing key and
certificate (DIR/operators/OPERATOR_ID.key and .pem) if it has none, and
`python -m shared.platform.pki revoke-operator DIR OPERATOR_ID` puts it on the CA's revocation list.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared.platform.operator_signatures import OperatorKey
from shared.platform.sealed import public_bytes

CA_CERT, CA_KEY = "ca.pem", "ca.key"
MAIL_CERT, MAIL_KEY = "mail-signing.pem", "mail-signing.key"
LETTER_KEY, LETTER_PUB = "letter-seal.key", "letter-seal.pub"
# the MiN front end's key: registers seal answers for it, only it opens them
ANSWER_KEY, ANSWER_PUB = "answer-seal.key", "answer-seal.pub"
# protocol_log's key for signing checkpoints of the hash chain
CHECKPOINT_KEY, CHECKPOINT_PUB = "protocol-checkpoint.key", "protocol-checkpoint.pub"
# provisioning's key for signing access tokens; the read APIs verify with the public key
TOKEN_KEY, TOKEN_PUB = "token-signing.key", "token-signing.pub.pem"
# the portal's own key for its requesters' tokens: they open nothing but the portal's mailbox
PORTAL_TOKEN_KEY = "portal-token.key"
MAIL_SENDER = "verfahrensbetreuung@meldespiegel.example"


def _pem_key(key: rsa.RSAPrivateKey | X25519PrivateKey | Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    """A KeyUsage extension with what is named allowed and everything else not."""
    usages = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{u: allowed.get(u, False) for u in usages})


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meldespiegel"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def make_ca() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("meldespiegel local CA"))
        .issuer_name(_name("meldespiegel local CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def issue_smime(
    ca_cert_pem: bytes, ca_key_pem: bytes, email: str, name: str
) -> tuple[bytes, bytes]:
    """An S/MIME certificate (signing and encryption) for `email`, issued by the CA."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(digital_signature=True, content_commitment=True, key_encipherment=True),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # type: ignore[arg-type]
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def init(directory: Path) -> list[str]:
    """Creates the missing files; returns their names."""
    directory.mkdir(parents=True, exist_ok=True)
    made: list[str] = []
    if not (directory / CA_CERT).exists():
        cert, key = make_ca()
        (directory / CA_KEY).write_bytes(key)
        (directory / CA_CERT).write_bytes(cert)
        made += [CA_CERT, CA_KEY]
    if not (directory / MAIL_CERT).exists():
        cert, key = issue_smime(
            (directory / CA_CERT).read_bytes(),
            (directory / CA_KEY).read_bytes(),
            MAIL_SENDER,
            "meldespiegel Verfahrensbetreuung",
        )
        (directory / MAIL_KEY).write_bytes(key)
        (directory / MAIL_CERT).write_bytes(cert)
        made += [MAIL_CERT, MAIL_KEY]
    if not (directory / LETTER_KEY).exists():
        seal_key = X25519PrivateKey.generate()
        (directory / LETTER_KEY).write_bytes(_pem_key(seal_key))
        (directory / LETTER_PUB).write_bytes(public_bytes(seal_key).hex().encode() + b"\n")
        made += [LETTER_KEY, LETTER_PUB]
    if not (directory / ANSWER_KEY).exists():
        answer_key = X25519PrivateKey.generate()
        (directory / ANSWER_KEY).write_bytes(_pem_key(answer_key))
        (directory / ANSWER_PUB).write_bytes(public_bytes(answer_key).hex().encode() + b"\n")
        made += [ANSWER_KEY, ANSWER_PUB]
    if not (directory / CHECKPOINT_KEY).exists():
        signing = Ed25519PrivateKey.generate()
        (directory / CHECKPOINT_KEY).write_bytes(_pem_key(signing))
        raw = signing.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        (directory / CHECKPOINT_PUB).write_bytes(raw.hex().encode() + b"\n")
        made += [CHECKPOINT_KEY, CHECKPOINT_PUB]
    if not (directory / TOKEN_KEY).exists():
        token_key = Ed25519PrivateKey.generate()
        (directory / TOKEN_KEY).write_bytes(_pem_key(token_key))
        (directory / TOKEN_PUB).write_bytes(
            token_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        made += [TOKEN_KEY, TOKEN_PUB]
    if not (directory / PORTAL_TOKEN_KEY).exists():
        (directory / PORTAL_TOKEN_KEY).write_bytes(_pem_key(Ed25519PrivateKey.generate()))
        made.append(PORTAL_TOKEN_KEY)
    for name in (
        CA_KEY,
        MAIL_KEY,
        LETTER_KEY,
        ANSWER_KEY,
        CHECKPOINT_KEY,
        TOKEN_KEY,
        PORTAL_TOKEN_KEY,
    ):
        (directory / name).chmod(0o600)
    return made


OPERATORS_DIR = "operators"  # an operator's key and certificate: operators/<id>.key, <id>.pem
OPERATORS_CRL = "operators.crl.pem"  # the operator certificates revoked before they expire


def issue_operator(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    operator_id: str,
    role: str,
    days: int = 365,
    valid_from: dt.datetime | None = None,
) -> tuple[bytes, bytes]:
    """An operator's signing certificate (Ed25519; CN the operator id, OU the role), issued by the
    operator CA: the consuming services verify commands against it."""
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    key = Ed25519PrivateKey.generate()
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meldespiegel operators"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.COMMON_NAME, operator_id),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from or now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            _key_usage(digital_signature=True, content_commitment=True),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return _pem_key(key), cert.public_bytes(serialization.Encoding.PEM)


def init_operator(
    directory: Path, operator_id: str, role: str, valid_from: dt.datetime | None = None
) -> tuple[Path, Path]:
    """Issues (or keeps) an operator's key and certificate under DIR/operators/."""
    folder = directory / OPERATORS_DIR
    key_path, cert_path = folder / f"{operator_id}.key", folder / f"{operator_id}.pem"
    if not (key_path.exists() and cert_path.exists()):
        folder.mkdir(parents=True, exist_ok=True)
        key_pem, cert_pem = issue_operator(
            (directory / CA_CERT).read_bytes(),
            (directory / CA_KEY).read_bytes(),
            operator_id,
            role,
            valid_from=valid_from,
        )
        key_path.write_bytes(key_pem)
        key_path.chmod(0o600)
        cert_path.write_bytes(cert_pem)
    return key_path, cert_path


def revoke_operator(directory: Path, operator_id: str, now: dt.datetime | None = None) -> int:
    """Revokes an operator's certificate: its serial goes on the operator CA's revocation list
    (a CRL signed by the CA), which every consuming service checks. Returns the serial."""
    now = now or dt.datetime.now(dt.UTC)
    ca_cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
    ca_key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), None)
    cert = x509.load_pem_x509_certificate(
        (directory / OPERATORS_DIR / f"{operator_id}.pem").read_bytes()
    )
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=365))
    )
    revoked = load_revoked(directory) | {cert.serial_number}
    for serial in sorted(revoked):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    # whole or not at all: the services read the list while it may be replaced
    staged = directory / f"{OPERATORS_CRL}.new"
    staged.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    staged.replace(directory / OPERATORS_CRL)
    return cert.serial_number


def load_revoked(directory: Path) -> frozenset[int]:
    """The serials on the operator CA's revocation list (none if there is no list); a list the
    CA did not sign is refused, not ignored."""
    path = directory / OPERATORS_CRL
    if not path.exists():
        return frozenset()
    crl = x509.load_pem_x509_crl(path.read_bytes())
    ca_cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
    if not crl.is_signature_valid(ca_cert.public_key()):  # type: ignore[arg-type]
        raise ValueError(f"{path} is not signed by the operator CA")
    return frozenset(r.serial_number for r in crl)


def load_operator_key(directory: Path, operator_id: str) -> OperatorKey:
    """An operator's signing key and certificate from DIR/operators/; FileNotFoundError if the
    operator has none."""
    folder = directory / OPERATORS_DIR
    return OperatorKey(
        load_ed25519_key(folder / f"{operator_id}.key"),
        x509.load_pem_x509_certificate((folder / f"{operator_id}.pem").read_bytes()),
    )


def load_ed25519_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path.name} is not an Ed25519 key")
    return key


def load_ed25519_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path.name} is not an Ed25519 public key")
    return key


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "revoke-operator":
        serial = revoke_operator(Path(sys.argv[2]), sys.argv[3])
        print(f"[pki] operator {sys.argv[3]}: certificate {serial:x} revoked")
        raise SystemExit(0)
    if len(sys.argv) == 5 and sys.argv[1] == "operator":
        key_file, cert_file = init_operator(Path(sys.argv[2]), sys.argv[3], sys.argv[4])
        print(f"[pki] operator {sys.argv[3]} ({sys.argv[4]}): {key_file}, {cert_file}")
        raise SystemExit(0)
    if len(sys.argv) != 3 or sys.argv[1] != "init":
        print(
            "usage: python -m shared.platform.pki init DIR\n"
            "       python -m shared.platform.pki operator DIR OPERATOR_ID ROLE\n"
            "       python -m shared.platform.pki revoke-operator DIR OPERATOR_ID",
            file=sys.stderr,
        )
        raise SystemExit(2)
    created = init(Path(sys.argv[2]))
    print(
        f"[pki] {sys.argv[2]}: " + (", ".join(created) if created else "complete"), file=sys.stderr
    )
