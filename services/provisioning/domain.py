"""Tenants, accounts, logins and account commands: the rules, without I/O.

Seed 000: one tenant and one Hauptadministrator per authority and role; the account name goes by
e-mail, the initial password by personal post; the first login forces a password change; access may
be restricted to a client certificate; an administrator's password is reset only where a secure
mail (S/MIME) address is on file; access can be restricted or suspended and lifted again. The
administrator manages the authority's own users.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shared.contract.events.account import (
    Abrufverfahren,
    Actor,
    ActorKind,
    AuthOutcome,
    Berechtigung,
    CommandAction,
    NewProcedure,
    OperatorRole,
    TenantStatus,
    UserKind,
    UserStatus,
    VerfahrenStatus,
    Zustellweg,
)
from shared.contract.events.application import Behoerdenart, Protokollierung, Zugangsart
from shared.contract.events.review import Auflage, Datenumfang
from shared.law.abruf import SPERRE_ABS_6_STELLEN
from shared.platform.fingerprints import normalise_fingerprint
from shared.platform.passwords import ascii_slug
from shared.platform.signin import Credentials, Decision, sign_in
from shared.platform.tokens import Identity

TENANT_NAMESPACE = uuid.UUID("5b7e3d0c-2f4a-4c1e-9a57-0d1e6b3c8f21")

# the administrator manages the authority's own users and procedures, and passes on the head of
# the body's § 34a Abs. 6 authorisation; operators may do the same for support
ADMIN_ACTIONS = {
    CommandAction.CREATE_USER,
    CommandAction.LOCK_USER,
    CommandAction.UNLOCK_USER,
    CommandAction.GRANT_SPERRDATEN,
    CommandAction.REVOKE_SPERRDATEN,
    CommandAction.GRANT_AUSWERTUNG,
    CommandAction.REVOKE_AUSWERTUNG,
    CommandAction.REGISTER_PROCEDURE,
    CommandAction.LOCK_PROCEDURE,
    CommandAction.UNLOCK_PROCEDURE,
    CommandAction.REISSUE_INITIAL_PASSWORD,
    CommandAction.RESET_USER_PASSWORD,
    CommandAction.DELETE_USER,
    CommandAction.REVOKE_CERTIFICATE,
    CommandAction.REPLACE_CERTIFICATE,
}
OPERATOR_ACTIONS = set(CommandAction) - {CommandAction.CREATE_USER}


def tenant_id_for(authority_key: str, role: Zugangsart) -> str:
    """Stable: the same authority and role always name the same tenant."""
    return str(uuid.uuid5(TENANT_NAMESPACE, f"{authority_key}|{role.value}"))


def username_for(first_name: str, surname: str, tenant_id: str, taken: set[str]) -> str:
    """e.g. `j.weissmueller.4f2a9c`: the person, and which tenant the account belongs to."""
    base = f"{ascii_slug(first_name)[:1]}.{ascii_slug(surname)[:30]}.{tenant_id[:6]}"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    return candidate


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    authority_key: str
    authority_name: str
    role: Zugangsart
    status: TenantStatus
    data_scope: Datenumfang
    logging_arrangement: Protokollierung | None
    conditions: list[Auflage]
    client_certificate_fingerprint: str | None
    application_id: str
    status_reason: str | None = None
    version: int = 1
    authority_kind: Behoerdenart | None = None
    land: str | None = None  # another state's central body: the state it retrieves for


@dataclass(frozen=True)
class Account:
    user_id: str
    tenant_id: str | None  # None: an operator account
    username: str
    kind: UserKind
    status: UserStatus
    first_name: str
    surname: str
    email: str
    password_hash: str
    must_change_password: bool
    password_expires_at: datetime | None
    smime_certificate_pem: str | None = None
    certificate_fingerprint: str | None = None
    failed_logins: int = 0
    sperrdaten_berechtigt: bool = False
    auswertung_berechtigt: bool = False
    operator_role: OperatorRole | None = None


def credentials(account: Account, tenant: Tenant | None) -> Credentials:
    """What the one sign-in (`shared.platform.signin`) needs of a user and its tenant: a
    suspended tenant signs nobody in, a restricted one is told; a client certificate binds the
    user, or the whole tenant. An operator account has no tenant."""
    own = Credentials(
        failed_logins=account.failed_logins,
        active=account.status is UserStatus.ACTIVE,
        inactive_detail=account.status.value,
        must_change_password=account.must_change_password,
        password_expires_at=account.password_expires_at,
        required_fingerprint=account.certificate_fingerprint,
    )
    if tenant is None:
        return own
    return replace(
        own,
        required_fingerprint=own.required_fingerprint or tenant.client_certificate_fingerprint,
        suspended=(tenant.status_reason or "") if tenant.status is TenantStatus.SUSPENDED else None,
        notes=(f"tenant {tenant.status.value}",)
        if tenant.status is not TenantStatus.ACTIVE
        else (),
    )


def login(
    account: Account | None,
    tenant: Tenant | None,
    password_ok: bool,
    presented_fingerprint: str | None,
    now: datetime,
) -> Decision:
    known = (
        credentials(account, tenant)
        if account is not None and (tenant is not None or account.kind is UserKind.OPERATOR)
        else None
    )
    return sign_in(known, password_ok, presented_fingerprint, now)


# -- access tokens and sign-in sessions ------------------------------------------------------

SESSION_TTL = timedelta(hours=8)  # a working day; then the password is asked again


def token_grants(account: Account) -> tuple[list[str], list[str]]:
    """The roles and authorisations an access token names. A tenant administrator may evaluate
    the tenant's log by office; a user only with the authorisation."""
    if account.kind is UserKind.OPERATOR:
        assert account.operator_role is not None
        return [account.operator_role.value], []
    grants = []
    if account.sperrdaten_berechtigt:
        grants.append(Berechtigung.SPERRDATEN.value)
    if account.auswertung_berechtigt or account.kind is UserKind.ADMINISTRATOR:
        grants.append(Berechtigung.AUSWERTUNG.value)
    return [account.kind.value], grants


