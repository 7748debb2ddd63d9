"""One sign-in for every account meldespiegel keeps: the authorities' users (provisioning's
authentication API) and the portal's requesters. Pure, no I/O: a service loads the account,
checks the password hash, asks `sign_in` and stores what the decision says.

- The order of the checks reveals nothing about an account before its password is right.
- Five failed logins in a row lock the account; a locked account does not count further.
- An initial password must be changed before anything else, and expires unchanged.
- A new password follows the password rules and differs from the old one.
- One mapping of outcomes to HTTP status codes, and one German message per outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.contract.events.account import AuthOutcome
from shared.platform.fingerprints import normalise_fingerprint
from shared.platform.passwords import password_policy_violations

MAX_FAILED_LOGINS = 5

HTTP_STATUS = {
    AuthOutcome.AUTHENTICATED: 200,
    AuthOutcome.PASSWORD_CHANGE_REQUIRED: 200,
    AuthOutcome.PASSWORD_CHANGED: 200,
    AuthOutcome.INVALID_CREDENTIALS: 401,
    AuthOutcome.PASSWORD_POLICY_VIOLATED: 400,
    AuthOutcome.TOKEN_REFRESHED: 200,
    AuthOutcome.SESSION_INVALID: 401,
}  # every other outcome: 403

MESSAGES = {
    AuthOutcome.AUTHENTICATED: "Angemeldet.",
    AuthOutcome.PASSWORD_CHANGE_REQUIRED: "Das Initialpasswort ist zuerst zu ändern.",
    AuthOutcome.PASSWORD_CHANGED: "Das Passwort ist geändert.",
    AuthOutcome.INVALID_CREDENTIALS: "Kennung oder Passwort falsch.",
    AuthOutcome.INITIAL_PASSWORD_EXPIRED: "Das Initialpasswort ist abgelaufen.",
    AuthOutcome.CLIENT_CERTIFICATE_REJECTED: "Das Client-Zertifikat passt nicht zur Kennung.",
    AuthOutcome.USER_LOCKED: "Die Kennung ist gesperrt.",
    AuthOutcome.TENANT_SUSPENDED: "Der Zugang der Behörde ist gesperrt.",
    AuthOutcome.PASSWORD_POLICY_VIOLATED: "Das neue Passwort erfüllt die Regeln nicht.",
    AuthOutcome.TOKEN_REFRESHED: "Die Anmeldung ist verlängert.",
    AuthOutcome.SESSION_INVALID: "Die Sitzung ist abgelaufen; bitte neu anmelden.",
}


def http_status(outcome: AuthOutcome) -> int:
    return HTTP_STATUS.get(outcome, 403)


def message(outcome: AuthOutcome) -> str:
    return MESSAGES.get(outcome, "Anmeldung abgelehnt.")


@dataclass(frozen=True)
class Credentials:
    """What signing in needs to know of an account, whichever service keeps it."""

    failed_logins: int
    active: bool  # may sign in at all: not locked by an administrator, still approved
    must_change_password: bool
    password_expires_at: datetime | None
    inactive_detail: str = ""
    required_fingerprint: str | None = None  # a client certificate the account is bound to
    suspended: str | None = None  # why the account's tenant is suspended, if it is
    notes: tuple[str, ...] = ()  # told with a successful sign-in (e.g. "tenant restricted")

    @property
    def locked(self) -> bool:
        return not self.active or self.failed_logins >= MAX_FAILED_LOGINS


@dataclass(frozen=True)
class Decision:
    outcome: AuthOutcome
    detail: list[str] = field(default_factory=list)
    failed_logins: int = 0  # what the account's count is afterwards
    locked_now: bool = False  # this failure locked the account

    @property
    def admitted(self) -> bool:
        """Signed in, possibly only to change the initial password."""
        return self.outcome in (AuthOutcome.AUTHENTICATED, AuthOutcome.PASSWORD_CHANGE_REQUIRED)

    @property
    def message(self) -> str:
        return message(self.outcome)


def sign_in(
    account: Credentials | None,
    password_ok: bool,
    presented_fingerprint: str | None,
    now: datetime,
) -> Decision:
    if account is None:
        return Decision(AuthOutcome.INVALID_CREDENTIALS)
    if not password_ok:
        if account.locked:  # counts no further, and says nothing of the lock
            return Decision(AuthOutcome.INVALID_CREDENTIALS, failed_logins=account.failed_logins)
        failed = account.failed_logins + 1
        return Decision(
            AuthOutcome.INVALID_CREDENTIALS,
            failed_logins=failed,
            locked_now=failed >= MAX_FAILED_LOGINS,
        )
    kept = account.failed_logins
    if account.locked:
        return Decision(AuthOutcome.USER_LOCKED, [account.inactive_detail or "locked"], kept)
    if account.suspended is not None:
        return Decision(AuthOutcome.TENANT_SUSPENDED, [account.suspended], kept)
    required = account.required_fingerprint
    if required and normalise_fingerprint(presented_fingerprint or "") != required:
        return Decision(AuthOutcome.CLIENT_CERTIFICATE_REJECTED, failed_logins=kept)
    if account.must_change_password:
        if account.password_expires_at is not None and now >= account.password_expires_at:
            return Decision(AuthOutcome.INITIAL_PASSWORD_EXPIRED, failed_logins=0)
        return Decision(AuthOutcome.PASSWORD_CHANGE_REQUIRED, failed_logins=0)
    return Decision(AuthOutcome.AUTHENTICATED, list(account.notes), failed_logins=0)


def new_password_problems(new: str, current: str, username: str) -> list[str]:
    """Why the new password cannot be taken; empty if it can."""
    problems = password_policy_violations(new, username)
    if new == current:
        problems.append("muss sich vom bisherigen Passwort unterscheiden")
    return problems
