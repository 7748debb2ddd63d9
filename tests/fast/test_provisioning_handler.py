"""provisioning on the in-memory broker: tenants, administrators, sealed credentials, account
commands and their refusals, and the authentication API. Each test runs twice: with the
in-memory store (the fast tier, no Kafka, no PostgreSQL) and with the real PostgreSQL store
(marked integration), so that the fake answers as the tables do."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.provisioning import service
from services.provisioning.api import routes
from services.provisioning.app import Provisioning, ProvisioningSettings
from services.provisioning.domain import Account, Rejection
from shared.contract.events.account import OperatorRole, TrainingRequested
from shared.contract.topics import Topics
from shared.platform import tokens
from shared.platform.pki import LETTER_KEY, TOKEN_PUB, load_ed25519_public_key
from shared.platform.sealed import credential_context, load_private_key, open_sealed
from shared.platform.settings import get_settings
from tests import identities
from tests.factories import NOW, approval, complete_application
from tests.fakes.provisioning import MemoryProvisioningStore
from tests.helpers import database_url
from tests.identities import operator_key
from tests.inmemory import InMemory

WATCH = (
    Topics.ACCOUNT_PROVISIONED,
    Topics.ACCOUNT_PROVISIONING_REFUSED,
    Topics.ACCOUNT_CREDENTIALS,
    Topics.ACCOUNT_EVENT,
    Topics.ACCOUNT_AUDIT,
    Topics.TENANT_STATE,
    Topics.ACCOUNT_COMMAND.dlq,
    Topics.TENANT_TRAINING_RECORDED,
)
OPERATOR = {"kind": "operator", "id": "ops-test"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


class Harness(InMemory):
    def __init__(self, clock: Clock, backend: str = "memory") -> None:
        common: dict[str, Any] = {"operators": ["ops-test"], "initial_password_valid_days": 14}
        if backend == "postgres":
            service = Provisioning(
                ProvisioningSettings(database_url=database_url(), **common), clock=clock
            )
            super().__init__(service, *WATCH)
        else:
            store = MemoryProvisioningStore()
            service = Provisioning(ProvisioningSettings(**common), clock=clock)
            service.store = lambda conn: store
            super().__init__(service, *WATCH, stores=[store])
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=self.service.app.as_asgi(asgi_routes=routes(self.service))
            ),
            base_url="http://provisioning",
        )

    def password(self, credentials: dict[str, Any]) -> str:
        key = load_private_key((get_settings().pki_dir / LETTER_KEY).read_bytes())
        context = credential_context(credentials["user_id"], credentials["purpose"])
        return open_sealed(key, credentials["sealed_secret"], context).decode()

    async def login(self, username: str, password: str, cert: str | None = None) -> httpx.Response:
        headers = {"X-Client-Cert-SHA256": cert} if cert else {}
        return await self.http.post(
            "/auth/login", headers=headers, json={"username": username, "password": password}
        )

    async def command(
        self, tenant_id: str, action: str, actor: dict, signed: bool = True, **fields: Any
    ) -> str:
        """An account command; an operator's signed with that operator's key unless not
        `signed`."""
        command_id = f"cmd-{uuid.uuid4().hex[:8]}"
        await self.deliver(
            Topics.ACCOUNT_COMMAND,
            {
                "command_id": command_id,
                "tenant_id": tenant_id,
                "action": action,
                "actor": actor,
                **fields,
            },
            signed_by=operator_key(actor["id"])
            if signed and actor.get("kind") == "operator"
            else None,
        )
        return command_id

    def events(self, command_id: str) -> list[dict[str, Any]]:
        return [e for e in self.bodies(Topics.ACCOUNT_EVENT) if e["command_id"] == command_id]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
async def run(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    harness = Harness(Clock(), request.param)
    async with harness:
        yield harness


async def provision(run: Harness, **changes: Any) -> tuple[dict, dict]:
    await run.deliver(Topics.REVIEW_DECIDED, approval(complete_application(**changes)))
    return run.bodies(Topics.ACCOUNT_PROVISIONED)[-1], run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1]


async def test_approval_creates_tenant_administrator_and_sealed_credentials(run: Harness) -> None:
    provisioned, credentials = await provision(run)
    assert provisioned["kind"] == "new_tenant"
    assert credentials["secret_delivery"] == "letter"
    assert credentials["address"]["town"] == "Göttingen"
    password = run.password(credentials)
    assert len(password) == 16
    assert password not in credentials["sealed_secret"]
    [state] = [
        s for s in run.bodies(Topics.TENANT_STATE) if s["tenant_id"] == provisioned["tenant_id"]
    ]
    assert state["status"] == "active"
    assert [u["kind"] for u in state["users"]] == ["administrator"]

    response = await run.login(credentials["username"], password)
    assert (response.status_code, response.json()["outcome"]) == (200, "password_change_required")
    assert (await run.login(credentials["username"], "falsch")).status_code == 401
    weak = await run.http.post(
        "/auth/password",
        json={
            "username": credentials["username"],
            "current_password": password,
            "new_password": "kurz",
        },
    )
    assert weak.status_code == 400
    changed = await run.http.post(
        "/auth/password",
        json={
            "username": credentials["username"],
            "current_password": password,
            "new_password": "Neues-Passwort-2026",
        },
    )
    assert (changed.status_code, changed.json()["outcome"]) == (200, "password_changed")
    final = await run.login(credentials["username"], "Neues-Passwort-2026")
    assert (final.status_code, final.json()["outcome"]) == (200, "authenticated")
    outcomes = [
        a["outcome"]
        for a in run.bodies(Topics.ACCOUNT_AUDIT)
        if a["username"] == credentials["username"]
    ]
    assert outcomes == [
        "password_change_required",
        "invalid_credentials",
        "password_change_required",
        "password_policy_violated",
        "password_change_required",
        "password_changed",
        "authenticated",
    ]


async def test_two_roles_are_two_tenants_even_for_the_same_person(run: Harness) -> None:
    name = f"Polizeiinspektion Celle {uuid.uuid4().hex[:6]}"
    simple = complete_application(**{"authority.kind": "polizei"})
    security = complete_application(
        **{
            "authority.kind": "polizei",
            "access_type": "sicherheitsbehoerde",
            "logging_arrangement": "eigenprotokollierung",
        }
    )
    for app in (simple, security):
        app.authority_name = name
        app.authority_key = f"name:{name.lower()}|37083"
        await run.deliver(Topics.REVIEW_DECIDED, approval(app))
    first, second = run.bodies(Topics.ACCOUNT_PROVISIONED)[-2:]
    assert first["tenant_id"] != second["tenant_id"]
    assert first["administrator_username"] != second["administrator_username"]
    states = {s["tenant_id"]: s for s in run.bodies(Topics.TENANT_STATE)}
    assert states[second["tenant_id"]]["data_scope"] == "bmg_34_1_satz_1_und_2"
    assert states[second["tenant_id"]]["logging_arrangement"] == "eigenprotokollierung"


async def test_another_states_central_body_becomes_the_tenant_land_nn(run: Harness) -> None:
    """NMeldVO 2022 § 26 Abs. 1: the registered central body of Bayern is the tenant "Land 09"."""
    app = complete_application(**{"authority.kind": "zentrale_stelle_land"})
    app.authority_state = "09"
    app.authority_name = f"Zentrale Stelle Bayern {uuid.uuid4().hex[:6]}"
    app.authority_key = f"name:{app.authority_name.lower()}|80331"
    await run.deliver(Topics.REVIEW_DECIDED, approval(app))
    done = run.bodies(Topics.ACCOUNT_PROVISIONED)[-1]
    state = [s for s in run.bodies(Topics.TENANT_STATE) if s["tenant_id"] == done["tenant_id"]][-1]
    assert (state["authority_kind"], state["land"]) == ("zentrale_stelle_land", "09")
    police = complete_application(**{"authority.kind": "polizei"})
    await run.deliver(Topics.REVIEW_DECIDED, approval(police))
    other = run.bodies(Topics.TENANT_STATE)[-1]
    assert other["land"] is None


async def test_administrator_change_replaces_the_administrator(run: Harness) -> None:
    provisioned, old = await provision(run)
    app = complete_application(
        only_administrator_change=True,
        **{"administrator.first_name": "Björn", "administrator.surname": "Großkopf"},
    )
    tenant_state = next(
        s for s in run.bodies(Topics.TENANT_STATE) if s["tenant_id"] == provisioned["tenant_id"]
    )
    app.authority_key = tenant_state["authority_key"]
    await run.deliver(Topics.REVIEW_DECIDED, approval(app))
    change = run.bodies(Topics.ACCOUNT_PROVISIONED)[-1]
    assert (change["kind"], change["tenant_id"]) == (
        "administrator_change",
        provisioned["tenant_id"],
    )
    users = run.bodies(Topics.TENANT_STATE)[-1]["users"]
    assert {(u["username"], u["status"]) for u in users} == {
        (old["username"], "replaced"),
        (change["administrator_username"], "active"),
    }
    assert (await run.login(old["username"], run.password(old))).json()["outcome"] == "user_locked"


async def test_administrator_change_without_tenant_is_refused(run: Harness) -> None:
    app = complete_application(only_administrator_change=True)
    await run.deliver(Topics.REVIEW_DECIDED, approval(app))
    [refused] = [
        r
        for r in run.bodies(Topics.ACCOUNT_PROVISIONING_REFUSED)
        if r["application_id"] == app.application_id
    ]
    assert refused["reason_code"] == "NO_TENANT_FOR_ADMINISTRATOR_CHANGE"


async def test_initial_password_expires(run: Harness) -> None:
    _, credentials = await provision(run)
    run.service.clock.now = NOW + timedelta(days=14)  # type: ignore[attr-defined]
    response = await run.login(credentials["username"], run.password(credentials))
    assert (response.status_code, response.json()["outcome"]) == (403, "initial_password_expired")


async def test_client_certificate_restriction_at_login(run: Harness) -> None:
    fingerprint = "ab" * 32
    _, credentials = await provision(run, client_certificate_fingerprint=fingerprint)
    password = run.password(credentials)
    assert (await run.login(credentials["username"], password)).json()[
        "outcome"
    ] == "client_certificate_rejected"
    assert (await run.login(credentials["username"], password, "cd" * 32)).status_code == 403
    response = await run.login(credentials["username"], password, ":".join(["AB"] * 32))
    assert response.json()["outcome"] == "password_change_required"


async def test_administrator_creates_locks_and_unlocks_a_user(run: Harness) -> None:
    provisioned, _ = await provision(run)
    tenant, actor = (
        provisioned["tenant_id"],
        {"kind": "administrator", "id": provisioned["administrator_user_id"]},
    )
    created = await run.command(
        tenant,
        "create_user",
        actor,
        new_user={
            "first_name": "Anneliese",
            "surname": "Schäfer",
            "email": "a.schaefer@example.org",
        },
    )
    [event] = run.events(created)
    assert event["kind"] == "user_created"
    credentials = run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1]
    assert (credentials["purpose"], credentials["user_id"]) == ("user_initial", event["user_id"])
    locked = await run.command(tenant, "lock_user", actor, user_id=event["user_id"])
    assert run.events(locked)[0]["kind"] == "user_locked"
    assert (await run.login(credentials["username"], run.password(credentials))).json()[
        "outcome"
    ] == "user_locked"
    unlocked = await run.command(tenant, "unlock_user", actor, user_id=event["user_id"])
    assert run.events(unlocked)[0]["kind"] == "user_unlocked"
    again = await run.command(tenant, "unlock_user", actor, user_id=event["user_id"])
    assert run.events(again)[0]["reason_code"] == "USER_NOT_LOCKED"
    state = run.bodies(Topics.TENANT_STATE)[-1]
    assert {u["username"]: u["status"] for u in state["users"]}[credentials["username"]] == "active"


async def test_training_requests_of_administrators_are_recorded_once_others_refused(
    run: Harness,
) -> None:
    """The seed: tenants ask for trainings, and the Verfahrensbetreuung lists them."""
    provisioned, _ = await provision(run)
    tenant, admin = provisioned["tenant_id"], provisioned["administrator_user_id"]

    def request(request_id: str, tenant_id: str, by: str) -> TrainingRequested:
        return TrainingRequested(
            request_id=request_id,
            tenant_id=tenant_id,
            requested_by=by,
            teilnehmende=12,
            wunsch="Einführung für die Sachbearbeitung, vor Ort, im Januar",
            requested_at=NOW,
        )

    one, two, three = (f"S-{uuid.uuid4().hex[:8]}" for _ in range(3))
    await run.deliver(Topics.TENANT_TRAINING_REQUESTED, request(one, tenant, admin))
    await run.deliver(Topics.TENANT_TRAINING_REQUESTED, request(one, tenant, admin))  # again
    stranger = str(uuid.uuid4())
    await run.deliver(Topics.TENANT_TRAINING_REQUESTED, request(two, tenant, stranger))
    await run.deliver(Topics.TENANT_TRAINING_REQUESTED, request(three, "no-tenant", admin))
    answers = run.bodies(Topics.TENANT_TRAINING_RECORDED)
    assert [(a["request_id"], a["recorded"], a["reason_code"]) for a in answers] == [
        (one, True, None),
        (two, False, "NOT_AN_ADMINISTRATOR"),
        (three, False, "UNKNOWN_TENANT"),
    ]
    assert answers[0]["requested_by_username"] == provisioned["administrator_username"]
    assert answers[0]["authority_name"]


async def test_operator_restricts_suspends_and_lifts_a_tenant(run: Harness) -> None:
    provisioned, admin = await provision(run)
    tenant = provisioned["tenant_id"]
    no_reason = await run.command(tenant, "suspend_tenant", OPERATOR)
    assert run.events(no_reason)[0]["reason_code"] == "REASON_REQUIRED"
    restricted = await run.command(
        tenant, "restrict_tenant", OPERATOR, reason="Sicherheitsmangel: veralteter Browser"
    )
    assert run.events(restricted)[0]["kind"] == "tenant_restricted"
    assert run.bodies(Topics.TENANT_STATE)[-1]["status"] == "restricted"
    suspended = await run.command(
        tenant, "suspend_tenant", OPERATOR, reason="Verdacht auf unzulässige Abrufe"
    )
    assert run.events(suspended)[0]["kind"] == "tenant_suspended"
    response = await run.login(admin["username"], run.password(admin))
    assert (response.status_code, response.json()["outcome"]) == (403, "tenant_suspended")
    admin_tries = await run.command(
        tenant,
        "create_user",
        {"kind": "administrator", "id": provisioned["administrator_user_id"]},
        new_user={"first_name": "A", "surname": "B", "email": "a@b.example"},
    )
    assert run.events(admin_tries)[0]["reason_code"] == "TENANT_SUSPENDED"
    lifted = await run.command(tenant, "lift_tenant", OPERATOR, reason="Prüfung abgeschlossen")
    assert run.events(lifted)[0]["kind"] == "tenant_lifted"
    state = run.bodies(Topics.TENANT_STATE)[-1]
    assert (state["status"], state["status_reason"]) == ("active", "Prüfung abgeschlossen")


async def test_admin_password_reset_only_with_secure_mail(run: Harness) -> None:
    from shared.platform.pki import CA_CERT, CA_KEY, issue_smime

    pki = get_settings().pki_dir
    cert, _ = issue_smime(
        (pki / CA_CERT).read_bytes(),
        (pki / CA_KEY).read_bytes(),
        "joerdis@example.org",
        "Jördis Weißmüller",
    )
    without, _ = await provision(run)
    refused = await run.command(without["tenant_id"], "reset_admin_password", OPERATOR)
    assert run.events(refused)[0]["reason_code"] == "NO_SECURE_MAIL_ADDRESS"

    with_smime, first = await provision(
        run, **{"administrator.smime_certificate_pem": cert.decode()}
    )
    reset = await run.command(with_smime["tenant_id"], "reset_admin_password", OPERATOR)
    assert run.events(reset)[0]["kind"] == "admin_password_reset"
    credentials = run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1]
    assert (credentials["purpose"], credentials["secret_delivery"]) == (
        "administrator_reset",
        "smime_mail",
    )
    assert credentials["smime_certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    new_password = run.password(credentials)
    assert new_password != run.password(first)
    assert (await run.login(first["username"], new_password)).json()[
        "outcome"
    ] == "password_change_required"


async def test_unauthorised_and_malformed_commands_are_answered(run: Harness) -> None:
    provisioned, _ = await provision(run)
    tenant = provisioned["tenant_id"]
    stranger = await run.command(
        tenant,
        "create_user",
        {"kind": "administrator", "id": str(uuid.uuid4())},
        new_user={"first_name": "A", "surname": "B", "email": "a@b.c"},
    )
    unknown_op = await run.command(
        tenant, "suspend_tenant", {"kind": "operator", "id": "x"}, reason="r"
    )
    no_user = await run.command(
        tenant, "create_user", {"kind": "administrator", "id": provisioned["administrator_user_id"]}
    )
    bad_tenant = await run.command("kein-mandant", "lift_tenant", OPERATOR, reason="r")
    codes = [run.events(c)[0]["reason_code"] for c in (stranger, unknown_op, no_user, bad_tenant)]
    assert codes == [
        "NOT_AN_ACTIVE_ADMINISTRATOR_OF_TENANT",
        "UNKNOWN_OPERATOR",
        "NEW_USER_MISSING",
        "UNKNOWN_TENANT",
    ]
    malformed = f"bad-{uuid.uuid4().hex[:6]}"
    await run.deliver(
        Topics.ACCOUNT_COMMAND,
        {"command_id": malformed, "tenant_id": tenant, "action": "explode", "actor": OPERATOR},
    )
    [rejected] = run.events(malformed)
    assert (rejected["kind"], rejected["reason_code"]) == ("command_rejected", "MALFORMED_COMMAND")
    assert "action" in rejected["message"]
    assert rejected["actor"] == OPERATOR
    await run.deliver(Topics.ACCOUNT_COMMAND, {"no": "command"})  # not even a command id
    assert any(e["command_id"] == "unknown" for e in run.bodies(Topics.ACCOUNT_EVENT))
    assert run.messages[Topics.ACCOUNT_COMMAND.dlq] == []


async def test_a_command_id_is_applied_once(run: Harness) -> None:
    provisioned, _ = await provision(run)
    body = {
        "command_id": f"once-{uuid.uuid4().hex[:6]}",
        "tenant_id": provisioned["tenant_id"],
        "action": "restrict_tenant",
        "actor": OPERATOR,
        "reason": "Mangel",
    }
    ops = operator_key("ops-test")
    await run.deliver(Topics.ACCOUNT_COMMAND, body, signed_by=ops)
    await run.deliver(Topics.ACCOUNT_COMMAND, body, signed_by=ops)  # the same command again
    assert [e["kind"] for e in run.events(body["command_id"])] == ["tenant_restricted"]


async def test_bad_api_requests_get_clear_answers(run: Harness) -> None:
    json_type = {"content-type": "application/json"}
    no_json = await run.http.post("/auth/login", content=b"kein json", headers=json_type)
    assert no_json.status_code == 400
    form = await run.http.post("/auth/login", data={"username": "x", "password": "y"})
    assert (form.status_code, form.json()["error"]) == (
        415,
        "the body must be JSON (Content-Type: application/json)",
    )
    nul = await run.http.post("/auth/login", json={"username": "admin\x00", "password": "y"})
    assert nul.status_code == 400
    deep = await run.http.post("/auth/login", content=b"[" * 5000 + b"]" * 5000, headers=json_type)
    assert deep.status_code == 400
    assert (await run.http.post("/auth/login", json={"username": "x"})).status_code == 400
    assert (await run.http.get("/auth/login")).status_code == 405
    assert (await run.http.get("/health")).json() == {"status": "ok"}


async def test_procedures_and_the_34a_abs_6_authorisation_by_command(run: Harness) -> None:
    """NMeldVO 2022 § 26 Abs. 2: procedures registered and locked by command, shown in the
    tenant state the router authorises from; § 34a Abs. 6 BMG: no authorisation outside police,
    Verfassungsschutz, BND, MAD and Zollfahndung."""
    provisioned, _ = await provision(run)
    tenant = provisioned["tenant_id"]
    actor = {"kind": "administrator", "id": provisioned["administrator_user_id"]}
    procedure = {
        "name": "OK.EWO-Schnittstelle",
        "verantwortliche_person": "Dr. Ruth Ahrens",
        "certificate_fingerprint": ":".join(["5E"] * 32),
    }
    registered = await run.command(tenant, "register_procedure", actor, new_procedure=procedure)
    assert run.events(registered)[0]["kind"] == "procedure_registered"
    state = run.bodies(Topics.TENANT_STATE)[-1]
    assert state["authority_kind"] is not None
    assert state["verfahren"] == [
        {
            "name": "OK.EWO-Schnittstelle",
            "verantwortliche_person": "Dr. Ruth Ahrens",
            "certificate_fingerprint": "5e" * 32,
            "status": "active",
        }
    ]
    twice = await run.command(tenant, "register_procedure", actor, new_procedure=procedure)
    assert run.events(twice)[0]["reason_code"] == "PROCEDURE_EXISTS"
    locked = await run.command(
        tenant, "lock_procedure", OPERATOR, procedure_name="OK.EWO-Schnittstelle"
    )
    assert run.events(locked)[0]["kind"] == "procedure_locked"
    assert run.bodies(Topics.TENANT_STATE)[-1]["verfahren"][0]["status"] == "locked"
    refused = await run.command(
        tenant, "grant_sperrdaten", actor, user_id=provisioned["administrator_user_id"]
    )
    assert run.events(refused)[0]["reason_code"] == "SPERRDATEN_NICHT_ZULAESSIG"


# -- access tokens, sessions, the evaluation authorisation, operator accounts ---------------

NEW_PASSWORD = "Neues-Passwort-2026"


async def signed_in(run: Harness, credentials: dict) -> dict:
    """Changes the initial password and signs in: the answer with the tokens."""
    changed = await run.http.post(
        "/auth/password",
        json={
            "username": credentials["username"],
            "current_password": run.password(credentials),
            "new_password": NEW_PASSWORD,
        },
    )
    assert changed.json()["outcome"] == "password_changed"
    answer = await run.login(credentials["username"], NEW_PASSWORD)
    assert answer.status_code == 200
    return answer.json()


async def with_user(
    run: Harness, provisioned: dict, first_name: str, surname: str
) -> tuple[str, dict, dict]:
    """A user the tenant's administrator created: (tenant, the administrator as actor, the
    user's credentials event)."""
    tenant = provisioned["tenant_id"]
    admin = {"kind": "administrator", "id": provisioned["administrator_user_id"]}
    await run.command(
        tenant,
        "create_user",
        admin,
        new_user={"first_name": first_name, "surname": surname, "email": "u@example.org"},
    )
    return tenant, admin, run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1]