@dataclass(frozen=True)
class Session:
    """A sign-in that access tokens can be refreshed from; its refresh token is kept hashed."""

    session_id: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


def session_valid(session: Session | None, now: datetime) -> bool:
    return session is not None and session.ended_at is None and now < session.expires_at


def may_refresh(
    account: Account | None, tenant: Tenant | None, presented_fingerprint: str | None, now: datetime
) -> Decision:
    """A refresh honours what happened since the sign-in: a lock (by an administrator or after
    failed logins), a replaced administrator, a suspended tenant, a client certificate that no
    longer matches. No password is asked, so the decision is the sign-in's with the password
    taken as right and the certificate the refresh came with."""
    if account is None:
        return Decision(AuthOutcome.SESSION_INVALID)
    decision = login(account, tenant, True, presented_fingerprint, now)
    if decision.outcome is AuthOutcome.AUTHENTICATED:
        return replace(decision, outcome=AuthOutcome.TOKEN_REFRESHED)
    return decision


def operator_account(
    username: str,
    role: OperatorRole,
    first_name: str,
    surname: str,
    email: str,
    password_hash: str,
    expires_at: datetime,
    user_id: str,
) -> Account | Rejection:
    """An account of the operator's staff or of the supervisory authority: no tenant, one role,
    an initial password to change at the first sign-in."""
    if not re.fullmatch(r"[a-z][a-z0-9.\-]{2,63}", username):
        return Rejection(
            "USERNAME_INVALID",
            "Der Accountname besteht aus 3 bis 64 Kleinbuchstaben, Ziffern, Punkt oder "
            "Bindestrich.",
        )
    return Account(
        user_id=user_id,
        tenant_id=None,
        username=username,
        kind=UserKind.OPERATOR,
        status=UserStatus.ACTIVE,
        first_name=first_name,
        surname=surname,
        email=email,
        password_hash=password_hash,
        must_change_password=True,
        password_expires_at=expires_at,
        operator_role=role,
    )


