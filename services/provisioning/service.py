"""provisioning's service layer: approved applications, account commands, logins, password changes.

A plaintext password exists only inside `_issue` and `change_password`: it is hashed (Argon2id)
for the database and sealed for mail_dispatch, never stored, logged or published as it is.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from services.provisioning import domain
from services.provisioning.domain import Account, Tenant
from services.provisioning.store import Accounts
from shared.contract.events.account import (
    AccountCommand,
    AccountEvent,
    AccountEventKind,
    AccountProvisioned,
    Actor,
    ActorKind,
    AuthAudit,
    AuthOutcome,
    CommandAction,
    CredentialPurpose,
    CredentialsIssued,
    OperatorRole,
    Postanschrift,
    ProvisioningKind,
    ProvisioningRefused,
    TenantState,
    TenantStatus,
    TenantUser,
    TrainingRecorded,
    TrainingRequested,
    UserKind,
    UserStatus,
    Zustellweg,
)
from shared.contract.events.application import Behoerdenart, CompleteApplication
from shared.contract.events.review import Entscheidung, ReviewDecided
from shared.contract.topics import Topics
from shared.platform.broker import schema_violations
from shared.platform.fingerprints import normalise_fingerprint
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing
from shared.platform.operator_signatures import NOT_SIGNED, Refusal, Signer, proven
from shared.platform.passwords import (
    hash_password,
    initial_password,
    password_expiry,
    verify_password,
)
from shared.platform.sealed import credential_context, seal
from shared.platform.signin import Decision, new_password_problems
from shared.platform.tokens import Identity, issue

log = get_logger(__name__)


@dataclass(frozen=True)
class Provisioner:
    """What the service functions need besides the store."""

    seal_key: bytes  # mail_dispatch's X25519 public key
    password_valid_days: int
    operators: frozenset[str]
    token_key: Ed25519PrivateKey  # signs access tokens (`shared.platform.tokens`)


async def _issue(
    account: Account,
    tenant: Tenant,
    purpose: CredentialPurpose,
    delivery: Zustellweg,
    address: Postanschrift,
    deps: Provisioner,
    now: datetime,
) -> tuple[Account, Outgoing]:
    """A new initial password: hashed into the account, sealed into the credentials event."""
    password = initial_password()
    expires = password_expiry(now, deps.password_valid_days)
    account = replace(
        account,
        password_hash=await hash_password(password),
        must_change_password=True,
        password_expires_at=expires,
        failed_logins=0,
    )
    sealed = seal(
        deps.seal_key, password.encode(), credential_context(account.user_id, purpose.value)
    )
    del password
    event = CredentialsIssued(
        tenant_id=tenant.tenant_id,
        user_id=account.user_id,
        username=account.username,
        purpose=purpose,
        secret_delivery=delivery,
        email=account.email,
        smime_certificate_pem=account.smime_certificate_pem,
        address=address,
        sealed_secret=sealed,
        password_expires_at=expires,
        role=tenant.role,
        issued_at=now,
    )
    return account, Outgoing(Topics.ACCOUNT_CREDENTIALS, event, subject=account.user_id)


async def state_of(store: Accounts, tenant_id: str, now: datetime) -> Outgoing:
    tenant = await store.tenant(tenant_id)
    assert tenant is not None
    users = [
        TenantUser(
            user_id=a.user_id,
            username=a.username,
            kind=a.kind,
            status=a.status,
            certificate_fingerprint=a.certificate_fingerprint,
            sperrdaten_berechtigt=a.sperrdaten_berechtigt,
            auswertung_berechtigt=a.auswertung_berechtigt,
        )
        for a in await store.accounts(tenant_id)
    ]
    state = TenantState(
        tenant_id=tenant.tenant_id,
        authority_key=tenant.authority_key,
        authority_name=tenant.authority_name,
        role=tenant.role,
        status=tenant.status,
        status_reason=tenant.status_reason,
        data_scope=tenant.data_scope,
        logging_arrangement=tenant.logging_arrangement,
        conditions=tenant.conditions,
        client_certificate_fingerprint=tenant.client_certificate_fingerprint,
        users=users,
        authority_kind=tenant.authority_kind,
        verfahren=await store.procedures(tenant_id),
        land=tenant.land,
        version=tenant.version,
        updated_at=now,
    )
    return Outgoing(Topics.TENANT_STATE, state, subject=tenant.tenant_id)


def _address(app: CompleteApplication) -> Postanschrift:
    adm = app.administrator
    return Postanschrift(
        salutation=adm.salutation.value,
        first_name=adm.first_name,
        surname=adm.surname,
        authority_name=app.authority_name,
        office_name=adm.office_name,
        street_and_number=adm.street_and_number,
        postcode=adm.postcode,
        town=adm.town,
    )


async def _new_account(
    store: Accounts,
    tenant_id: str,
    kind: UserKind,
    first_name: str,
    surname: str,
    email: str,
    smime: str | None,
    fingerprint: str | None,
) -> Account:
    taken = await store.usernames_like(domain.username_for(first_name, surname, tenant_id, set()))
    return Account(
        user_id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        username=domain.username_for(first_name, surname, tenant_id, taken),
        kind=kind,
        status=UserStatus.ACTIVE,
        first_name=first_name,
        surname=surname,
        email=email,
        password_hash="",
        must_change_password=True,
        password_expires_at=None,
        smime_certificate_pem=smime,
        certificate_fingerprint=fingerprint,
    )


def _refused(decided: ReviewDecided, code: str, message: str, now: datetime) -> Outgoing:
    log.warning("provisioning refused", application_id=decided.application_id, reason_code=code)
    return Outgoing(
        Topics.ACCOUNT_PROVISIONING_REFUSED,
        ProvisioningRefused(
            application_id=decided.application_id,
            reason_code=code,
            message=message,
            contact_email=decided.application.administrator.email,
            refused_at=now,
        ),
        subject=decided.application_id,
    )


async def handle_decided(
    store: Accounts, decided: ReviewDecided, now: datetime, deps: Provisioner
) -> Sequence[Outgoing]:
    """An approval creates the tenant and its Hauptadministrator, or replaces the administrator."""
    if decided.decision is not Entscheidung.APPROVED:
        return []
    app = decided.application
    tenant_id = domain.tenant_id_for(app.authority_key, app.access_type)
    tenant = await store.tenant(tenant_id, lock=True)
    address = _address(app)
    if app.only_administrator_change:
        if tenant is None:
            return [
                _refused(
                    decided,
                    "NO_TENANT_FOR_ADMINISTRATOR_CHANGE",
                    "Für diese Behörde und Zugangsart besteht noch kein Zugang; ein "
                    "Wechsel der Administratorin bzw. des Administrators ist daher nicht "
                    "möglich. Bitte beantragen Sie den Zugang.",
                    now,
                )
            ]
        old = domain.current_administrator(await store.accounts(tenant_id))
        if old is not None:
            await store.update_account(replace(old, status=UserStatus.REPLACED), now)
        await store.bump_version(tenant_id, now)
        kind = ProvisioningKind.ADMINISTRATOR_CHANGE
    else:
        if tenant is not None:
            return [
                _refused(
                    decided,
                    "TENANT_EXISTS",
                    "Für diese Behörde und Zugangsart besteht bereits ein Zugang.",
                    now,
                )
            ]
        tenant = Tenant(
            tenant_id=tenant_id,
            authority_key=app.authority_key,
            authority_name=app.authority_name,
            role=app.access_type,
            status=TenantStatus.ACTIVE,
            data_scope=decided.data_scope,
            logging_arrangement=app.logging_arrangement,  # type: ignore[arg-type]
            conditions=decided.conditions,
            client_certificate_fingerprint=app.client_certificate_fingerprint,
            application_id=app.application_id,
            authority_kind=app.authority_kind,
            land=app.authority_state
            if app.authority_kind is Behoerdenart.ZENTRALE_STELLE_LAND
            else None,
        )
        await store.add_tenant(tenant, address, now)
        kind = ProvisioningKind.NEW_TENANT
    adm = app.administrator
    admin = await _new_account(
        store,
        tenant_id,
        UserKind.ADMINISTRATOR,
        adm.first_name,
        adm.surname,
        adm.email,
        adm.smime_certificate_pem,
        None,
    )
    admin, credentials = await _issue(
        admin,
        tenant,
        CredentialPurpose.ADMINISTRATOR_INITIAL,
        Zustellweg.LETTER,
        address,
        deps,
        now,
    )
    await store.add_account(admin, now)
    log.info(
        "tenant provisioned",
        tenant_id=tenant_id,
        kind=kind.value,
        application_id=app.application_id,
    )
    provisioned = Outgoing(
        Topics.ACCOUNT_PROVISIONED,
        AccountProvisioned(
            tenant_id=tenant_id,
            application_id=app.application_id,
            kind=kind,
            role=app.access_type,
            authority_name=app.authority_name,
            administrator_user_id=admin.user_id,
            administrator_username=admin.username,
            provisioned_at=now,
        ),
        subject=tenant_id,
    )
    return [provisioned, credentials, await state_of(store, tenant_id, now)]


def _account_event(
    cmd: AccountCommand,
    kind: AccountEventKind,
    now: datetime,
    user_id: str | None = None,
    code: str | None = None,
    message: str | None = None,
) -> Outgoing:
    return Outgoing(
        Topics.ACCOUNT_EVENT,
        AccountEvent(
            command_id=cmd.command_id,
            tenant_id=cmd.tenant_id,
            kind=kind,
            actor=cmd.actor,
            user_id=user_id,
            reason_code=code,
            message=message,
            at=now,
        ),
        subject=cmd.tenant_id,
    )


_TENANT_EVENT = {
    CommandAction.RESTRICT_TENANT: AccountEventKind.TENANT_RESTRICTED,
    CommandAction.SUSPEND_TENANT: AccountEventKind.TENANT_SUSPENDED,
    CommandAction.LIFT_TENANT: AccountEventKind.TENANT_LIFTED,
}


_USER_EVENT = {
    CommandAction.LOCK_USER: AccountEventKind.USER_LOCKED,
    CommandAction.UNLOCK_USER: AccountEventKind.USER_UNLOCKED,
    CommandAction.GRANT_SPERRDATEN: AccountEventKind.SPERRDATEN_GRANTED,
    CommandAction.REVOKE_SPERRDATEN: AccountEventKind.SPERRDATEN_REVOKED,
    CommandAction.GRANT_AUSWERTUNG: AccountEventKind.AUSWERTUNG_GRANTED,
    CommandAction.REVOKE_AUSWERTUNG: AccountEventKind.AUSWERTUNG_REVOKED,
    CommandAction.DELETE_USER: AccountEventKind.USER_DELETED,
    CommandAction.REVOKE_CERTIFICATE: AccountEventKind.CERTIFICATE_REVOKED,
    CommandAction.REPLACE_CERTIFICATE: AccountEventKind.CERTIFICATE_REPLACED,
}
_PROCEDURE_EVENT = {
    CommandAction.REGISTER_PROCEDURE: AccountEventKind.PROCEDURE_REGISTERED,
    CommandAction.LOCK_PROCEDURE: AccountEventKind.PROCEDURE_LOCKED,
    CommandAction.UNLOCK_PROCEDURE: AccountEventKind.PROCEDURE_UNLOCKED,
}


async def handle_training(
    store: Accounts, request: TrainingRequested, now: datetime
) -> Sequence[Outgoing]:
    """A tenant's training request: recorded for the Verfahrensbetreuung's list if an active
    administrator of the tenant asked, refused with the reason otherwise; each request once."""
    tenant = None
    try:
        uuid.UUID(request.tenant_id)
        tenant = await store.tenant(request.tenant_id)
    except ValueError:
        pass
    requester = await _account_by_id(store, request.requested_by)
    refusal = domain.training_refusal(tenant, requester)
    if refusal is None:
        assert requester is not None
        if not await store.add_training_request(request, requester.user_id, now):
            log.info("training request recorded before", request_id=request.request_id)
            return []
    code, message = refusal or (None, None)
    log.info("training request", request_id=request.request_id, refused=code)
    return [
        Outgoing(
            Topics.TENANT_TRAINING_RECORDED,
            TrainingRecorded(
                request_id=request.request_id,
                tenant_id=request.tenant_id,
                authority_name=tenant.authority_name if tenant else None,
                requested_by_username=requester.username if requester else None,
                teilnehmende=request.teilnehmende,
                wunsch=request.wunsch,
                requested_at=request.requested_at,
                recorded=refusal is None,
                reason_code=code,
                message=message,
                answered_at=now,
            ),
            subject=request.request_id,
        )
    ]


async def handle_raw_command(
    store: Accounts,
    raw: dict[str, Any],
    now: datetime,
    deps: Provisioner,
    signer: Signer | Refusal = NOT_SIGNED,
) -> Sequence[Outgoing]:
    """A command that breaks the schema is answered with a rejection its sender can read."""
    try:
        cmd = AccountCommand.model_validate(raw)
    except ValidationError as exc:
        try:
            actor = Actor.model_validate(raw.get("actor"))
        except ValidationError:
            actor = None
        log.warning("malformed account command rejected", command_id=raw.get("command_id"))
        return [
            Outgoing(
                Topics.ACCOUNT_EVENT,
                AccountEvent(
                    command_id=str(raw.get("command_id") or "unknown"),
                    tenant_id=str(raw.get("tenant_id") or "unknown"),
                    kind=AccountEventKind.COMMAND_REJECTED,
                    actor=actor,
                    reason_code="MALFORMED_COMMAND",
                    message=schema_violations(exc),
                    at=now,
                ),
            )
        ]
    return await handle_command(store, cmd, now, deps, signer)


async def handle_command(
    store: Accounts,
    cmd: AccountCommand,
    now: datetime,
    deps: Provisioner,
    signer: Signer | Refusal = NOT_SIGNED,
) -> Sequence[Outgoing]:
    """An account command; an operator's must be signed by the operator it names."""
    if await store.command_seen(cmd.command_id):
        log.info("account command already applied", command_id=cmd.command_id)
        return []
    not_proven = (
        proven(signer, cmd.actor.id)  # whether this operator may: domain.authorise
        if cmd.actor.kind is ActorKind.OPERATOR
        else None
    )
    out, rejection = (
        ([], (not_proven.code, not_proven.message))
        if not_proven
        else await _apply(store, cmd, now, deps)
    )
    if rejection:
        code, message = rejection
        out = [
            _account_event(cmd, AccountEventKind.COMMAND_REJECTED, now, cmd.user_id, code, message)
        ]
        log.warning("account command rejected", command_id=cmd.command_id, reason_code=code)
    await store.record_command(
        cmd.command_id,
        cmd.tenant_id,
        cmd.action.value,
        f"{cmd.actor.kind.value}:{cmd.actor.id}",
        rejection[0] if rejection else "applied",
        now,
    )
    return out