def token_key() -> Any:
    return load_ed25519_public_key(get_settings().pki_dir / TOKEN_PUB)


async def test_sign_in_gives_a_signed_token_only_after_the_password_change(run: Harness) -> None:
    provisioned, credentials = await provision(run)
    first = (await run.login(credentials["username"], run.password(credentials))).json()
    assert first["outcome"] == "password_change_required"
    assert "access_token" not in first  # the initial password opens nothing but its change
    answer = await signed_in(run, credentials)
    assert answer["token_type"] == "Bearer"
    identity = tokens.verify(token_key(), answer["access_token"], run.service.clock())
    assert (identity.user_id, identity.tenant_id, identity.roles) == (
        provisioned["administrator_user_id"],
        provisioned["tenant_id"],
        ("administrator",),
    )
    assert identity.authorisations == ("auswertung",)  # an administrator evaluates by office
    assert answer["expires_at"] == identity.expires_at.isoformat()


async def test_a_refresh_token_is_used_once_and_a_second_use_ends_the_sessions(
    run: Harness,
) -> None:
    _, credentials = await provision(run)
    answer = await signed_in(run, credentials)
    run.service.clock.now = NOW + timedelta(minutes=10)  # type: ignore[attr-defined]
    first = await run.http.post("/auth/refresh", json={"refresh_token": answer["refresh_token"]})
    assert (first.status_code, first.json()["outcome"]) == (200, "token_refreshed")
    renewed = first.json()
    assert renewed["refresh_token"] != answer["refresh_token"]
    tokens.verify(token_key(), renewed["access_token"], run.service.clock())

    stolen = await run.http.post("/auth/refresh", json={"refresh_token": answer["refresh_token"]})
    assert (stolen.status_code, stolen.json()["outcome"]) == (401, "session_invalid")
    # the rightful holder's newer token is now void too: one of the two was a thief
    after = await run.http.post("/auth/refresh", json={"refresh_token": renewed["refresh_token"]})
    assert (after.status_code, after.json()["outcome"]) == (401, "session_invalid")
    garbage = await run.http.post("/auth/refresh", json={"refresh_token": "x.y"})
    assert garbage.status_code == 401
    audit = [a for a in run.bodies(Topics.ACCOUNT_AUDIT) if a["action"] == "refresh"]
    assert [a["outcome"] for a in audit] == [
        "token_refreshed",
        "session_invalid",
        "session_invalid",
        "session_invalid",
    ]
    assert "used twice" in audit[1]["detail"][0]


