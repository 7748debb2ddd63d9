"""Signed-in identities for tests: access tokens signed with the installation's token key, as the
authentication API would issue them."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.contract.events.account import Berechtigung, OperatorRole
from shared.platform.operator_signatures import OperatorKey
from shared.platform.pki import TOKEN_KEY, init_operator, load_ed25519_key, load_operator_key
from shared.platform.settings import get_settings
from shared.platform.tokens import Identity, issue


def signed(
    *,
    username: str,
    tenant_id: str | None,
    roles: list[str],
    authorisations: list[str],
    now: datetime,
) -> tuple[str, Identity]:
    key = load_ed25519_key(get_settings().pki_dir / TOKEN_KEY)
    return issue(
        key,
        user_id=f"u-{username}",
        username=username,
        tenant_id=tenant_id,
        roles=roles,
        authorisations=authorisations,
        now=now,
    )


def operator(role: OperatorRole, now: datetime, username: str = "") -> tuple[str, Identity]:
    return signed(
        username=username or f"{role.value}-test",
        tenant_id=None,
        roles=[role.value],
        authorisations=[],
        now=now,
    )


def tenant_user(
    tenant_id: str, now: datetime, *, admin: bool = True, auswertung: bool = False
) -> tuple[str, Identity]:
    grants = [Berechtigung.AUSWERTUNG.value] if admin or auswertung else []
    return signed(
        username=f"{'admin' if admin else 'user'}.{tenant_id[:8]}",
        tenant_id=tenant_id,
        roles=["administrator" if admin else "user"],
        authorisations=grants,
        now=now,
    )


# the fast tier's services run on clocks set in the past; the certificates hold for them too
VALID_FROM = datetime(2020, 1, 1, tzinfo=UTC)


def operator_key(operator_id: str, role: str = OperatorRole.BETRIEB.value) -> OperatorKey:
    """An operator's signing key and certificate from the installation's operator CA (issued
    once, under the PKI directory, as `python -m shared.platform.pki operator` does)."""
    pki = get_settings().pki_dir
    init_operator(pki, operator_id, role, valid_from=VALID_FROM)
    key = load_operator_key(pki, operator_id)
    assert key.role == role, f"{operator_id} has a certificate for {key.role}, not {role}"
    return key