async def _apply(
    store: Accounts, cmd: AccountCommand, now: datetime, deps: Provisioner
) -> tuple[list[Outgoing], tuple[str, str] | None]:
    try:
        uuid.UUID(cmd.tenant_id)
    except ValueError:
        return [], ("UNKNOWN_TENANT", "Kein Mandant mit dieser Kennung.")
    tenant = await store.tenant(cmd.tenant_id, lock=True)
    actor_account = None
    if cmd.actor.kind is ActorKind.ADMINISTRATOR:
        actor_account = await _account_by_id(store, cmd.actor.id)
    denied = domain.authorise(cmd.actor, cmd.action, tenant, actor_account, deps.operators)
    if denied:
        return [], (denied, "Der Auftraggeber darf diesen Befehl für diesen Mandanten nicht geben.")
    assert tenant is not None
    action = cmd.action

    if action in domain.TENANT_STATUS_AFTER:
        changed = domain.change_tenant_status(tenant, action, cmd.reason)
        if isinstance(changed, domain.Rejection):
            return [], (changed.code, changed.message)
        await store.set_tenant_status(changed, f"{cmd.actor.kind.value}:{cmd.actor.id}", now)
        return [
            _account_event(cmd, _TENANT_EVENT[action], now),
            await state_of(store, tenant.tenant_id, now),
        ], None

    if action is CommandAction.CREATE_USER:
        if cmd.new_user is None:
            return [], ("NEW_USER_MISSING", "Für create_user fehlen die Daten der Person.")
        nu = cmd.new_user
        fingerprint = (
            normalise_fingerprint(nu.certificate_fingerprint)
            if nu.certificate_fingerprint
            else None
        )
        user = await _new_account(
            store,
            tenant.tenant_id,
            UserKind.USER,
            nu.first_name,
            nu.surname,
            nu.email,
            nu.smime_certificate_pem,
            fingerprint,
        )
        user, credentials = await _issue(
            user,
            tenant,
            CredentialPurpose.USER_INITIAL,
            Zustellweg.LETTER,
            await store.postal_address(tenant.tenant_id),
            deps,
            now,
        )
        await store.add_account(user, now)
        await store.bump_version(tenant.tenant_id, now)
        return [
            _account_event(cmd, AccountEventKind.USER_CREATED, now, user.user_id),
            credentials,
            await state_of(store, tenant.tenant_id, now),
        ], None

    if action is CommandAction.RESET_ADMIN_PASSWORD:
        target = domain.reset_target(await store.accounts(tenant.tenant_id))
        if isinstance(target, domain.Rejection):
            return [], (target.code, target.message)
        admin, credentials = await _issue(
            target,
            tenant,
            CredentialPurpose.ADMINISTRATOR_RESET,
            Zustellweg.SMIME_MAIL,
            await store.postal_address(tenant.tenant_id),
            deps,
            now,
        )
        await store.update_account(admin, now)
        return [
            _account_event(cmd, AccountEventKind.ADMIN_PASSWORD_RESET, now, admin.user_id),
            credentials,
        ], None

    if action in _PROCEDURE_EVENT:
        known = await store.procedures(tenant.tenant_id)
        procedure = (
            domain.register_procedure(known, cmd.new_procedure)
            if action is CommandAction.REGISTER_PROCEDURE
            else domain.change_procedure_status(known, cmd.procedure_name, action)
        )
        if isinstance(procedure, domain.Rejection):
            return [], (procedure.code, procedure.message)
        await store.save_procedure(tenant.tenant_id, procedure, now)
        await store.bump_version(tenant.tenant_id, now)
        return [
            _account_event(cmd, _PROCEDURE_EVENT[action], now, message=procedure.name),
            await state_of(store, tenant.tenant_id, now),
        ], None

    target = await _account_by_id(store, cmd.user_id or "")
    if action in _NEW_PASSWORD:
        return await _new_password(store, cmd, tenant, target, now, deps)

    # a change to one user of this tenant: lock, unlock, an authorisation, deletion, certificate
    if action in domain.GRANT_OF:
        user = domain.change_grant(target, tenant, action)
    elif action is CommandAction.DELETE_USER:
        user = domain.delete_user(target, tenant.tenant_id)
    elif action in (CommandAction.REVOKE_CERTIFICATE, CommandAction.REPLACE_CERTIFICATE):
        user = domain.change_certificate(
            target, tenant.tenant_id, action, cmd.certificate_fingerprint
        )
    else:
        user = domain.change_user_status(target, tenant.tenant_id, action)
    if isinstance(user, domain.Rejection):
        return [], (user.code, user.message)
    if action not in (CommandAction.LOCK_USER, CommandAction.UNLOCK_USER):
        # what the change takes away ends the user's sessions at once; a changed authorisation
        # takes effect at the next sign-in, not at the refresh of a token naming the old one
        # (a lock is refused at the next refresh, with its reason)
        await store.end_sessions(user.user_id, now)
    await store.update_account(user, now)
    await store.bump_version(tenant.tenant_id, now)
    return [
        _account_event(cmd, _USER_EVENT[action], now, user.user_id, message=cmd.reason),
        await state_of(store, tenant.tenant_id, now),
    ], None