async def test_a_session_ends_after_a_working_day(run: Harness) -> None:
    _, credentials = await provision(run)
    answer = await signed_in(run, credentials)
    run.service.clock.now = NOW + timedelta(hours=8)  # type: ignore[attr-defined]
    late = await run.http.post("/auth/refresh", json={"refresh_token": answer["refresh_token"]})
    assert (late.status_code, late.json()["outcome"]) == (401, "session_invalid")


async def test_a_locked_user_or_suspended_tenant_is_refused_at_refresh(run: Harness) -> None:
    provisioned, credentials = await provision(run)
    tenant, admin, user_credentials = await with_user(run, provisioned, "Ute", "Ahrens")
    user = await signed_in(run, user_credentials)
    admin_answer = await signed_in(run, credentials)

    await run.command(tenant, "lock_user", admin, user_id=user_credentials["user_id"])
    refused = await run.http.post("/auth/refresh", json={"refresh_token": user["refresh_token"]})
    assert (refused.status_code, refused.json()["outcome"]) == (403, "user_locked")

    await run.command(tenant, "suspend_tenant", OPERATOR, reason="Verdacht auf Missbrauch")
    suspended = await run.http.post(
        "/auth/refresh", json={"refresh_token": admin_answer["refresh_token"]}
    )
    assert (suspended.status_code, suspended.json()["outcome"]) == (403, "tenant_suspended")
    # the refusal ended the session: lifting the suspension does not revive the token
    await run.command(tenant, "lift_tenant", OPERATOR, reason="Verdacht ausgeräumt")
    again = await run.http.post(
        "/auth/refresh", json={"refresh_token": admin_answer["refresh_token"]}
    )
    assert again.json()["outcome"] == "session_invalid"


