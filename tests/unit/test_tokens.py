"""Access tokens (`shared.platform.tokens`): only a token signed with the authentication API's key,
unexpired by the reading service's clock, and naming who it is for, is an identity."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.platform import tokens
from shared.platform.tokens import Identity, TokenRefused, bearer, issue, verify
from tests.factories import NOW

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()


def signed(**changes: object) -> str:
    claims = {
        "user_id": "u-1",
        "username": "a.admin.4f2a9c",
        "tenant_id": "t-1",
        "roles": ["administrator"],
        "authorisations": ["auswertung"],
        "now": NOW,
    } | changes
    return issue(KEY, **claims)[0]  # type: ignore[arg-type]


def test_a_token_names_user_tenant_roles_and_authorisations() -> None:
    token, issued = issue(
        KEY,
        user_id="u-1",
        username="a.admin.4f2a9c",
        tenant_id="t-1",
        roles=["administrator"],
        authorisations=["sperrdaten", "auswertung"],
        now=NOW,
    )
    identity = verify(PUBLIC, token, NOW + timedelta(minutes=1))
    assert identity == issued
    assert identity.principal == "tenant:t-1/a.admin.4f2a9c"
    assert identity.authorisations == ("auswertung", "sperrdaten")
    assert identity.expires_at == NOW.replace(microsecond=0) + tokens.ACCESS_TTL


def test_an_operator_token_has_no_tenant() -> None:
    token = signed(tenant_id=None, roles=["datenschutz"], authorisations=[], username="dsb")
    identity = verify(PUBLIC, token, NOW)
    assert identity.tenant_id is None
    assert identity.principal == "operator:dsb"


def test_an_expired_token_is_refused_by_the_services_clock() -> None:
    token = signed()
    late = NOW + tokens.ACCESS_TTL + timedelta(seconds=tokens.LEEWAY_S)
    verify(PUBLIC, token, late - timedelta(seconds=1))
    with pytest.raises(TokenRefused, match="expired"):
        verify(PUBLIC, token, late)


def test_a_token_from_the_future_is_refused() -> None:
    with pytest.raises(TokenRefused, match="future"):
        verify(PUBLIC, signed(now=NOW + timedelta(hours=1)), NOW)


def test_a_token_signed_with_another_key_is_refused() -> None:
    forged = issue(
        Ed25519PrivateKey.generate(),
        user_id="u-1",
        username="x",
        tenant_id="t-2",
        roles=["administrator"],
        authorisations=["auswertung"],
        now=NOW,
    )[0]
    with pytest.raises(TokenRefused):
        verify(PUBLIC, forged, NOW)


def _part(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_changed_claim_breaks_the_signature() -> None:
    header, payload, signature = signed().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tenant"] = "t-2"  # another tenant's log
    with pytest.raises(TokenRefused):
        verify(PUBLIC, f"{header}.{_part(claims)}.{signature}", NOW)


def test_an_unsigned_token_is_refused() -> None:
    claims = jwt.decode(signed(), options={"verify_signature": False})
    unsigned = f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(claims)}."
    with pytest.raises(TokenRefused):
        verify(PUBLIC, unsigned, NOW)


def test_a_token_of_another_issuer_is_refused() -> None:
    with pytest.raises(TokenRefused):
        verify(PUBLIC, signed(issuer="someone-else"), NOW)


@pytest.mark.parametrize("garbage", ["", "a.b.c", "x" * 5000, "..", "Bearer", "\x00"])
def test_garbage_is_refused_not_crashed_on(garbage: str) -> None:
    with pytest.raises(TokenRefused):
        verify(PUBLIC, garbage, NOW)


def test_claims_that_are_not_text_are_refused() -> None:
    claims = jwt.decode(signed(), options={"verify_signature": False}) | {"roles": [1, 2]}
    with pytest.raises(TokenRefused, match="malformed"):
        verify(PUBLIC, jwt.encode(claims, KEY, algorithm="EdDSA"), NOW)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer(header) == token


def test_an_identity_cannot_be_changed_after_verification() -> None:
    token = signed()
    identity = verify(PUBLIC, token, NOW)
    assert isinstance(identity, Identity)
    assert {identity: "read"}[verify(PUBLIC, token, NOW)] == "read"  # one token, one identity
    assert verify(PUBLIC, signed(), NOW) != identity  # another token (its own id), another
    with pytest.raises(AttributeError):
        identity.tenant_id = "t-2"  # type: ignore[misc]
