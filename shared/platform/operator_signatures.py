"""Operator signatures: who gave a command, proven to the service that carries it out.

An operator signs each command event (a manual review decision, an account command, a portal
registration decision or statement request) with the Ed25519 key of a certificate the operator
CA issued, CN the operator id and OU the role; a redrive is signed in the same way by the operator
who sends the dead letter back. The record carries the certificate and the signature in two
headers; the signature covers the topic, the key, the event's id, type and time (and for a
redrive the redrive headers) and the SHA-256 of the body, so it cannot be moved to another record
and nothing it covers can be changed. The consuming service checks the certificate against the
CA it trusts and the signature, and then that the signer is the operator the event names. A
writer of the topic without the operator's key cannot give a command in the operator's name: the
command is refused with a reason event (or, for a redrive, dead-lettered again with the reason).

Pure apart from the cryptography: no I/O; the CA certificate is handed in."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from shared.contract.deadletter import (
    REDRIVE_CERT_HEADER,
    REDRIVE_SIGNATURE_HEADER,
    REDRIVEN_AT,
    REDRIVEN_BY,
    REDRIVEN_FROM,
)
from shared.contract.envelope import (
    GATEWAY_CERT_HEADER,
    GATEWAY_SIGNATURE_HEADER,
    OPERATOR_CERT_HEADER,
    OPERATOR_SIGNATURE_HEADER,
)
from shared.contract.events.account import OperatorRole


@dataclass(frozen=True)
class Seal:
    """One kind of operator signature: the headers it travels in and what it covers."""

    cert_header: str
    signature_header: str
    prefix: bytes
    signed_headers: tuple[str, ...]


# a command: signed by the operator who gives it
COMMAND = Seal(
    OPERATOR_CERT_HEADER,
    OPERATOR_SIGNATURE_HEADER,
    b"meldespiegel operator command v1",
    ("ce_id", "ce_type", "ce_time"),
)
# a redriven copy: signed by the operator who sends it back, over the redrive headers too; a
# command's own signature stays valid beside it
REDRIVE = Seal(
    REDRIVE_CERT_HEADER,
    REDRIVE_SIGNATURE_HEADER,
    b"meldespiegel operator redrive v1",
    ("ce_id", "ce_type", "ce_time", REDRIVEN_FROM, REDRIVEN_BY, REDRIVEN_AT),
)


# a record from one state's gateway to another's: signed by the sending gateway, whose certificate
# (issued by its own installation's CA) the receiving side pins by its fingerprint
GATEWAY = Seal(
    GATEWAY_CERT_HEADER,
    GATEWAY_SIGNATURE_HEADER,
    b"meldespiegel land gateway v1",
    ("ce_id", "ce_type", "ce_time"),
)


@dataclass(frozen=True)
class Signer:
    """The operator a valid signature proves."""

    operator_id: str
    role: str


@dataclass(frozen=True)
class Refusal:
    """Why a command's operator is not proven: a stable code and a German sentence."""

    code: str
    message: str


NOT_SIGNED = Refusal(
    "OPERATOR_NOT_PROVEN",
    "Der Befehl trägt keine gültige Signatur einer Betreiberin oder eines Betreibers.",
)