async def test_the_evaluation_authorisation_is_granted_by_the_administrator(
    run: Harness,
) -> None:
    provisioned, _ = await provision(run)
    tenant, admin, user_credentials = await with_user(run, provisioned, "Eva", "Lüders")
    user_id = user_credentials["user_id"]
    before = await signed_in(run, user_credentials)
    assert before["authorisations"] == []

    granted = await run.command(tenant, "grant_auswertung", admin, user_id=user_id)
    assert run.events(granted)[0]["kind"] == "auswertung_granted"
    state = run.bodies(Topics.TENANT_STATE)[-1]
    assert {u["user_id"]: u["auswertung_berechtigt"] for u in state["users"]}[user_id] is True
    # the old session names the old authorisations: it ended, a new sign-in names the new ones
    stale = await run.http.post("/auth/refresh", json={"refresh_token": before["refresh_token"]})
    assert stale.json()["outcome"] == "session_invalid"
    after = (await run.login(user_credentials["username"], NEW_PASSWORD)).json()
    assert after["authorisations"] == ["auswertung"]
    twice = await run.command(tenant, "grant_auswertung", admin, user_id=user_id)
    assert run.events(twice)[0]["reason_code"] == "UNCHANGED"
    revoked = await run.command(tenant, "revoke_auswertung", admin, user_id=user_id)
    assert run.events(revoked)[0]["kind"] == "auswertung_revoked"


