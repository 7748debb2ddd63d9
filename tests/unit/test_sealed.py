"""Sealed secrets and answers are HPKE (RFC 9180) boxes bound to their context, and boxes sealed
before HPKE still open (nothing in flight is lost by an upgrade)."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given
from hypothesis import strategies as st

from shared.platform.sealed import SealError, open_sealed, public_bytes, seal

KEY = X25519PrivateKey.generate()


@given(secret=st.binary(max_size=2000), context=st.binary(max_size=100))
def test_a_box_opens_with_its_key_and_context_only(secret: bytes, context: bytes) -> None:
    box = seal(public_bytes(KEY), secret, context)
    assert open_sealed(KEY, box, context) == secret
    with pytest.raises(SealError):
        open_sealed(KEY, box, context + b"x")
    with pytest.raises(SealError):
        open_sealed(X25519PrivateKey.generate(), box, context)


def test_the_box_is_rfc_9180_base_mode_with_the_documented_suite() -> None:
    """enc (32 bytes) then ciphertext and tag, opened by the suite alone with info = context."""
    raw = base64.b64decode(seal(public_bytes(KEY), b"Meyer, Hannover", b"03-20261205-X"))
    assert len(raw) == 32 + len(b"Meyer, Hannover") + 16
    suite = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
    assert suite.decrypt(raw, KEY, b"03-20261205-X") == b"Meyer, Hannover"


def test_a_tampered_or_malformed_box_is_refused() -> None:
    raw = bytearray(base64.b64decode(seal(public_bytes(KEY), b"secret", b"ctx")))
    raw[40] ^= 1
    for box in (base64.b64encode(bytes(raw)).decode(), "not base64!", "", "AAAA"):
        with pytest.raises(SealError):
            open_sealed(KEY, box, b"ctx")


def test_a_box_sealed_before_hpke_still_opens() -> None:
    """The earlier format: X25519 with an ephemeral key, HKDF-SHA256 (salt: the ephemeral public
    key), AES-256-GCM with the context as associated data."""
    ephemeral = X25519PrivateKey.generate()
    epk = public_bytes(ephemeral)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(public_bytes(KEY)))
    key = HKDF(hashes.SHA256(), 32, salt=epk, info=b"meldespiegel sealed secret v1").derive(shared)
    nonce = os.urandom(12)
    old = base64.b64encode(epk + nonce + AESGCM(key).encrypt(nonce, b"Initial", b"u|p")).decode()
    assert open_sealed(KEY, old, b"u|p") == b"Initial"
    with pytest.raises(SealError):
        open_sealed(KEY, old, b"u|other")