@dataclass(frozen=True)
class OperatorKey:
    """What an operator signs with: the key and the certificate the operator CA issued for it."""

    private_key: Ed25519PrivateKey
    certificate: x509.Certificate

    @property
    def operator_id(self) -> str:
        return str(self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    @property
    def role(self) -> str:
        attrs = self.certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        return str(attrs[0].value) if attrs else ""

    def sign(
        self, seal: Seal, topic: str, key: bytes | None, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        return sign(seal, self.private_key, self.certificate, topic, key, headers, body)


def signing_input(
    seal: Seal, topic: str, key: bytes | None, headers: Mapping[str, str], body: bytes
) -> bytes:
    parts = [seal.prefix, topic.encode(), key or b""]
    parts += [headers.get(name, "").encode() for name in seal.signed_headers]
    parts.append(hashlib.sha256(body).hexdigest().encode())
    return b"\n".join(parts)


def sign(
    seal: Seal,
    private_key: Ed25519PrivateKey,
    certificate: x509.Certificate,
    topic: str,
    key: bytes | None,
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, str]:
    """The two headers to add to a record whose other headers are `headers`."""
    signature = private_key.sign(signing_input(seal, topic, key, headers, body))
    return {
        seal.cert_header: base64.b64encode(certificate.public_bytes(Encoding.DER)).decode(),
        seal.signature_header: base64.b64encode(signature).decode(),
    }


def signer_of(
    seal: Seal,
    ca: x509.Certificate,
    topic: str,
    key: bytes | None,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    revoked: frozenset[int] = frozenset(),
) -> Signer | Refusal:
    """The operator who signed this record, or why none is proven; `revoked`: the serials on the
    operator CA's revocation list."""
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(headers[seal.cert_header]))
        signature = base64.b64decode(headers[seal.signature_header], validate=True)
    except (KeyError, ValueError, binascii.Error):
        return NOT_SIGNED
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return Refusal(
            "OPERATOR_CERTIFICATE_UNTRUSTED",
            "Das Zertifikat der Signatur ist nicht von der Betreiber-CA ausgestellt.",
        )
    if cert.serial_number in revoked:
        return Refusal(
            "OPERATOR_CERTIFICATE_REVOKED", "Das Zertifikat der Signatur ist widerrufen."
        )
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return Refusal(
            "OPERATOR_CERTIFICATE_EXPIRED", "Das Zertifikat der Signatur ist nicht gültig."
        )
    public = cert.public_key()
    if not isinstance(public, Ed25519PublicKey):
        return NOT_SIGNED
    try:
        public.verify(signature, signing_input(seal, topic, key, headers, body))
    except InvalidSignature:
        return Refusal(
            "OPERATOR_SIGNATURE_INVALID",
            "Die Signatur passt nicht zu diesem Befehl (verändert oder übertragen).",
        )
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    roles = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not names or not roles:
        return NOT_SIGNED
    return Signer(str(names[0].value), str(roles[0].value))


def pinned(
    seal: Seal, topic: str, key: bytes | None, headers: Mapping[str, str], body: bytes
) -> str | Refusal:
    """The SHA-256 fingerprint of the certificate whose key signed this record, if the signature
    is valid over all it covers; the receiver compares it with the fingerprint it registered for
    the sender (another installation's CA is not one it trusts), or why there is none."""
    try:
        der = base64.b64decode(headers[seal.cert_header], validate=True)
        cert = x509.load_der_x509_certificate(der)
        signature = base64.b64decode(headers[seal.signature_header], validate=True)
    except (KeyError, ValueError, binascii.Error):
        return Refusal("SIGNATURE_MISSING", "Der Datensatz trägt keine gültige Signatur.")
    public = cert.public_key()
    if not isinstance(public, Ed25519PublicKey):
        return Refusal("SIGNATURE_MISSING", "Der Datensatz trägt keine gültige Signatur.")
    try:
        public.verify(signature, signing_input(seal, topic, key, headers, body))
    except InvalidSignature:
        return Refusal(
            "SIGNATURE_INVALID",
            "Die Signatur passt nicht zu diesem Datensatz (verändert oder übertragen).",
        )
    return hashlib.sha256(der).hexdigest()


# commands on topics are the Verfahrensbetreuung's; the data-protection officer, the Revision and
# the supervisory authority read, they do not decide or change anything
COMMAND_ROLES = frozenset({OperatorRole.BETRIEB.value})


def proven(
    signer: Signer | Refusal,
    named: str,
    allowed: frozenset[str] | None = None,
    roles: frozenset[str] = COMMAND_ROLES,
) -> Refusal | None:
    """None if the signer is the operator the event names, in a role that gives these commands
    (and one of `allowed`, if given); otherwise why the command is refused."""
    if isinstance(signer, Refusal):
        return signer
    if signer.role not in roles:
        return Refusal(
            "OPERATOR_ROLE_NOT_ALLOWED",
            f"Die Rolle {signer.role!r} gibt keine Befehle (nur {', '.join(sorted(roles))}).",
        )
    if signer.operator_id != named:
        return Refusal(
            "OPERATOR_MISMATCH",
            f"Der Befehl nennt {named!r}, signiert hat {signer.operator_id!r}.",
        )
    if allowed is not None and named not in allowed:
        return Refusal("UNKNOWN_OPERATOR", f"{named!r} darf diesen Befehl nicht geben.")
    return None