async def test_an_operator_account_signs_in_without_a_tenant(run: Harness) -> None:
    name = f"dsb.{uuid.uuid4().hex[:6]}"
    (account, password), _ = await run.service.messaging.run(
        lambda conn: _operator(run, conn, name)
    )
    assert isinstance(account, Account)
    assert (await run.login(name, password)).json()["outcome"] == "password_change_required"
    changed = await run.http.post(
        "/auth/password",
        json={"username": name, "current_password": password, "new_password": NEW_PASSWORD},
    )
    assert changed.json()["outcome"] == "password_changed"
    answer = (await run.login(name, NEW_PASSWORD)).json()
    identity = tokens.verify(token_key(), answer["access_token"], run.service.clock())
    assert (identity.tenant_id, identity.roles, identity.principal) == (
        None,
        ("datenschutz",),
        f"operator:{name}",
    )
    (again, _), _ = await run.service.messaging.run(lambda conn: _operator(run, conn, name))
    assert isinstance(again, Rejection)
    assert again.code == "USERNAME_TAKEN"
    (bad, _), _ = await run.service.messaging.run(lambda conn: _operator(run, conn, "X Y"))
    assert isinstance(bad, Rejection)
    assert bad.code == "USERNAME_INVALID"


async def _operator(run: Harness, conn: Any, name: str) -> tuple[Any, list]:
    result = await service.add_operator_account(
        run.service.store(conn),
        name,
        OperatorRole.DATENSCHUTZ,
        "Dana",
        "Schütte",
        "dsb@meldespiegel.example",
        run.service.clock(),
        run.service.deps,
    )
    return result, []


