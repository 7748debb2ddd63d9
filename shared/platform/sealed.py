"""Sealing a secret or an answer for one key holder with HPKE (RFC 9180), so that a recipient can
open it with any language's HPKE library:

- mode_base, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM (KEM 0x0020, KDF 0x0001,
  AEAD 0x0002), single-shot;
- `info` is the context the box is bound to (a Vorgangsnummer, an account and purpose), so a box
  cannot be moved to another event; no associated data;
- the box is base64 (standard alphabet, padded) of the encapsulated key (32 bytes) followed by the
  ciphertext with its 16-byte tag.

Boxes sealed before HPKE (an X25519 exchange, HKDF-SHA256 with its own info, AES-256-GCM with the
context as associated data) are still opened, so that nothing in flight during an upgrade is lost.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw
_BEFORE_HPKE_INFO = b"meldespiegel sealed secret v1"


class SealError(ValueError):
    """The box is malformed, or not for this key or context."""


def seal(recipient_public_key: bytes, secret: bytes, context: bytes) -> str:
    box = SUITE.encrypt(secret, X25519PublicKey.from_public_bytes(recipient_public_key), context)
    return base64.b64encode(box).decode("ascii")


def open_sealed(private_key: X25519PrivateKey, sealed: str, context: bytes) -> bytes:
    try:
        raw = base64.b64decode(sealed, validate=True)
    except Exception as exc:
        raise SealError("sealed secret cannot be opened") from exc
    try:
        return SUITE.decrypt(raw, private_key, context)
    except Exception:  # not an HPKE box for this key and context; perhaps one from before HPKE
        pass
    try:
        epk, nonce, box = raw[:32], raw[32:44], raw[44:]
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(epk))
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk, info=_BEFORE_HPKE_INFO)
        return AESGCM(key.derive(shared)).decrypt(nonce, box, context)
    except Exception as exc:  # any failure means: not openable here
        raise SealError("sealed secret cannot be opened") from exc


def load_private_key(pem: bytes) -> X25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, X25519PrivateKey):
        raise SealError("not an X25519 private key")
    return key


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(*_RAW)


def credential_context(user_id: str, purpose: str) -> bytes:
    """What a sealed password is bound to: the account and why it was issued."""
    return f"{user_id}|{purpose}".encode()
