"""Access tokens: what a read API trusts about who is asking.

The authentication API signs a short-lived JWT (EdDSA over Ed25519, RFC 8037, with PyJWT) after a
successful sign-in; the read APIs hold only the public key and derive the reader from the token
alone. A token names the user, the tenant (none for an operator account), the roles and the
authorisations; nothing a client sends beside it is believed. Refresh tokens are not JWTs: they
are random, stored hashed with their session, and used once (see provisioning)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ISSUER = "meldespiegel"
ALGORITHM = "EdDSA"
ACCESS_TTL = timedelta(minutes=15)
LEEWAY_S = 30  # clocks of the authentication API and a read API may differ a little
# required claims; "tenant" must be present too, but is null for an operator account, which
# PyJWT's own check would take for missing
CLAIMS = ("sub", "preferred_username", "roles", "authorisations", "iat", "exp", "iss")


class TokenRefused(ValueError):
    """The token is missing, malformed, forged, expired or not ours; the reason is for the log,
    the caller answers 401 without it."""


@dataclass(frozen=True)
class Identity:
    """Who a valid token says the caller is."""

    user_id: str
    username: str
    tenant_id: str | None  # None: an operator account (Betrieb, Datenschutz, Revision, Aufsicht)
    roles: tuple[str, ...]
    authorisations: tuple[str, ...]
    expires_at: datetime
    token_id: str = ""

    @property
    def principal(self) -> str:
        """How logs and audit events name the caller."""
        if self.tenant_id is None:
            return f"operator:{self.username}"
        return f"tenant:{self.tenant_id}/{self.username}"

    def has(self, authorisation: str) -> bool:
        return authorisation in self.authorisations


def issue(
    key: Ed25519PrivateKey,
    *,
    user_id: str,
    username: str,
    tenant_id: str | None,
    roles: Iterable[str],
    authorisations: Iterable[str],
    now: datetime,
    ttl: timedelta = ACCESS_TTL,
    issuer: str = ISSUER,
) -> tuple[str, Identity]:
    identity = Identity(
        user_id=user_id,
        username=username,
        tenant_id=tenant_id,
        roles=tuple(sorted(roles)),
        authorisations=tuple(sorted(authorisations)),
        expires_at=(now + ttl).replace(microsecond=0),
        token_id=uuid.uuid4().hex,
    )
    claims = {
        "iss": issuer,
        "sub": user_id,
        "preferred_username": username,
        "tenant": tenant_id,
        "roles": list(identity.roles),
        "authorisations": list(identity.authorisations),
        "iat": int(now.timestamp()),
        "exp": int(identity.expires_at.timestamp()),
        "jti": identity.token_id,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM), identity


def verify(
    public_key: Ed25519PublicKey, token: str, now: datetime, issuer: str = ISSUER
) -> Identity:
    """The identity the token proves at `now` (the service's clock, not the wall clock), or
    TokenRefused."""
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],  # never "none", never a key the token names itself
            issuer=issuer,
            options={"require": list(CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenRefused(f"{type(exc).__name__}: {exc}") from None
    if "tenant" not in claims:
        raise TokenRefused("the token names no tenant claim")
    try:
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
        issued_at = datetime.fromtimestamp(int(claims["iat"]), UTC)
        tenant = claims["tenant"]
        identity = Identity(
            user_id=_text(claims["sub"]),
            username=_text(claims["preferred_username"]),
            tenant_id=None if tenant is None else _text(tenant),
            roles=tuple(_text(r) for r in claims["roles"]),
            authorisations=tuple(_text(a) for a in claims["authorisations"]),
            expires_at=expires_at,
            token_id=str(claims.get("jti", "")),
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise TokenRefused(f"malformed claims: {exc}") from None
    leeway = timedelta(seconds=LEEWAY_S)
    if now >= expires_at + leeway:
        raise TokenRefused("expired")
    if issued_at > now + leeway:
        raise TokenRefused("issued in the future")
    return identity


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a claim that should be text is not")
    return value


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