_NEW_PASSWORD = {
    CommandAction.REISSUE_INITIAL_PASSWORD: (
        CredentialPurpose.INITIAL_REISSUED,
        AccountEventKind.INITIAL_PASSWORD_REISSUED,
    ),
    CommandAction.RESET_USER_PASSWORD: (
        CredentialPurpose.USER_RESET,
        AccountEventKind.USER_PASSWORD_RESET,
    ),
}


async def _new_password(
    store: Accounts,
    cmd: AccountCommand,
    tenant: Tenant,
    target: Account | None,
    now: datetime,
    deps: Provisioner,
) -> tuple[list[Outgoing], tuple[str, str] | None]:
    """A new initial password for a user: reissued for one unused (by letter), or reset by the
    administrator (by letter, or encrypted mail where the user has a certificate); the old
    password and every session end."""
    purpose, kind = _NEW_PASSWORD[cmd.action]
    if cmd.action is CommandAction.REISSUE_INITIAL_PASSWORD:
        found = domain.reissue_target(target, tenant.tenant_id, cmd.actor.kind)
        chosen = found if isinstance(found, domain.Rejection) else (found, Zustellweg.LETTER)
    else:
        chosen = domain.user_reset_target(target, tenant.tenant_id)
    if isinstance(chosen, domain.Rejection):
        return [], (chosen.code, chosen.message)
    user, delivery = chosen
    user, credentials = await _issue(
        user, tenant, purpose, delivery, await store.postal_address(tenant.tenant_id), deps, now
    )
    await store.update_account(user, now)
    await store.end_sessions(user.user_id, now)
    return [_account_event(cmd, kind, now, user.user_id), credentials], None


