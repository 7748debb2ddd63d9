"""Tenants (*Mandanten*), their accounts, account commands, authentication audit, credentials."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.application import Behoerdenart, Protokollierung, Zugangsart
from shared.contract.events.base import Event
from shared.contract.events.review import Auflage, Datenumfang


class TenantStatus(StrEnum):
    ACTIVE = "active"
    RESTRICTED = "restricted"  # security deficiency: no retrieval until lifted (seed 000)
    SUSPENDED = "suspended"  # suspected violation: no login, no retrieval


class UserStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    REPLACED = "replaced"  # a former administrator after an administrator change
    DELETED = "deleted"  # deleted by the administrator; the account name is not given again


class UserKind(StrEnum):
    ADMINISTRATOR = "administrator"  # the Hauptadministrator
    USER = "user"
    OPERATOR = "operator"  # the operator's own staff and the supervisory authority: no tenant


class OperatorRole(StrEnum):
    """What an operator account is for; the read APIs derive the purposes it may read the
    retrieval log for from it (§ 40 Abs. 5 Satz 3 BMG)."""

    BETRIEB = "betrieb"  # Verfahrensbetreuung: operation of the register mirror
    DATENSCHUTZ = "datenschutz"  # the operator's data-protection officer
    REVISION = "revision"  # the operator's internal audit
    AUFSICHT = "aufsicht"  # the data-protection supervisory authority (PortalV § 4 Nr. 3)


class Berechtigung(StrEnum):
    """Authorisations a tenant user holds beside the role; an access token names them."""

    SPERRDATEN = "sperrdaten"  # § 34a Abs. 6 BMG: data despite an Auskunftssperre
    AUSWERTUNG = "auswertung"  # may read and export the tenant's own retrieval log


class TenantUser(Event):
    user_id: str
    username: str
    kind: UserKind
    status: UserStatus
    certificate_fingerprint: str | None = None
    sperrdaten_berechtigt: bool = Field(
        False,
        description="§ 34a Abs. 6 BMG: specially authorised to receive data despite an "
        "Auskunftssperre (granted by account command, only in police, Verfassungsschutz, BND, "
        "MAD and Zollfahndung)",
    )
    auswertung_berechtigt: bool = Field(
        False, description="may read and export the tenant's own retrieval log (administrators may)"
    )


class VerfahrenStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"


class Abrufverfahren(Event):
    """A machine procedure (Fachanwendung) registered to retrieve for the tenant (NMeldVO 2022
    § 26 Abs. 2): it calls with its client certificate, and the § 40 log names it and the person
    responsible for it (§ 40 Abs. 1 Nr. 6 BMG)."""

    name: str = Field(min_length=1, max_length=120)
    verantwortliche_person: str = Field(min_length=1, max_length=120)
    certificate_fingerprint: str = Field(description="SHA-256 of the client certificate, hex")
    status: VerfahrenStatus


class TenantState(Event):
    """`min.tenant.state.v1` (compacted, key tenant_id): what the retrieval path authorises from."""

    tenant_id: str
    authority_key: str
    authority_name: str
    role: Zugangsart
    status: TenantStatus
    status_reason: str | None = None
    data_scope: Datenumfang
    logging_arrangement: Protokollierung | None = None
    conditions: list[Auflage] = Field(default_factory=list)
    client_certificate_fingerprint: str | None = None
    users: list[TenantUser]
    authority_kind: Behoerdenart | None = Field(
        None, description="the body's kind: is it a § 34 Abs. 4 Satz 1 BMG authority?"
    )
    verfahren: list[Abrufverfahren] = Field(default_factory=list)
    land: str | None = Field(
        None,
        pattern=r"^\d{2}$",
        description="another state's central body: the Landesschlüssel of the state it "
        'retrieves for (the tenant "Land NN")',
    )
    version: int
    updated_at: datetime


class ProvisioningKind(StrEnum):
    NEW_TENANT = "new_tenant"
    ADMINISTRATOR_CHANGE = "administrator_change"


class AccountProvisioned(Event):
    """`min.account.provisioned.v1`: a tenant and its Hauptadministrator, or a new administrator."""

    tenant_id: str
    application_id: str
    kind: ProvisioningKind
    role: Zugangsart
    authority_name: str
    administrator_user_id: str
    administrator_username: str
    provisioned_at: datetime


class ProvisioningRefused(Event):
    """`min.account.provisioning-refused.v1`: an approved application that could not be done."""

    application_id: str
    reason_code: str
    message: str = Field(description="German sentence for the authority")
    contact_email: str
    refused_at: datetime


class Zustellweg(StrEnum):
    LETTER = "letter"  # personal post to the office address
    SMIME_MAIL = "smime_mail"  # only to an address with an S/MIME certificate on file


class CredentialPurpose(StrEnum):
    ADMINISTRATOR_INITIAL = "administrator_initial"
    USER_INITIAL = "user_initial"
    ADMINISTRATOR_RESET = "administrator_reset"
    USER_RESET = "user_reset"  # a user's password reset by the tenant's administrator
    INITIAL_REISSUED = "initial_reissued"  # a new initial password for one expired or lost


class Postanschrift(Event):
    """The one postal address of a letter: a person, at an authority's office or a company if
    there is one. Used on `min.account.credentials.v1` and `min.portal.credentials.v2`."""

    salutation: str | None = Field(None, description="a value of `Anrede`, if given")
    first_name: str
    surname: str
    authority_name: str | None = Field(None, description="the authority, or the company")
    office_name: str | None = Field(None, description="the office within it")
    street_and_number: str
    postcode: str
    town: str


class CredentialsIssued(Event):
    """`min.account.credentials.v1`: credentials mail_dispatch must deliver. The password itself is
    only in `sealed_secret`, encrypted for mail_dispatch's key; the account name goes by e-mail."""

    tenant_id: str
    user_id: str
    username: str
    purpose: CredentialPurpose
    secret_delivery: Zustellweg
    email: str
    smime_certificate_pem: str | None = None
    address: Postanschrift
    sealed_secret: str = Field(description="the password, sealed for mail_dispatch (base64)")
    password_expires_at: datetime
    role: Zugangsart
    issued_at: datetime


