"""The one sign-in, for the authorities' users and the portal's requesters alike."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.contract.events.account import AuthOutcome
from shared.platform.signin import (
    MAX_FAILED_LOGINS,
    Credentials,
    http_status,
    message,
    new_password_problems,
    sign_in,
)

NOW = datetime(2026, 11, 30, 10, tzinfo=UTC)
OPEN = Credentials(
    failed_logins=0, active=True, must_change_password=False, password_expires_at=None
)
INITIAL = replace(OPEN, must_change_password=True, password_expires_at=NOW + timedelta(days=14))
CERT = "ab" * 32


@pytest.mark.parametrize(
    ("account", "password_ok", "fingerprint", "outcome"),
    [
        pytest.param(OPEN, True, None, AuthOutcome.AUTHENTICATED, id="open"),
        pytest.param(None, True, None, AuthOutcome.INVALID_CREDENTIALS, id="unknown"),
        pytest.param(OPEN, False, None, AuthOutcome.INVALID_CREDENTIALS, id="wrong-password"),
        # nothing about the account shows before the password is right
        pytest.param(replace(OPEN, active=False), False, None, AuthOutcome.INVALID_CREDENTIALS,
                     id="locked-wrong-password"),
        pytest.param(replace(OPEN, suspended="Verdacht"), False, None,
                     AuthOutcome.INVALID_CREDENTIALS, id="suspended-wrong-password"),
        pytest.param(replace(OPEN, active=False), True, None, AuthOutcome.USER_LOCKED,
                     id="locked"),
        pytest.param(replace(OPEN, failed_logins=MAX_FAILED_LOGINS), True, None,
                     AuthOutcome.USER_LOCKED, id="locked-by-failures"),
        pytest.param(replace(OPEN, suspended="Verdacht"), True, None,
                     AuthOutcome.TENANT_SUSPENDED, id="suspended"),
        pytest.param(replace(OPEN, required_fingerprint=CERT), True, None,
                     AuthOutcome.CLIENT_CERTIFICATE_REJECTED, id="certificate-missing"),
        pytest.param(replace(OPEN, required_fingerprint=CERT), True, ":".join(["AB"] * 32),
                     AuthOutcome.AUTHENTICATED, id="certificate-as-the-terminator-gives-it"),
        pytest.param(INITIAL, True, None, AuthOutcome.PASSWORD_CHANGE_REQUIRED, id="initial"),
        pytest.param(replace(INITIAL, password_expires_at=NOW), True, None,
                     AuthOutcome.INITIAL_PASSWORD_EXPIRED, id="initial-expired"),
    ],
)  # fmt: skip
def test_the_order_of_the_checks(
    account: Credentials | None, password_ok: bool, fingerprint: str | None, outcome: AuthOutcome
) -> None:
    decision = sign_in(account, password_ok, fingerprint, NOW)
    assert decision.outcome is outcome
    assert decision.admitted is (
        outcome in (AuthOutcome.AUTHENTICATED, AuthOutcome.PASSWORD_CHANGE_REQUIRED)
    )
    assert decision.message == message(outcome)


def test_the_fifth_failure_locks_and_a_success_forgets_the_failures() -> None:
    account = OPEN
    for n in range(1, MAX_FAILED_LOGINS + 1):
        decision = sign_in(account, False, None, NOW)
        assert (decision.failed_logins, decision.locked_now) == (n, n == MAX_FAILED_LOGINS)
        account = replace(account, failed_logins=decision.failed_logins)
    assert sign_in(account, False, None, NOW).failed_logins == MAX_FAILED_LOGINS  # no further
    assert sign_in(replace(OPEN, failed_logins=3), True, None, NOW).failed_logins == 0


def test_one_http_mapping() -> None:
    assert {o: http_status(o) for o in AuthOutcome} == {
        AuthOutcome.AUTHENTICATED: 200,
        AuthOutcome.PASSWORD_CHANGE_REQUIRED: 200,
        AuthOutcome.PASSWORD_CHANGED: 200,
        AuthOutcome.INVALID_CREDENTIALS: 401,
        AuthOutcome.TOKEN_REFRESHED: 200,
        AuthOutcome.SESSION_INVALID: 401,
        AuthOutcome.PASSWORD_POLICY_VIOLATED: 400,
        AuthOutcome.INITIAL_PASSWORD_EXPIRED: 403,
        AuthOutcome.CLIENT_CERTIFICATE_REJECTED: 403,
        AuthOutcome.USER_LOCKED: 403,
        AuthOutcome.TENANT_SUSPENDED: 403,
    }
    assert all(message(o) for o in AuthOutcome)


def test_a_new_password_follows_the_rules_and_differs() -> None:
    assert new_password_problems("Neu-und-geheim-2026!", "Alt-und-geheim-2025!", "j.doe") == []
    assert "muss sich vom bisherigen Passwort unterscheiden" in new_password_problems(
        "Neu-und-geheim-2026!", "Neu-und-geheim-2026!", "j.doe"
    )
    assert new_password_problems("kurz", "Alt-und-geheim-2025!", "j.doe")