async def _account_by_id(store: Accounts, user_id: str) -> Account | None:
    try:
        uuid.UUID(user_id)
    except ValueError:
        return None
    return await store.account(user_id)


def _audit(
    username: str,
    account: Account | None,
    action: str,
    outcome: AuthOutcome,
    fingerprint: str | None,
    now: datetime,
    detail: list[str] | None = None,
) -> Outgoing:
    return Outgoing(
        Topics.ACCOUNT_AUDIT,
        AuthAudit(
            username=username,
            tenant_id=account.tenant_id if account else None,
            user_id=account.user_id if account else None,
            action=action,
            outcome=outcome,
            client_certificate_fingerprint=fingerprint,
            detail=detail or [],
            at=now,
        ),
        subject=account.tenant_id if account else None,
    )


@dataclass(frozen=True)
class Tokens:
    """What a successful sign-in or refresh hands out: a signed access token and a refresh token
    for the same session (used once; the next one comes with the next access token)."""

    access_token: str
    refresh_token: str
    identity: Identity


@dataclass(frozen=True)
class LoginResult:
    decision: Decision
    account: Account | None
    tokens: Tokens | None = None


@dataclass(frozen=True)
class PasswordChange:
    outcome: AuthOutcome
    detail: list[str]


def _refresh_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _tokens(account: Account, session_id: str, now: datetime, deps: Provisioner) -> Tokens:
    roles, authorisations = domain.token_grants(account)
    access, identity = issue(
        deps.token_key,
        user_id=account.user_id,
        username=account.username,
        tenant_id=account.tenant_id,
        roles=roles,
        authorisations=authorisations,
        now=now,
    )
    return Tokens(access, f"{session_id}.{secrets.token_urlsafe(32)}", identity)