async def test_an_operator_command_without_the_operators_signature_changes_nothing(
    run: Harness,
) -> None:
    """The command names ops-test; unsigned, or signed by another operator, it is rejected with
    the reason and the tenant stays as it is."""
    provisioned, _ = await provision(run)
    tenant = provisioned["tenant_id"]
    unsigned = await run.command(tenant, "suspend_tenant", OPERATOR, signed=False, reason="r")
    forged_id = f"cmd-{uuid.uuid4().hex[:8]}"
    await run.deliver(
        Topics.ACCOUNT_COMMAND,
        {
            "command_id": forged_id,
            "tenant_id": tenant,
            "action": "suspend_tenant",
            "actor": OPERATOR,
            "reason": "r",
        },
        signed_by=operator_key("ops-someone-else"),
    )
    assert [run.events(c)[0]["reason_code"] for c in (unsigned, forged_id)] == [
        "OPERATOR_NOT_PROVEN",
        "OPERATOR_MISMATCH",
    ]
    states = [s for s in run.bodies(Topics.TENANT_STATE) if s["tenant_id"] == tenant]
    assert [s["status"] for s in states] == ["active"]
    signed = await run.command(tenant, "suspend_tenant", OPERATOR, reason="Verdacht")
    assert run.events(signed)[0]["kind"] == "tenant_suspended"