class CommandAction(StrEnum):
    CREATE_USER = "create_user"
    LOCK_USER = "lock_user"
    UNLOCK_USER = "unlock_user"
    RESTRICT_TENANT = "restrict_tenant"
    SUSPEND_TENANT = "suspend_tenant"
    LIFT_TENANT = "lift_tenant"
    RESET_ADMIN_PASSWORD = "reset_admin_password"
    GRANT_SPERRDATEN = "grant_sperrdaten"  # § 34a Abs. 6 BMG authorisation of a user
    REVOKE_SPERRDATEN = "revoke_sperrdaten"
    GRANT_AUSWERTUNG = "grant_auswertung"  # reading the tenant's own retrieval log
    REVOKE_AUSWERTUNG = "revoke_auswertung"
    REGISTER_PROCEDURE = "register_procedure"  # NMeldVO 2022 § 26 Abs. 2
    LOCK_PROCEDURE = "lock_procedure"
    UNLOCK_PROCEDURE = "unlock_procedure"
    REISSUE_INITIAL_PASSWORD = "reissue_initial_password"  # a new letter for an unused one
    RESET_USER_PASSWORD = "reset_user_password"  # by the administrator: letter or S/MIME mail
    DELETE_USER = "delete_user"
    REVOKE_CERTIFICATE = "revoke_certificate"  # the user's client certificate; no login with it
    REPLACE_CERTIFICATE = "replace_certificate"  # binds the user to a new one


class ActorKind(StrEnum):
    ADMINISTRATOR = "administrator"  # the tenant's administrator, by user id
    OPERATOR = "operator"  # the operator's staff, by operator id


class Actor(Event):
    kind: ActorKind
    id: str = Field(min_length=1)


class NewUser(Event):
    first_name: str = Field(min_length=1)
    surname: str = Field(min_length=1)
    email: str = Field(min_length=3)
    certificate_fingerprint: str | None = None
    smime_certificate_pem: str | None = Field(
        None, description="the user's S/MIME certificate: a reset password then goes by mail"
    )


class NewProcedure(Event):
    name: str = Field(min_length=1, max_length=120)
    verantwortliche_person: str = Field(min_length=1, max_length=120)
    certificate_fingerprint: str = Field(min_length=1)