def after_login(account: Account, decision: Decision) -> Account | None:
    """The account as the decision leaves it (failed logins counted or reset, locked at the
    fifth), or None if nothing changed."""
    status = UserStatus.LOCKED if decision.locked_now else account.status
    if (decision.failed_logins, status) == (account.failed_logins, account.status):
        return None
    return replace(account, failed_logins=decision.failed_logins, status=status)


def training_refusal(tenant: Tenant | None, requester: Account | None) -> tuple[str, str] | None:
    """Whether a training request can be recorded: it comes from an active administrator of an
    active (or restricted) tenant."""
    if tenant is None:
        return "UNKNOWN_TENANT", "Kein Mandant mit dieser Kennung."
    if tenant.status is TenantStatus.SUSPENDED:
        return "TENANT_SUSPENDED", "Der Zugang des Mandanten ist ausgesetzt."
    if (
        requester is None
        or requester.tenant_id != tenant.tenant_id
        or requester.kind is not UserKind.ADMINISTRATOR
        or requester.status is not UserStatus.ACTIVE
    ):
        return (
            "NOT_AN_ADMINISTRATOR",
            "Schulungen beantragt die Administratorin oder der Administrator des Mandanten.",
        )
    return None


def authorise(
    actor: Actor,
    action: CommandAction,
    tenant: Tenant | None,
    actor_account: Account | None,
    operators: frozenset[str],
) -> str | None:
    """None if the actor may do this; otherwise the rejection code."""
    if tenant is None:
        return "UNKNOWN_TENANT"
    if actor.kind is ActorKind.OPERATOR:
        if actor.id not in operators:
            return "UNKNOWN_OPERATOR"
        return None if action in OPERATOR_ACTIONS else "ACTION_NOT_FOR_OPERATORS"
    if (
        actor_account is None
        or actor_account.tenant_id != tenant.tenant_id
        or actor_account.kind is not UserKind.ADMINISTRATOR
        or actor_account.status is not UserStatus.ACTIVE
    ):
        return "NOT_AN_ACTIVE_ADMINISTRATOR_OF_TENANT"
    if tenant.status is TenantStatus.SUSPENDED:
        return "TENANT_SUSPENDED"
    return None if action in ADMIN_ACTIONS else "ACTION_NOT_FOR_ADMINISTRATORS"


@dataclass(frozen=True)
class Rejection:
    """Why a command cannot be carried out: a stable code and a German sentence."""

    code: str
    message: str


TENANT_STATUS_AFTER = {
    CommandAction.RESTRICT_TENANT: TenantStatus.RESTRICTED,
    CommandAction.SUSPEND_TENANT: TenantStatus.SUSPENDED,
    CommandAction.LIFT_TENANT: TenantStatus.ACTIVE,
}


def change_tenant_status(
    tenant: Tenant, action: CommandAction, reason: str | None
) -> Tenant | Rejection:
    """Restrict (security deficiency), suspend (suspected violation) or lift, always with a
    reason; lifting needs something to lift (seed 000)."""
    if not reason:
        return Rejection(
            "REASON_REQUIRED", "Einschränkung, Sperre und Aufhebung brauchen einen Grund."
        )
    status = TENANT_STATUS_AFTER[action]
    if status is TenantStatus.ACTIVE and tenant.status is TenantStatus.ACTIVE:
        return Rejection("NOT_RESTRICTED", "Der Mandant ist weder eingeschränkt noch gesperrt.")
    return replace(tenant, status=status, status_reason=reason, version=tenant.version + 1)


UNKNOWN_USER = Rejection("UNKNOWN_USER", "Diese Person gehört nicht zu diesem Mandanten.")
GONE = (UserStatus.DELETED, UserStatus.REPLACED)
NOT_ACTIVE = Rejection("USER_NOT_ACTIVE", "Der Account ist gelöscht oder ersetzt.")
# what a revoked client certificate leaves bound to the account: no certificate has this
# fingerprint, so the user cannot sign in until a new certificate replaces it
REVOKED_CERTIFICATE = "revoked"