# -- the rest of an account's life ---------------------------------------------------------


async def test_an_unused_initial_password_is_issued_anew_by_letter(run: Harness) -> None:
    provisioned, _ = await provision(run)
    tenant, admin, first = await with_user(run, provisioned, "Ina", "Kruse")
    run.service.clock.now = NOW + timedelta(days=15)  # type: ignore[attr-defined]
    expired = await run.login(first["username"], run.password(first))
    assert expired.json()["outcome"] == "initial_password_expired"

    reissued = await run.command(
        tenant, "reissue_initial_password", admin, user_id=first["user_id"]
    )
    assert run.events(reissued)[0]["kind"] == "initial_password_reissued"
    second = run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1]
    assert (second["purpose"], second["secret_delivery"]) == ("initial_reissued", "letter")
    assert second["user_id"] == first["user_id"]
    assert (await run.login(first["username"], run.password(first))).status_code == 401
    fresh = await run.login(first["username"], run.password(second))
    assert fresh.json()["outcome"] == "password_change_required"

    # the administrator's own comes from the Verfahrensbetreuung
    own = await run.command(
        tenant, "reissue_initial_password", admin, user_id=provisioned["administrator_user_id"]
    )
    assert run.events(own)[0]["reason_code"] == "ADMINISTRATOR_BY_OPERATOR"
    by_operator = await run.command(
        tenant, "reissue_initial_password", OPERATOR, user_id=provisioned["administrator_user_id"]
    )
    assert run.events(by_operator)[0]["kind"] == "initial_password_reissued"
    # once changed, an initial password is not reissued: that is a reset
    await signed_in(run, run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1])
    again = await run.command(
        tenant, "reissue_initial_password", OPERATOR, user_id=provisioned["administrator_user_id"]
    )
    assert run.events(again)[0]["reason_code"] == "INITIAL_PASSWORD_ALREADY_CHANGED"


async def test_the_administrator_resets_a_users_password_by_letter_or_encrypted_mail(
    run: Harness,
) -> None:
    provisioned, admin_credentials = await provision(run)
    tenant, admin, credentials = await with_user(run, provisioned, "Ole", "Brandt")
    session = await signed_in(run, credentials)
    reset = await run.command(tenant, "reset_user_password", admin, user_id=credentials["user_id"])
    assert run.events(reset)[0]["kind"] == "user_password_reset"
    letter = run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1]
    assert (letter["purpose"], letter["secret_delivery"]) == ("user_reset", "letter")
    assert (await run.login(credentials["username"], NEW_PASSWORD)).status_code == 401
    assert (await run.login(credentials["username"], run.password(letter))).json()[
        "outcome"
    ] == "password_change_required"
    ended = await run.http.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert ended.json()["outcome"] == "session_invalid"  # the old sessions end with the password

    smime = admin_credentials["smime_certificate_pem"] or "-----BEGIN CERTIFICATE-----"
    await run.command(
        tenant,
        "create_user",
        admin,
        new_user={
            "first_name": "Mia",
            "surname": "Sommer",
            "email": "m.sommer@example.org",
            "smime_certificate_pem": smime,
        },
    )
    with_certificate = run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1]
    by_mail = await run.command(
        tenant, "reset_user_password", admin, user_id=with_certificate["user_id"]
    )
    assert run.events(by_mail)[0]["kind"] == "user_password_reset"
    mail = run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1]
    assert (mail["secret_delivery"], mail["smime_certificate_pem"]) == ("smime_mail", smime)
    not_a_user = await run.command(
        tenant, "reset_user_password", admin, user_id=provisioned["administrator_user_id"]
    )
    assert run.events(not_a_user)[0]["reason_code"] == "NOT_A_USER"


async def test_a_deleted_user_can_neither_sign_in_nor_retrieve(run: Harness) -> None:
    provisioned, _ = await provision(run)
    tenant, admin, credentials = await with_user(run, provisioned, "Tom", "Lange")
    session = await signed_in(run, credentials)
    deleted = await run.command(tenant, "delete_user", admin, user_id=credentials["user_id"])
    assert run.events(deleted)[0]["kind"] == "user_deleted"
    state = run.bodies(Topics.TENANT_STATE)[-1]  # the retrieval path authorises from this
    assert {u["user_id"]: u["status"] for u in state["users"]}[credentials["user_id"]] == "deleted"
    refused = await run.login(credentials["username"], NEW_PASSWORD)
    assert (refused.status_code, refused.json()["outcome"]) == (403, "user_locked")
    ended = await run.http.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert ended.json()["outcome"] == "session_invalid"
    codes = [
        run.events(await run.command(tenant, action, admin, user_id=user_id))[0]["reason_code"]
        for action, user_id in (
            ("delete_user", credentials["user_id"]),
            ("unlock_user", credentials["user_id"]),
            ("delete_user", provisioned["administrator_user_id"]),
        )
    ]
    assert codes == ["UNCHANGED", "USER_NOT_ACTIVE", "ADMINISTRATOR_NOT_DELETED"]


