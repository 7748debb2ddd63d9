"""Passwords of every account the system keeps (tenant users in provisioning, requesters in the
portal): the initial password printed on a letter, the policy a new one must meet, and Argon2id
hashing off the event loop."""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
import unicodedata
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# no 0/O, 1/l/I: the password is typed from a printed letter
PASSWORD_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
INITIAL_PASSWORD_LENGTH = 16  # 16 × log2(56) ≈ 93 bits
MIN_PASSWORD_LENGTH = 12

_hasher = PasswordHasher()  # Argon2id, the library's RFC 9106 low-memory profile


def initial_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(INITIAL_PASSWORD_LENGTH))


def password_expiry(now: datetime, valid_days: int) -> datetime:
    return now + timedelta(days=valid_days)


def ascii_slug(text: str) -> str:
    text = text.replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    text = text.replace("Ä", "ae").replace("Ö", "oe").replace("Ü", "ue")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "", folded)


def password_policy_violations(new: str, username: str) -> list[str]:
    """BSI-style minimum: length, character classes, not the account name."""
    problems = []
    if len(new) < MIN_PASSWORD_LENGTH:
        problems.append(f"mindestens {MIN_PASSWORD_LENGTH} Zeichen")
    classes = [
        any(c.islower() for c in new),
        any(c.isupper() for c in new),
        any(c.isdigit() for c in new),
        any(not c.isalnum() for c in new),
    ]
    if sum(classes) < 3:
        problems.append(
            "mindestens drei der Zeichenarten Klein-, Großbuchstaben, Ziffern, Sonderzeichen"
        )
    if username.lower() in new.lower():
        problems.append("darf den Accountnamen nicht enthalten")
    return problems


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


async def verify_password(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        # an unknown account name costs the same Argon2 verify as a known one (against a hash
        # no password matches), so the time an answer takes does not tell which names exist
        await asyncio.to_thread(lambda: _verify(_dummy_hash(), password))
        return False
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