def user_of(user: Account | None, tenant_id: str) -> Account | Rejection:
    """The user, if it belongs to this tenant."""
    if user is None or user.tenant_id != tenant_id:
        return UNKNOWN_USER
    return user


def change_user_status(
    user: Account | None, tenant_id: str, action: CommandAction
) -> Account | Rejection:
    """Lock or unlock a user of this tenant; unlocking also forgets failed logins."""
    user = user_of(user, tenant_id)
    if isinstance(user, Rejection):
        return user
    if user.status in GONE:
        return NOT_ACTIVE
    if action is CommandAction.LOCK_USER:
        return replace(user, status=UserStatus.LOCKED)
    if user.status is not UserStatus.LOCKED:
        return Rejection("USER_NOT_LOCKED", "Der Account ist nicht gesperrt.")
    return replace(user, status=UserStatus.ACTIVE, failed_logins=0)


def current_administrator(accounts: list[Account]) -> Account | None:
    return next(
        (
            a
            for a in accounts
            if a.kind is UserKind.ADMINISTRATOR and a.status is not UserStatus.REPLACED
        ),
        None,
    )


def reset_target(accounts: list[Account]) -> Account | Rejection:
    """The administrator whose password may be reset: only with a secure-mail (S/MIME) address
    on file, because the new password goes by encrypted mail (seed 000)."""
    admin = current_administrator(accounts)
    if admin is None:
        return Rejection(
            "NO_ADMINISTRATOR", "Der Mandant hat keine Administratorin bzw. keinen Administrator."
        )
    if not admin.smime_certificate_pem:
        return Rejection(
            "NO_SECURE_MAIL_ADDRESS",
            "Das Passwort der Administratorin bzw. des Administrators wird nur an "
            "eine E-Mail-Adresse mit S/MIME-Zertifikat zurückgesetzt; es ist keines "
            "hinterlegt.",
        )
    return admin


@dataclass(frozen=True)
class Grant:
    """An authorisation an administrator grants a user of the tenant, and who may have it."""

    field: str  # the Account field
    granted: CommandAction
    revoked: CommandAction
    authority_kinds: frozenset[Behoerdenart] | None  # None: any tenant
    refused: Rejection | None = None  # why a tenant of another kind may not grant it


GRANTS = (
    # § 34a Abs. 6 BMG: only police, Verfassungsschutz, BND, MAD and Zollfahndung (§ 34 Abs. 4
    # Satz 1 Nr. 1, 6–9) may have staff specially authorised to receive data despite a block
    Grant(
        "sperrdaten_berechtigt",
        CommandAction.GRANT_SPERRDATEN,
        CommandAction.REVOKE_SPERRDATEN,
        frozenset(SPERRE_ABS_6_STELLEN),
        Rejection(
            "SPERRDATEN_NICHT_ZULAESSIG",
            "Eine Ermächtigung nach § 34a Abs. 6 BMG ist nur für Polizei, Verfassungsschutz, "
            "Bundesnachrichtendienst, Militärischen Abschirmdienst und Zollfahndungsdienst "
            "(§ 34 Abs. 4 Satz 1 Nr. 1 und 6 bis 9 BMG) vorgesehen.",
        ),
    ),
    # evaluating the tenant's own retrieval log (§ 40 Abs. 5 Satz 3 BMG: Datenschutzkontrolle)
    Grant(
        "auswertung_berechtigt",
        CommandAction.GRANT_AUSWERTUNG,
        CommandAction.REVOKE_AUSWERTUNG,
        None,
    ),
)
GRANT_OF = {action: g for g in GRANTS for action in (g.granted, g.revoked)}


