"""intake's handler in FastStream's in-memory broker (fast), with the real PostgreSQL store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.intake import service
from services.intake.app import Intake
from shared.contract.topics import Topics
from shared.platform.settings import Settings
from tests.helpers import application, database_url
from tests.inmemory import InMemory

pytestmark = pytest.mark.integration
FIXED = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
SUBMITTED = Topics.APPLICATION_SUBMITTED


def intake(**settings: Any) -> InMemory:
    service_ = Intake(
        Settings(database_url=database_url(), retry_backoff_seconds=0.001, **settings),
        clock=lambda: FIXED,
    )
    return InMemory(service_, Topics.APPLICATION_ACCEPTED, SUBMITTED.dlq)


async def test_handler_accepts_and_publishes_with_the_injected_clock(
    db: asyncpg.Connection,
) -> None:
    body = application()
    async with intake() as run:
        await run.deliver(SUBMITTED, body)

    [accepted] = run.bodies(Topics.APPLICATION_ACCEPTED)
    assert accepted["application"]["application_id"] == body["application_id"]
    assert accepted["accepted_at"].startswith("2026-11-21T08:00:00")
    outcome = json.loads(
        await db.fetchval(
            "SELECT outcome FROM intake.application WHERE application_id = $1",
            body["application_id"],
        )
    )
    assert outcome["accepted_at"] == accepted["accepted_at"]


async def test_handler_dead_letters_a_schema_violation_in_memory() -> None:
    async with intake() as run:
        await run.deliver(SUBMITTED, {"application_id": 42.5})
    [letter] = run.messages[SUBMITTED.dlq]
    assert letter.headers["dlq_error_type"] == "ValidationError"
    assert "application_id" in letter.headers["dlq_error"]


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_its_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def broken(*args: object) -> list:
        nonlocal calls
        calls += 1
        raise LookupError("the rules module has no answer for this")

    monkeypatch.setattr("services.intake.app.handle_submission", broken)
    async with intake(handler_max_attempts=3) as run:
        await run.deliver(SUBMITTED, application())
    assert calls == 3
    [letter] = run.messages[SUBMITTED.dlq]
    assert letter.headers["dlq_error_type"] == "HandlerGaveUp:LookupError"
    assert run.bodies(Topics.APPLICATION_ACCEPTED) == []


async def test_an_infrastructure_outage_is_waited_out_not_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    async def flaky(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls <= 6:  # more failures than handler_max_attempts allows for ordinary errors
            raise ConnectionRefusedError("database restarting")
        return await service.handle_submission(*args)

    monkeypatch.setattr("services.intake.app.handle_submission", flaky)
    async with intake(handler_max_attempts=2) as run:
        await run.deliver(SUBMITTED, application())
    assert calls == 7
    assert run.messages[SUBMITTED.dlq] == []
    assert len(run.bodies(Topics.APPLICATION_ACCEPTED)) == 1
