"""Sealing a secret for one service: X25519 key agreement with a fresh ephemeral key, HKDF-SHA256,
AES-256-GCM. Only the holder of the recipient's private key can open it. The associated data binds
the box to its context (e.g. the user id), so a box cannot be moved to another event."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"meldespiegel sealed secret v1"
_RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


class SealError(ValueError):
    """The box is malformed, or not for this key or context."""


def _key(shared: bytes, ephemeral: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral, info=_INFO).derive(shared)


def seal(recipient_public_key: bytes, secret: bytes, context: bytes) -> str:
    ephemeral = X25519PrivateKey.generate()
    epk = ephemeral.public_key().public_bytes(*_RAW)
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public_key))
    nonce = os.urandom(12)
    box = AESGCM(_key(shared, epk)).encrypt(nonce, secret, context)
    return base64.b64encode(epk + nonce + box).decode("ascii")


def open_sealed(private_key: X25519PrivateKey, sealed: str, context: bytes) -> bytes:
    try:
        raw = base64.b64decode(sealed, validate=True)
        epk, nonce, box = raw[:32], raw[32:44], raw[44:]
        shared = private_key.exchange(X25519PublicKey.from_public_bytes(epk))
        return AESGCM(_key(shared, epk)).decrypt(nonce, box, context)
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