def change_grant(
    user: Account | None, tenant: Tenant, action: CommandAction
) -> Account | Rejection:
    user = user_of(user, tenant.tenant_id)
    if isinstance(user, Rejection):
        return user
    grant = GRANT_OF[action]
    granting = action is grant.granted
    kinds = grant.authority_kinds
    if granting and kinds is not None and tenant.authority_kind not in kinds:
        assert grant.refused is not None
        return grant.refused
    if getattr(user, grant.field) is granting:
        return Rejection(
            "UNCHANGED",
            "Die Berechtigung besteht bereits." if granting else "Es besteht keine Berechtigung.",
        )
    return replace(user, **{grant.field: granting})


FINGERPRINT_INVALID = Rejection(
    "FINGERPRINT_INVALID",
    "Der Fingerabdruck des Client-Zertifikats ist ein SHA-256-Wert (64 Hexadezimalzeichen).",
)


def register_procedure(
    known: list[Abrufverfahren], new: NewProcedure | None
) -> Abrufverfahren | Rejection:
    """A machine procedure (NMeldVO 2022 § 26 Abs. 2): a name unique in the tenant, the person
    responsible, and the client certificate it calls with (§ 34 Abs. 2 Satz 3 BMG: no doubt
    about the identity of the body)."""
    if new is None:
        return Rejection("PROCEDURE_MISSING", "Für register_procedure fehlen die Angaben.")
    if any(v.name == new.name for v in known):
        return Rejection("PROCEDURE_EXISTS", "Ein Verfahren mit diesem Namen ist registriert.")
    fingerprint = normalise_fingerprint(new.certificate_fingerprint)
    if not re.fullmatch(r"[0-9a-f]{64}", fingerprint):
        return FINGERPRINT_INVALID
    return Abrufverfahren(
        name=new.name,
        verantwortliche_person=new.verantwortliche_person,
        certificate_fingerprint=fingerprint,
        status=VerfahrenStatus.ACTIVE,
    )


def change_procedure_status(
    known: list[Abrufverfahren], name: str | None, action: CommandAction
) -> Abrufverfahren | Rejection:
    v = next((v for v in known if v.name == name), None)
    if v is None:
        return Rejection("UNKNOWN_PROCEDURE", "Kein Verfahren dieses Namens im Mandanten.")
    status = (
        VerfahrenStatus.LOCKED if action is CommandAction.LOCK_PROCEDURE else VerfahrenStatus.ACTIVE
    )
    if v.status is status:
        return Rejection("UNCHANGED", f"Das Verfahren ist bereits {status.value}.")
    return v.model_copy(update={"status": status})


# -- the rest of an account's life (seed 000: the administrator manages the authority's users) --


def reissue_target(user: Account | None, tenant_id: str, actor: ActorKind) -> Account | Rejection:
    """Whose initial password may be issued anew: an active account that has not yet changed its
    initial password (it expired, or the letter went astray). The administrator's own comes
    from the Verfahrensbetreuung, as the first one did."""
    user = user_of(user, tenant_id)
    if isinstance(user, Rejection):
        return user
    if user.status is not UserStatus.ACTIVE:
        return (
            NOT_ACTIVE
            if user.status in GONE
            else Rejection("USER_LOCKED", "Der Account ist gesperrt; zuerst entsperren.")
        )
    if not user.must_change_password:
        return Rejection(
            "INITIAL_PASSWORD_ALREADY_CHANGED",
            "Das Initialpasswort ist bereits geändert; ein neues Passwort gibt es über das "
            "Zurücksetzen.",
        )
    if user.kind is UserKind.ADMINISTRATOR and actor is ActorKind.ADMINISTRATOR:
        return Rejection(
            "ADMINISTRATOR_BY_OPERATOR",
            "Ein neues Initialpasswort der Administration stellt die Verfahrensbetreuung aus.",
        )
    return user


