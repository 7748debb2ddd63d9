"""Operator signatures (`shared.platform.operator_signatures`): a command is the named operator's
only with a valid signature of a certificate the operator CA issued, over exactly this record."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from shared.contract.envelope import OPERATOR_SIGNATURE_HEADER
from shared.platform import operator_signatures as sig
from shared.platform.pki import (
    CA_CERT,
    CA_KEY,
    OPERATORS_CRL,
    OPERATORS_DIR,
    init,
    init_operator,
    issue_operator,
    load_operator_key,
    load_revoked,
    make_ca,
    revoke_operator,
)
from shared.platform.settings import get_settings
from tests.identities import VALID_FROM, operator_key

NOW = dt.datetime.now(dt.UTC)
TOPIC, KEY, BODY = "min.account.command.v1", b"tenant-1", b'{"action": "suspend_tenant"}'
HEADERS = {"ce_id": "e-1", "ce_type": "t", "ce_time": "2026-12-05T10:00:00+00:00"}


def ca() -> x509.Certificate:
    return x509.load_pem_x509_certificate((get_settings().pki_dir / CA_CERT).read_bytes())


def signed(seal: sig.Seal = sig.COMMAND, operator: str = "op-a", role: str = "betrieb") -> dict:
    key = operator_key(operator, role)
    return HEADERS | key.sign(seal, TOPIC, KEY, HEADERS, BODY)


def test_a_signed_command_proves_its_operator_and_role() -> None:
    signer = sig.signer_of(sig.COMMAND, ca(), TOPIC, KEY, signed(), BODY, NOW)
    assert signer == sig.Signer("op-a", "betrieb")
    assert sig.proven(signer, "op-a") is None
    assert sig.proven(signer, "op-a", frozenset({"op-a"})) is None


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"body": b'{"action": "lift_tenant"}'}, "OPERATOR_SIGNATURE_INVALID"),
        ({"key": b"tenant-2"}, "OPERATOR_SIGNATURE_INVALID"),
        ({"topic": "min.review.manual-decision.v1"}, "OPERATOR_SIGNATURE_INVALID"),
        ({"ce_id": "e-2"}, "OPERATOR_SIGNATURE_INVALID"),
    ],
)
def test_a_signature_does_not_travel_to_another_record(change: dict, code: str) -> None:
    headers = signed() | {k: v for k, v in change.items() if k.startswith("ce_")}
    signer = sig.signer_of(
        sig.COMMAND,
        ca(),
        change.get("topic", TOPIC),
        change.get("key", KEY),
        headers,
        change.get("body", BODY),
        NOW,
    )
    assert isinstance(signer, sig.Refusal)
    assert signer.code == code


def test_no_signature_or_garbage_is_not_proven() -> None:
    for headers in (HEADERS, signed() | {OPERATOR_SIGNATURE_HEADER: "%%%"}):
        assert sig.signer_of(sig.COMMAND, ca(), TOPIC, KEY, headers, BODY, NOW) == sig.NOT_SIGNED


def _key(key_pem: bytes, cert_pem: bytes) -> sig.OperatorKey:
    private = load_pem_private_key(key_pem, None)
    assert isinstance(private, Ed25519PrivateKey)
    return sig.OperatorKey(private, x509.load_pem_x509_certificate(cert_pem))


def test_a_certificate_of_another_ca_is_untrusted() -> None:
    other_cert, other_key = make_ca()
    forged = _key(*issue_operator(other_cert, other_key, "op-a", "betrieb"))
    headers = HEADERS | forged.sign(sig.COMMAND, TOPIC, KEY, HEADERS, BODY)
    signer = sig.signer_of(sig.COMMAND, ca(), TOPIC, KEY, headers, BODY, NOW)
    assert isinstance(signer, sig.Refusal)
    assert signer.code == "OPERATOR_CERTIFICATE_UNTRUSTED"


def test_an_expired_certificate_proves_nothing() -> None:
    pki = get_settings().pki_dir
    key = _key(
        *issue_operator(
            (pki / CA_CERT).read_bytes(), (pki / CA_KEY).read_bytes(), "op-old", "betrieb", days=1
        )
    )
    headers = HEADERS | key.sign(sig.COMMAND, TOPIC, KEY, HEADERS, BODY)
    later = NOW + dt.timedelta(days=3)
    signer = sig.signer_of(sig.COMMAND, ca(), TOPIC, KEY, headers, BODY, later)
    assert isinstance(signer, sig.Refusal)
    assert signer.code == "OPERATOR_CERTIFICATE_EXPIRED"


def test_the_named_operator_the_role_and_the_list_decide() -> None:
    other = sig.signer_of(sig.COMMAND, ca(), TOPIC, KEY, signed(operator="op-b"), BODY, NOW)
    mismatch = sig.proven(other, "op-a")
    assert mismatch is not None
    assert mismatch.code == "OPERATOR_MISMATCH"
    reader = sig.signer_of(
        sig.COMMAND, ca(), TOPIC, KEY, signed(operator="dsb-a", role="datenschutz"), BODY, NOW
    )
    refusal = sig.proven(reader, "dsb-a")
    assert refusal is not None
    assert refusal.code == "OPERATOR_ROLE_NOT_ALLOWED"
    ok = sig.signer_of(sig.COMMAND, ca(), TOPIC, KEY, signed(), BODY, NOW)
    unlisted = sig.proven(ok, "op-a", frozenset({"op-z"}))
    assert unlisted is not None
    assert unlisted.code == "UNKNOWN_OPERATOR"


def test_a_redrive_signature_covers_the_redrive_headers_and_leaves_the_command_signature() -> None:
    command = signed()
    redrive_headers = command | {
        "redriven_from": "min.account.command.v1.dlq/0/7",
        "redriven_by": "op-r",
        "redriven_at": "2026-12-05T11:00:00+00:00",
    }
    copy = redrive_headers | operator_key("op-r").sign(
        sig.REDRIVE, TOPIC, KEY, redrive_headers, BODY
    )
    assert sig.signer_of(sig.COMMAND, ca(), TOPIC, KEY, copy, BODY, NOW) == sig.Signer(
        "op-a", "betrieb"
    )
    assert sig.signer_of(sig.REDRIVE, ca(), TOPIC, KEY, copy, BODY, NOW) == sig.Signer(
        "op-r", "betrieb"
    )
    moved = copy | {"redriven_by": "op-a"}
    refused = sig.signer_of(sig.REDRIVE, ca(), TOPIC, KEY, moved, BODY, NOW)
    assert isinstance(refused, sig.Refusal)
    assert base64.b64decode(copy[sig.REDRIVE.signature_header])  # a real signature travels


def test_a_revoked_certificate_proves_nothing_and_the_list_is_the_cas(tmp_path: Path) -> None:
    """An operator who left, or whose key was lost, is revoked on the operator CA's list."""
    pki = tmp_path / "pki"
    init(pki)
    init_operator(pki, "op-gone", "betrieb", valid_from=VALID_FROM)
    init_operator(pki, "op-stays", "betrieb", valid_from=VALID_FROM)
    ca_cert = x509.load_pem_x509_certificate((pki / CA_CERT).read_bytes())
    gone, stays = load_operator_key(pki, "op-gone"), load_operator_key(pki, "op-stays")
    assert load_revoked(pki) == frozenset()

    serial = revoke_operator(pki, "op-gone")
    assert serial == gone.certificate.serial_number
    revoked = load_revoked(pki)
    assert revoked == {serial}
    headers = HEADERS | gone.sign(sig.COMMAND, TOPIC, KEY, HEADERS, BODY)
    refused = sig.signer_of(sig.COMMAND, ca_cert, TOPIC, KEY, headers, BODY, NOW, revoked)
    assert isinstance(refused, sig.Refusal)
    assert refused.code == "OPERATOR_CERTIFICATE_REVOKED"
    others = HEADERS | stays.sign(sig.COMMAND, TOPIC, KEY, HEADERS, BODY)
    assert sig.signer_of(sig.COMMAND, ca_cert, TOPIC, KEY, others, BODY, NOW, revoked) == (
        sig.Signer("op-stays", "betrieb")
    )
    revoke_operator(pki, "op-stays")  # a second revocation keeps the first
    assert load_revoked(pki) == {serial, stays.certificate.serial_number}

    # a list some other CA signed is refused, not taken for an empty one
    forged_pki = tmp_path / "other"
    init(forged_pki)
    (forged_pki / OPERATORS_DIR).mkdir()
    for name in ("op-gone.key", "op-gone.pem"):
        (forged_pki / OPERATORS_DIR / name).write_bytes((pki / OPERATORS_DIR / name).read_bytes())
    revoke_operator(forged_pki, "op-gone")
    (pki / OPERATORS_CRL).write_bytes((forged_pki / OPERATORS_CRL).read_bytes())
    with pytest.raises(ValueError, match="not signed by the operator CA"):
        load_revoked(pki)