async def test_a_revoked_client_certificate_signs_nobody_in_until_it_is_replaced(
    run: Harness,
) -> None:
    provisioned, _ = await provision(run)
    tenant = provisioned["tenant_id"]
    admin = {"kind": "administrator", "id": provisioned["administrator_user_id"]}
    old, new = "ab" * 32, "cd" * 32
    await run.command(
        tenant,
        "create_user",
        admin,
        new_user={
            "first_name": "Zoe",
            "surname": "Peters",
            "email": "z.peters@example.org",
            "certificate_fingerprint": old,
        },
    )
    credentials = run.bodies(Topics.ACCOUNT_CREDENTIALS)[-1]
    password = run.password(credentials)
    assert (await run.login(credentials["username"], password, old)).json()[
        "outcome"
    ] == "password_change_required"
    revoked = await run.command(tenant, "revoke_certificate", admin, user_id=credentials["user_id"])
    assert run.events(revoked)[0]["kind"] == "certificate_revoked"
    for presented in (old, None):
        answer = await run.login(credentials["username"], password, presented)
        assert answer.json()["outcome"] == "client_certificate_rejected"
    bad = await run.command(
        tenant,
        "replace_certificate",
        admin,
        user_id=credentials["user_id"],
        certificate_fingerprint="not-a-fingerprint",
    )
    assert run.events(bad)[0]["reason_code"] == "FINGERPRINT_INVALID"
    replaced = await run.command(
        tenant,
        "replace_certificate",
        admin,
        user_id=credentials["user_id"],
        certificate_fingerprint=":".join(["CD"] * 32),
    )
    assert run.events(replaced)[0]["kind"] == "certificate_replaced"
    assert (await run.login(credentials["username"], password, old)).json()[
        "outcome"
    ] == "client_certificate_rejected"
    assert (await run.login(credentials["username"], password, new)).json()[
        "outcome"
    ] == "password_change_required"


async def test_the_security_audit_shows_users_status_history_commands_and_sign_ins(
    run: Harness,
) -> None:
    """Seed 000: the operator audits the tenants' accounts; an operator account reads any
    tenant's, the tenant's own administrator its own, nobody else."""
    provisioned, credentials = await provision(run)
    tenant, admin, user = await with_user(run, provisioned, "Jan", "Ahlers")
    await signed_in(run, credentials)
    await run.command(tenant, "restrict_tenant", OPERATOR, reason="TLS veraltet")
    await run.command(tenant, "lift_tenant", OPERATOR, reason="TLS erneuert")
    await run.command(tenant, "delete_user", admin, user_id=user["user_id"])
    revision, _ = identities.operator(OperatorRole.REVISION, run.service.clock(), "revision")

    async def get(token: str | None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await run.http.get("/accounts/audit", params=params, headers=headers)

    found = (await get(revision, tenant_id=tenant)).json()
    assert {u["username"]: u["status"] for u in found["users"]} == {
        credentials["username"]: "active",
        user["username"]: "deleted",
    }
    assert [h["status"] for h in found["status_history"]] == ["restricted", "active"]
    assert [c["action"] for c in found["commands"]] == [
        "create_user",
        "restrict_tenant",
        "lift_tenant",
        "delete_user",
    ]
    assert [s["username"] for s in found["sign_ins"]] == [credentials["username"]]
    header, *rows = (await get(revision, tenant_id=tenant, format="csv")).text.splitlines()
    assert header == "at,what,who,detail"
    assert [r.split(",")[1] for r in rows].count("sign_in") == 1

    own_admin, _ = identities.signed(
        username=credentials["username"],
        tenant_id=tenant,
        roles=["administrator"],
        authorisations=[],
        now=run.service.clock(),
    )
    assert (await get(own_admin, tenant_id=tenant)).status_code == 200
    other_admin, _ = identities.tenant_user(str(uuid.uuid4()), run.service.clock())
    assert (await get(other_admin, tenant_id=tenant)).status_code == 403
    assert (await get(None, tenant_id=tenant)).status_code == 401
    assert (await get(revision, tenant_id=str(uuid.uuid4()))).status_code == 404
    assert (await get(revision)).status_code == 400


async def test_a_refresh_comes_with_the_client_certificate_the_account_is_bound_to(
    run: Harness,
) -> None:
    fingerprint = "ab" * 32
    _, credentials = await provision(run, client_certificate_fingerprint=fingerprint)
    cert = {"X-Client-Cert-SHA256": fingerprint}
    changed = await run.http.post(
        "/auth/password",
        headers=cert,
        json={
            "username": credentials["username"],
            "current_password": run.password(credentials),
            "new_password": NEW_PASSWORD,
        },
    )
    assert changed.json()["outcome"] == "password_changed"
    signed = (await run.login(credentials["username"], NEW_PASSWORD, fingerprint)).json()
    renewed = await run.http.post(
        "/auth/refresh", headers=cert, json={"refresh_token": signed["refresh_token"]}
    )
    assert renewed.json()["outcome"] == "token_refreshed"
    without = await run.http.post(
        "/auth/refresh", json={"refresh_token": renewed.json()["refresh_token"]}
    )
    assert (without.status_code, without.json()["outcome"]) == (403, "client_certificate_rejected")