def user_reset_target(
    user: Account | None, tenant_id: str
) -> tuple[Account, Zustellweg] | Rejection:
    """A user's password reset by the administrator: a new initial password by letter to the
    office, or by encrypted mail where the user has an S/MIME certificate on file. The
    administrator's own goes only by encrypted mail, at the operator (`reset_target`)."""
    user = user_of(user, tenant_id)
    if isinstance(user, Rejection):
        return user
    if user.kind is not UserKind.USER:
        return Rejection(
            "NOT_A_USER",
            "Das Passwort der Administration setzt die Verfahrensbetreuung zurück "
            "(reset_admin_password).",
        )
    if user.status in GONE:
        return NOT_ACTIVE
    delivery = Zustellweg.SMIME_MAIL if user.smime_certificate_pem else Zustellweg.LETTER
    return user, delivery


def delete_user(user: Account | None, tenant_id: str) -> Account | Rejection:
    """A user is deleted, not erased: the account stays, with its name, for the audit, and no
    sign-in or retrieval is possible any more. The administrator is replaced by an application
    for an administrator change, never deleted."""
    user = user_of(user, tenant_id)
    if isinstance(user, Rejection):
        return user
    if user.kind is UserKind.ADMINISTRATOR:
        return Rejection(
            "ADMINISTRATOR_NOT_DELETED",
            "Die Administration wird nur durch einen Antrag auf Administratorwechsel ersetzt.",
        )
    if user.status in GONE:
        return Rejection("UNCHANGED", "Der Account ist bereits gelöscht.")
    return replace(
        user,
        status=UserStatus.DELETED,
        sperrdaten_berechtigt=False,
        auswertung_berechtigt=False,
    )


def change_certificate(
    user: Account | None, tenant_id: str, action: CommandAction, fingerprint: str | None
) -> Account | Rejection:
    """Revoke a user's client certificate (no sign-in with it, nor without one, until it is
    replaced) or bind the user to a new one."""
    user = user_of(user, tenant_id)
    if isinstance(user, Rejection):
        return user
    if user.status in GONE:
        return NOT_ACTIVE
    if action is CommandAction.REVOKE_CERTIFICATE:
        if user.certificate_fingerprint in (None, REVOKED_CERTIFICATE):
            return Rejection("NO_CERTIFICATE", "An den Account ist kein Zertifikat gebunden.")
        return replace(user, certificate_fingerprint=REVOKED_CERTIFICATE)
    new = normalise_fingerprint(fingerprint or "")
    if not re.fullmatch(r"[0-9a-f]{64}", new):
        return FINGERPRINT_INVALID
    if new == user.certificate_fingerprint:
        return Rejection("UNCHANGED", "Dieses Zertifikat ist bereits gebunden.")
    return replace(user, certificate_fingerprint=new)


# -- the security audit (seed 000: the operator audits the tenants' accounts) ----------------


def may_audit(identity: Identity, tenant_id: str) -> bool:
    """The operator's accounts audit any tenant; a tenant's administrator its own."""
    if identity.tenant_id is None:
        return any(r.value in identity.roles for r in OperatorRole)
    return identity.tenant_id == tenant_id and UserKind.ADMINISTRATOR.value in identity.roles


def audit_timeline(audit: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per thing that happened, oldest first: accounts created, the tenant's status
    changes, account commands with their outcome, sign-ins (a CSV for the audit)."""
    rows = [
        {"at": u["created_at"], "what": "account_created", "who": u["username"],
         "detail": f"{u['kind']}, now {u['status']}"}
        for u in audit["users"]
    ]  # fmt: skip
    rows += [
        {"at": h["at"], "what": f"tenant_{h['status']}", "who": h["actor"],
         "detail": h["reason"] or ""}
        for h in audit["status_history"]
    ]  # fmt: skip
    rows += [
        {"at": c["at"], "what": c["action"], "who": c["actor"], "detail": c["outcome"]}
        for c in audit["commands"]
    ]
    rows += [
        {"at": s["created_at"], "what": "sign_in", "who": s["username"],
         "detail": f"session until {s['ended_at'] or s['expires_at']}"}
        for s in audit["sign_ins"]
    ]  # fmt: skip
    return sorted(rows, key=lambda r: r["at"])
