"""Tenants, accounts, logins and command rights, as pure functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.provisioning import domain
from services.provisioning.domain import Account, Tenant
from shared.contract.events.account import (
    Abrufverfahren,
    Actor,
    ActorKind,
    AuthOutcome,
    CommandAction,
    NewProcedure,
    TenantStatus,
    UserKind,
    UserStatus,
    VerfahrenStatus,
)
from shared.contract.events.application import Behoerdenart, Zugangsart
from shared.contract.events.review import Datenumfang
from shared.platform import passwords
from shared.platform.signin import MAX_FAILED_LOGINS

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
TENANT = Tenant(
    tenant_id="t-1",
    authority_key="name:x|30159",
    authority_name="X",
    role=Zugangsart.EINFACHE_BEHOERDENAUSKUNFT,
    status=TenantStatus.ACTIVE,
    data_scope=Datenumfang.SATZ_1,
    logging_arrangement=None,
    conditions=[],
    client_certificate_fingerprint=None,
    application_id="A-1",
)
ADMIN = Account(
    user_id="u-1",
    tenant_id="t-1",
    username="j.weissmueller.t-1",
    kind=UserKind.ADMINISTRATOR,
    status=UserStatus.ACTIVE,
    first_name="Jördis",
    surname="Weißmüller",
    email="j@example.org",
    password_hash="h",
    must_change_password=False,
    password_expires_at=None,
)


def test_tenant_id_is_stable_per_authority_and_role() -> None:
    a = domain.tenant_id_for("name:x|1", Zugangsart.EINFACHE_BEHOERDENAUSKUNFT)
    assert a == domain.tenant_id_for("name:x|1", Zugangsart.EINFACHE_BEHOERDENAUSKUNFT)
    assert a != domain.tenant_id_for("name:x|1", Zugangsart.SICHERHEITSBEHOERDE)


def test_initial_passwords_are_long_unambiguous_and_unique() -> None:
    issued = {passwords.initial_password() for _ in range(2000)}
    assert len(issued) == 2000
    assert all(len(p) == 16 and set(p) <= set(passwords.PASSWORD_ALPHABET) for p in issued)
    assert not set("0O1lI") & set(passwords.PASSWORD_ALPHABET)


def test_username_folds_umlauts_and_names_the_tenant() -> None:
    name = domain.username_for("Jördis", "Weißmüller", "4f2a9c11-x", set())
    assert name == "j.weissmueller.4f2a9c"
    assert domain.username_for("Jördis", "Weißmüller", "4f2a9c11-x", {name}) == name + "2"


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Kurz1!", False),
        ("nurkleinbuchstabenundlang", False),
        ("Lang-genug-und-gemischt7", True),
        ("j.weissmueller.t-1Aa9!", False),
    ],
)
def test_password_policy(password: str, ok: bool) -> None:
    assert (passwords.password_policy_violations(password, "j.weissmueller.t-1") == []) is ok


def outcome(
    account: Account | None = ADMIN,
    tenant: Tenant | None = TENANT,
    ok: bool = True,
    fingerprint: str | None = None,
    now: datetime = NOW,
) -> AuthOutcome:
    return domain.login(account, tenant, ok, fingerprint, now).outcome


def test_login_outcomes_in_order() -> None:
    initial = replace(ADMIN, must_change_password=True, password_expires_at=NOW + timedelta(days=1))
    assert outcome() is AuthOutcome.AUTHENTICATED
    assert outcome(account=None) is AuthOutcome.INVALID_CREDENTIALS
    assert outcome(ok=False) is AuthOutcome.INVALID_CREDENTIALS
    # a locked account does not reveal itself to a wrong password
    assert (
        outcome(replace(ADMIN, status=UserStatus.LOCKED), ok=False)
        is AuthOutcome.INVALID_CREDENTIALS
    )
    assert outcome(replace(ADMIN, status=UserStatus.LOCKED)) is AuthOutcome.USER_LOCKED
    assert (
        outcome(tenant=replace(TENANT, status=TenantStatus.SUSPENDED))
        is AuthOutcome.TENANT_SUSPENDED
    )
    assert outcome(initial) is AuthOutcome.PASSWORD_CHANGE_REQUIRED
    assert outcome(initial, now=NOW + timedelta(days=1)) is AuthOutcome.INITIAL_PASSWORD_EXPIRED


def test_client_certificate_restriction() -> None:
    restricted = replace(TENANT, client_certificate_fingerprint="ab" * 32)
    assert outcome(tenant=restricted) is AuthOutcome.CLIENT_CERTIFICATE_REJECTED
    assert (
        outcome(tenant=restricted, fingerprint="cd" * 32) is AuthOutcome.CLIENT_CERTIFICATE_REJECTED
    )
    assert (
        outcome(tenant=restricted, fingerprint=":".join(["AB"] * 32)) is AuthOutcome.AUTHENTICATED
    )


def test_restricted_tenant_may_still_log_in_to_fix_its_deficiency() -> None:
    decision = domain.login(ADMIN, replace(TENANT, status=TenantStatus.RESTRICTED), True, None, NOW)
    assert decision.outcome is AuthOutcome.AUTHENTICATED
    assert decision.detail == ["tenant restricted"]


def test_five_failed_logins_lock_the_account() -> None:
    account = ADMIN
    for _ in range(MAX_FAILED_LOGINS - 1):
        account = domain.after_login(account, domain.login(account, TENANT, False, None, NOW))
        assert account is not None
        assert account.status is UserStatus.ACTIVE
    locked = domain.after_login(account, domain.login(account, TENANT, False, None, NOW))
    assert locked is not None
    assert locked.status is UserStatus.LOCKED
    # locked, it counts no further; the right password does not open it
    assert domain.after_login(locked, domain.login(locked, TENANT, False, None, NOW)) is None
    assert domain.login(locked, TENANT, True, None, NOW).outcome is AuthOutcome.USER_LOCKED


OPERATORS = frozenset({"ops-1"})


@pytest.mark.parametrize(
    ("actor", "action", "actor_account", "expected"),
    [
        (Actor(kind=ActorKind.OPERATOR, id="ops-1"), CommandAction.SUSPEND_TENANT, None, None),
        (
            Actor(kind=ActorKind.OPERATOR, id="ops-9"),
            CommandAction.SUSPEND_TENANT,
            None,
            "UNKNOWN_OPERATOR",
        ),
        (
            Actor(kind=ActorKind.OPERATOR, id="ops-1"),
            CommandAction.CREATE_USER,
            None,
            "ACTION_NOT_FOR_OPERATORS",
        ),
        (Actor(kind=ActorKind.ADMINISTRATOR, id="u-1"), CommandAction.CREATE_USER, ADMIN, None),
        (
            Actor(kind=ActorKind.ADMINISTRATOR, id="u-1"),
            CommandAction.LIFT_TENANT,
            ADMIN,
            "ACTION_NOT_FOR_ADMINISTRATORS",
        ),
        (
            Actor(kind=ActorKind.ADMINISTRATOR, id="u-1"),
            CommandAction.CREATE_USER,
            replace(ADMIN, tenant_id="t-2"),
            "NOT_AN_ACTIVE_ADMINISTRATOR_OF_TENANT",
        ),
        (
            Actor(kind=ActorKind.ADMINISTRATOR, id="u-1"),
            CommandAction.CREATE_USER,
            replace(ADMIN, kind=UserKind.USER),
            "NOT_AN_ACTIVE_ADMINISTRATOR_OF_TENANT",
        ),
        (
            Actor(kind=ActorKind.ADMINISTRATOR, id="u-1"),
            CommandAction.CREATE_USER,
            replace(ADMIN, status=UserStatus.LOCKED),
            "NOT_AN_ACTIVE_ADMINISTRATOR_OF_TENANT",
        ),
    ],
)
def test_who_may_give_which_command(actor, action, actor_account, expected) -> None:
    assert domain.authorise(actor, action, TENANT, actor_account, OPERATORS) == expected


def test_commands_for_an_unknown_tenant_are_refused() -> None:
    actor = Actor(kind=ActorKind.OPERATOR, id="ops-1")
    assert (
        domain.authorise(actor, CommandAction.LIFT_TENANT, None, None, OPERATORS)
        == "UNKNOWN_TENANT"
    )


def test_tenant_status_changes_need_a_reason_and_something_to_lift() -> None:
    no_reason = domain.change_tenant_status(TENANT, CommandAction.SUSPEND_TENANT, None)
    assert isinstance(no_reason, domain.Rejection)
    assert no_reason.code == "REASON_REQUIRED"
    nothing = domain.change_tenant_status(TENANT, CommandAction.LIFT_TENANT, "Prüfung beendet")
    assert isinstance(nothing, domain.Rejection)
    assert nothing.code == "NOT_RESTRICTED"
    restricted = domain.change_tenant_status(TENANT, CommandAction.RESTRICT_TENANT, "Mangel")
    assert isinstance(restricted, Tenant)
    assert (restricted.status, restricted.status_reason, restricted.version) == (
        TenantStatus.RESTRICTED,
        "Mangel",
        TENANT.version + 1,
    )
    lifted = domain.change_tenant_status(restricted, CommandAction.LIFT_TENANT, "behoben")
    assert isinstance(lifted, Tenant)
    assert lifted.status is TenantStatus.ACTIVE


def test_lock_and_unlock_only_users_of_the_tenant() -> None:
    stranger = domain.change_user_status(
        replace(ADMIN, tenant_id="t-2"), "t-1", CommandAction.LOCK_USER
    )
    assert isinstance(stranger, domain.Rejection)
    assert stranger.code == "UNKNOWN_USER"
    not_locked = domain.change_user_status(ADMIN, "t-1", CommandAction.UNLOCK_USER)
    assert isinstance(not_locked, domain.Rejection)
    assert not_locked.code == "USER_NOT_LOCKED"
    locked = domain.change_user_status(
        replace(ADMIN, failed_logins=5), "t-1", CommandAction.LOCK_USER
    )
    assert isinstance(locked, Account)
    assert locked.status is UserStatus.LOCKED
    unlocked = domain.change_user_status(locked, "t-1", CommandAction.UNLOCK_USER)
    assert isinstance(unlocked, Account)
    assert (unlocked.status, unlocked.failed_logins) == (UserStatus.ACTIVE, 0)


def test_reset_only_for_the_current_administrator_with_smime() -> None:
    replaced = replace(ADMIN, status=UserStatus.REPLACED, smime_certificate_pem="PEM")
    user = replace(ADMIN, user_id="u-2", kind=UserKind.USER, smime_certificate_pem="PEM")
    assert domain.reset_target([replaced, user]) == domain.Rejection(
        "NO_ADMINISTRATOR", "Der Mandant hat keine Administratorin bzw. keinen Administrator."
    )
    no_smime = domain.reset_target([replaced, ADMIN])
    assert isinstance(no_smime, domain.Rejection)
    assert no_smime.code == "NO_SECURE_MAIL_ADDRESS"
    current = replace(ADMIN, smime_certificate_pem="PEM")
    assert domain.reset_target([replaced, user, current]) == current


# -- § 34a Abs. 6 BMG authorisation and machine procedures (NMeldVO 2022 § 26 Abs. 2) -----------

USER = replace(ADMIN, user_id="u-2", username="s.user.t-1", kind=UserKind.USER)


@pytest.mark.parametrize(
    ("kind", "granted"),
    [
        (Behoerdenart.POLIZEI, True),  # § 34 Abs. 4 Satz 1 Nr. 1
        (Behoerdenart.VERFASSUNGSSCHUTZ, True),  # Nr. 6
        (Behoerdenart.ZOLLFAHNDUNG, True),  # Nr. 9
        (Behoerdenart.STAATSANWALTSCHAFT, False),  # Nr. 2: not in § 34a Abs. 6
        (Behoerdenart.KOMMUNALVERWALTUNG, False),
        (None, False),
    ],
    ids=lambda v: f"§ 34a Abs. 6 BMG: {v}" if not isinstance(v, bool) else str(v),
)
def test_sperrdaten_authorisation_only_where_34a_abs_6_allows_it(
    kind: Behoerdenart | None, granted: bool
) -> None:
    tenant = replace(TENANT, authority_kind=kind)
    result = domain.change_grant(USER, tenant, CommandAction.GRANT_SPERRDATEN)
    if granted:
        assert isinstance(result, Account)
        assert result.sperrdaten_berechtigt is True
        revoked = domain.change_grant(result, tenant, CommandAction.REVOKE_SPERRDATEN)
        assert isinstance(revoked, Account)
        assert revoked.sperrdaten_berechtigt is False
    else:
        assert isinstance(result, domain.Rejection)
        assert result.code == "SPERRDATEN_NICHT_ZULAESSIG"


def test_a_user_of_another_tenant_cannot_be_authorised() -> None:
    tenant = replace(TENANT, authority_kind=Behoerdenart.POLIZEI)
    other = replace(USER, tenant_id="t-2")
    result = domain.change_grant(other, tenant, CommandAction.GRANT_SPERRDATEN)
    assert isinstance(result, domain.Rejection)
    assert result.code == "UNKNOWN_USER"


def test_procedures_are_registered_once_with_a_sha256_fingerprint() -> None:
    new = NewProcedure(
        name="OK.EWO", verantwortliche_person="R. Ahrens", certificate_fingerprint="AB:" * 31 + "AB"
    )
    v = domain.register_procedure([], new)
    assert isinstance(v, Abrufverfahren)
    assert v.certificate_fingerprint == "ab" * 32
    assert v.status is VerfahrenStatus.ACTIVE
    again = domain.register_procedure([v], new)
    assert isinstance(again, domain.Rejection)
    assert again.code == "PROCEDURE_EXISTS"
    bad = domain.register_procedure([], new.model_copy(update={"certificate_fingerprint": "xyz"}))
    assert isinstance(bad, domain.Rejection)
    assert bad.code == "FINGERPRINT_INVALID"
    locked = domain.change_procedure_status([v], "OK.EWO", CommandAction.LOCK_PROCEDURE)
    assert isinstance(locked, Abrufverfahren)
    assert locked.status is VerfahrenStatus.LOCKED
    unknown = domain.change_procedure_status([v], "Andere", CommandAction.LOCK_PROCEDURE)
    assert isinstance(unknown, domain.Rejection)


def test_administrators_manage_their_procedures_and_authorisations() -> None:
    for action in (CommandAction.REGISTER_PROCEDURE, CommandAction.GRANT_SPERRDATEN):
        admin = Actor(kind=ActorKind.ADMINISTRATOR, id="u-1")
        operator = Actor(kind=ActorKind.OPERATOR, id="op")
        assert domain.authorise(admin, action, TENANT, ADMIN, frozenset()) is None
        assert domain.authorise(operator, action, TENANT, None, frozenset({"op"})) is None