class AccountCommand(Event):
    """`min.account.command.v1`: what an administrator or an operator wants done."""

    command_id: str = Field(min_length=1)
    tenant_id: str = Field(min_length=1)
    actor: Actor
    action: CommandAction
    user_id: str | None = Field(None, description="the user concerned (lock, unlock)")
    new_user: NewUser | None = Field(None, description="for create_user")
    new_procedure: NewProcedure | None = Field(None, description="for register_procedure")
    procedure_name: str | None = Field(None, description="for lock and unlock_procedure")
    certificate_fingerprint: str | None = Field(
        None, description="for replace_certificate: SHA-256 of the new client certificate"
    )
    reason: str | None = Field(None, description="required for restrict, suspend and lift")


class AccountEventKind(StrEnum):
    USER_CREATED = "user_created"
    USER_LOCKED = "user_locked"
    USER_UNLOCKED = "user_unlocked"
    TENANT_RESTRICTED = "tenant_restricted"
    TENANT_SUSPENDED = "tenant_suspended"
    TENANT_LIFTED = "tenant_lifted"
    ADMIN_PASSWORD_RESET = "admin_password_reset"
    SPERRDATEN_GRANTED = "sperrdaten_granted"
    SPERRDATEN_REVOKED = "sperrdaten_revoked"
    AUSWERTUNG_GRANTED = "auswertung_granted"
    AUSWERTUNG_REVOKED = "auswertung_revoked"
    PROCEDURE_REGISTERED = "procedure_registered"
    PROCEDURE_LOCKED = "procedure_locked"
    PROCEDURE_UNLOCKED = "procedure_unlocked"
    INITIAL_PASSWORD_REISSUED = "initial_password_reissued"
    USER_PASSWORD_RESET = "user_password_reset"
    USER_DELETED = "user_deleted"
    CERTIFICATE_REVOKED = "certificate_revoked"
    CERTIFICATE_REPLACED = "certificate_replaced"
    COMMAND_REJECTED = "command_rejected"


class AccountEvent(Event):
    """`min.account.event.v1`: the result of every account command, accepted or rejected."""

    command_id: str
    tenant_id: str
    kind: AccountEventKind
    actor: Actor | None = Field(None, description="absent only when a malformed command had none")
    user_id: str | None = None
    reason_code: str | None = Field(None, description="for command_rejected")
    message: str | None = None
    at: datetime


class AuthOutcome(StrEnum):
    AUTHENTICATED = "authenticated"
    PASSWORD_CHANGE_REQUIRED = "password_change_required"
    INVALID_CREDENTIALS = "invalid_credentials"
    INITIAL_PASSWORD_EXPIRED = "initial_password_expired"
    CLIENT_CERTIFICATE_REJECTED = "client_certificate_rejected"
    USER_LOCKED = "user_locked"
    TENANT_SUSPENDED = "tenant_suspended"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_POLICY_VIOLATED = "password_policy_violated"
    TOKEN_REFRESHED = "token_refreshed"
    SESSION_INVALID = "session_invalid"  # unknown, used or expired refresh token


class AuthAudit(Event):
    """`min.account.audit.v1`: every login and password change and its outcome; no password."""

    username: str
    tenant_id: str | None = None
    user_id: str | None = None
    action: str = Field(description="login, change_password or refresh")
    outcome: AuthOutcome
    client_certificate_fingerprint: str | None = None
    detail: list[str] = Field(default_factory=list)
    at: datetime


class TrainingRequested(Event):
    """`min.tenant.training-requested.v1`: a tenant's administrator asks the Verfahrensbetreuung
    for a training of the tenant's users (from the front end, as the administrator's commands)."""

    request_id: str = Field(min_length=1, max_length=80)
    tenant_id: str = Field(min_length=1)
    requested_by: str = Field(min_length=1, description="the administrator's user id")
    teilnehmende: int = Field(ge=1, le=100, description="how many users would take part")
    wunsch: str = Field(
        min_length=1, max_length=1000, description="topics, dates, form (on site, online)"
    )
    requested_at: datetime


class TrainingRecorded(Event):
    """`min.tenant.training-recorded.v1`: provisioning's answer to a training request: recorded
    for the Verfahrensbetreuung's list, or refused with the reason."""

    request_id: str
    tenant_id: str
    authority_name: str | None = None
    requested_by_username: str | None = None
    teilnehmende: int
    wunsch: str
    requested_at: datetime
    recorded: bool
    reason_code: str | None = None
    message: str | None = None
    answered_at: datetime