async def login(
    store: Accounts,
    username: str,
    password: str,
    fingerprint: str | None,
    now: datetime,
    deps: Provisioner | None = None,
) -> tuple[LoginResult, list[Outgoing]]:
    """The sign-in; with `deps`, an authenticated sign-in also opens a session and gets tokens."""
    account = await store.account_by_username(username, lock=True)
    ok = await verify_password(account.password_hash if account else None, password)
    tenant = await store.tenant(account.tenant_id) if account and account.tenant_id else None
    decision = domain.login(account, tenant, ok, fingerprint, now)
    out = [_audit(username, account, "login", decision.outcome, fingerprint, now, decision.detail)]
    changed = domain.after_login(account, decision) if account is not None else None
    if account is not None and changed is not None:
        await store.update_account(changed, now)
        if decision.locked_now and account.tenant_id:  # the tenant state shows the lock
            await store.bump_version(account.tenant_id, now)
            out.append(await state_of(store, account.tenant_id, now))
    tokens = None
    if deps is not None and account is not None and decision.outcome is AuthOutcome.AUTHENTICATED:
        session = domain.Session(str(uuid.uuid4()), account.user_id, now, now + domain.SESSION_TTL)
        tokens = _tokens(account, session.session_id, now, deps)
        await store.add_session(session, _refresh_hash(tokens.refresh_token))
    return LoginResult(decision, account, tokens), out


