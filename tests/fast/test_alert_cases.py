"""alert_cases on FastStream's in-memory broker: an evaluation alert opens a case (§ 40 Abs. 5
Satz 3 BMG), the team's signed steps (acknowledge, contact, restrict, close) are events, the mail
goes to the administrator the approval named, and nothing follows a close. The in-memory store and
the real PostgreSQL one (marked integration)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from services.alert_cases.app import AlertCases
from shared.contract.events.account import AccountProvisioned
from shared.contract.events.cases import CaseCommand
from shared.contract.events.protocol import ProtocolAlert
from shared.contract.topics import Topics
from shared.platform.settings import Settings
from tests.factories import approval, complete_application
from tests.fakes.alert_cases import MemoryCaseStore
from tests.helpers import database_url
from tests.identities import operator_key
from tests.inmemory import InMemory

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
WATCH = (Topics.CASE_STATE, Topics.CASE_COMMAND_REJECTED, Topics.CASE_CONTACT)
Cases = Callable[[], InMemory]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def cases(request: pytest.FixtureRequest) -> Cases:
    def build() -> InMemory:
        if request.param == "postgres":
            service = AlertCases(Settings(database_url=database_url()), clock=lambda: NOW)
            return InMemory(service, *WATCH)
        store = MemoryCaseStore()
        service = AlertCases(Settings(), clock=lambda: NOW)
        service.store = lambda conn: store
        return InMemory(service, *WATCH, stores=[store])

    return build


def alert(tenant_id: str) -> ProtocolAlert:
    return ProtocolAlert(
        alert_id=str(uuid.uuid4()),
        rule="repeated_subject",
        tenant_id=tenant_id,
        user_ref="9f2c4e1a7b3d5c6e8f0a1b2c",
        observed=14,
        threshold=10,
        window="24h",
        text="Eine Kennung hat dieselbe Person 14-mal in 24 Stunden abgerufen (Schwelle 10).",
        raised_at=NOW,
    )


def step(case_id: str, action: str, operator: str = "op-1", **more: Any) -> CaseCommand:
    return CaseCommand(
        command_id=f"C-{uuid.uuid4().hex[:8]}",
        case_id=case_id,
        operator_id=operator,
        action=action,
        text=f"{action} durch {operator}",
        **more,
    )


async def test_an_alert_opens_a_case_that_its_steps_carry_to_its_close(cases: Cases) -> None:
    app = complete_application(**{"administrator.email": "leitung@stadt.example"})
    tenant = str(uuid.uuid4())
    fired = alert(tenant)
    async with cases() as run:
        await run.deliver(Topics.REVIEW_DECIDED, approval(app))
        await run.deliver(
            Topics.ACCOUNT_PROVISIONED,
            AccountProvisioned(
                tenant_id=tenant, application_id=app.application_id, kind="new_tenant",
                role=app.access_type, authority_name=app.authority_name,
                administrator_user_id=str(uuid.uuid4()), administrator_username="a.b.123456",
                provisioned_at=NOW,
            ),
        )  # fmt: skip
        await run.deliver(Topics.PROTOCOL_ALERTS, fired)
        await run.deliver(Topics.PROTOCOL_ALERTS, fired)  # redelivered: one case
        case_id = fired.alert_id
        signed = operator_key("op-1")
        await run.deliver(Topics.CASE_COMMAND, step(case_id, "acknowledge"), signed_by=signed)
        await run.deliver(Topics.CASE_COMMAND, step(case_id, "contact"), signed_by=signed)
        await run.deliver(Topics.CASE_COMMAND, step(case_id, "restrict"), signed_by=signed)
        await run.deliver(
            Topics.CASE_COMMAND,
            step(case_id, "restrict", account_command_id="CLI-1"),
            signed_by=signed,
        )
        await run.deliver(Topics.CASE_COMMAND, step(case_id, "close"))  # unsigned
        await run.deliver(Topics.CASE_COMMAND, step(case_id, "close"), signed_by=signed)
        await run.deliver(Topics.CASE_COMMAND, step(case_id, "contact"), signed_by=signed)
    states = run.bodies(Topics.CASE_STATE)
    assert [(s["status"], [x["action"] for x in s["steps"]]) for s in states] == [
        ("open", []),
        ("acknowledged", ["acknowledge"]),
        ("acknowledged", ["acknowledge", "contact"]),
        ("acknowledged", ["acknowledge", "contact", "restrict"]),
        ("closed", ["acknowledge", "contact", "restrict", "close"]),
    ]
    assert states[0]["authority_name"] == app.authority_name
    assert states[3]["steps"][2]["account_command_id"] == "CLI-1"
    assert [r["reason_code"] for r in run.bodies(Topics.CASE_COMMAND_REJECTED)] == [
        "ACCOUNT_COMMAND_MISSING",
        "OPERATOR_NOT_PROVEN",
        "CASE_CLOSED",
    ]
    [mail] = run.bodies(Topics.CASE_CONTACT)
    assert (mail["to"], mail["case_id"]) == ("leitung@stadt.example", case_id)
    assert mail["alert_text"].startswith("Eine Kennung hat dieselbe Person 14-mal")


async def test_a_case_of_a_tenant_without_a_known_contact_cannot_be_mailed(cases: Cases) -> None:
    fired = alert(str(uuid.uuid4()))
    async with cases() as run:
        await run.deliver(Topics.PROTOCOL_ALERTS, fired)
        await run.deliver(
            Topics.CASE_COMMAND,
            step(fired.alert_id, "contact", "dsb-1"),
            signed_by=operator_key("dsb-1", "datenschutz"),  # the data-protection team may
        )
        await run.deliver(
            Topics.CASE_COMMAND,
            step("no-such-case", "acknowledge", "dsb-1"),
            signed_by=operator_key("dsb-1", "datenschutz"),
        )
    assert [r["reason_code"] for r in run.bodies(Topics.CASE_COMMAND_REJECTED)] == [
        "NO_CONTACT",
        "UNKNOWN_CASE",
    ]
    assert run.bodies(Topics.CASE_CONTACT) == []