async def refresh(
    store: Accounts,
    refresh_token: str,
    fingerprint: str | None,
    now: datetime,
    deps: Provisioner,
) -> tuple[LoginResult, list[Outgoing]]:
    """A new access token for a session that is still open, if the account may still sign in
    (not locked, not replaced, its tenant not suspended). A refresh token is used once: a second
    use of the same one ends every session of the account, since one of the two is a thief."""
    presented = _refresh_hash(refresh_token)
    session = await store.session_by_refresh(presented)
    if session is None:
        reused_by = await store.used_by(presented)
        victim = await store.account(reused_by) if reused_by else None
        detail = []
        if victim is not None:
            ended = await store.end_sessions(victim.user_id, now)
            detail = [f"refresh token used twice: {ended} session(s) ended"]
            log.warning("refresh token reused", user_id=victim.user_id, sessions_ended=ended)
        decision = Decision(AuthOutcome.SESSION_INVALID, detail)
        name = victim.username if victim else ""
        audit = _audit(name, victim, "refresh", decision.outcome, None, now, detail)
        return LoginResult(decision, None), [audit]
    account = await store.account(session.user_id, lock=True)
    assert account is not None  # the session's foreign key
    username = account.username
    if not domain.session_valid(session, now):
        decision = Decision(AuthOutcome.SESSION_INVALID, ["session ended or expired"])
    else:
        tenant = await store.tenant(account.tenant_id) if account.tenant_id else None
        decision = domain.may_refresh(account, tenant, fingerprint, now)
    out = [
        _audit(username, account, "refresh", decision.outcome, fingerprint, now, decision.detail)
    ]
    if decision.outcome is not AuthOutcome.TOKEN_REFRESHED:
        await store.end_sessions(account.user_id, now)
        return LoginResult(decision, account), out
    tokens = _tokens(account, session.session_id, now, deps)
    await store.rotate_session(session, presented, _refresh_hash(tokens.refresh_token), now)
    return LoginResult(decision, account, tokens), out


async def add_operator_account(
    store: Accounts,
    username: str,
    role: OperatorRole,
    first_name: str,
    surname: str,
    email: str,
    now: datetime,
    deps: Provisioner,
) -> tuple[Account | domain.Rejection, str]:
    """An operator account with an initial password (returned once, for the one who sets the
    account up to hand over in person); it must be changed at the first sign-in."""
    if await store.account_by_username(username):
        return domain.Rejection("USERNAME_TAKEN", "Der Accountname ist vergeben."), ""
    password = initial_password()
    account = domain.operator_account(
        username,
        role,
        first_name,
        surname,
        email,
        await hash_password(password),
        password_expiry(now, deps.password_valid_days),
        str(uuid.uuid4()),
    )
    if isinstance(account, domain.Rejection):
        return account, ""
    await store.add_account(account, now)
    return account, password


async def change_password(
    store: Accounts,
    username: str,
    current: str,
    new: str,
    fingerprint: str | None,
    now: datetime,
) -> tuple[PasswordChange, list[Outgoing]]:
    result, out = await login(store, username, current, fingerprint, now)
    decision, account = result.decision, result.account
    if not decision.admitted or account is None:
        return PasswordChange(decision.outcome, decision.detail), out
    problems = new_password_problems(new, current, username)
    if problems:
        out.append(
            _audit(
                username,
                account,
                "change_password",
                AuthOutcome.PASSWORD_POLICY_VIOLATED,
                fingerprint,
                now,
                problems,
            )
        )
        return PasswordChange(AuthOutcome.PASSWORD_POLICY_VIOLATED, problems), out
    await store.update_account(
        replace(
            account,
            password_hash=await hash_password(new),
            must_change_password=False,
            password_expires_at=None,
            failed_logins=0,
        ),
        now,
    )
    out.append(
        _audit(username, account, "change_password", AuthOutcome.PASSWORD_CHANGED, fingerprint, now)
    )
    return PasswordChange(AuthOutcome.PASSWORD_CHANGED, []), out


async def audit(
    store: Accounts, tenant_id: str, reader: Identity
) -> tuple[dict[str, Any] | None, list[Outgoing]]:
    """A tenant's accounts and their history for a security audit; None for no such tenant.
    Who read it is logged."""
    try:
        uuid.UUID(tenant_id)
    except ValueError:
        return None, []
    tenant = await store.tenant(tenant_id)
    if tenant is None:
        return None, []
    found: dict[str, Any] = {
        "tenant_id": tenant_id,
        "authority_name": tenant.authority_name,
        "role": tenant.role.value,
        "status": tenant.status.value,
        **await store.audit(tenant_id),
    }
    log.info("account audit read", tenant_id=tenant_id, reader=reader.principal)
    return found, []
