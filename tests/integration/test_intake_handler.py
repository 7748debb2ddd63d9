"""intake's handler in FastStream's in-memory broker (fast), with the real PostgreSQL store."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.intake import service
from services.intake.app import Intake, utc_now
from shared.envelope import Envelope
from shared.settings import Settings
from shared.topics import Topics
from tests.helpers import application, database_url

pytestmark = pytest.mark.integration
FIXED = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


class InMemoryIntake:
    """intake on TestKafkaBroker, recording what reaches the accepted topic and the DLQ."""

    def __init__(self, clock: Callable[[], datetime] = utc_now, **settings: Any) -> None:
        self.intake = Intake(
            Settings(database_url=database_url(), retry_backoff_seconds=0.001, **settings),
            clock=clock,
        )
        self.accepted: list[dict] = []
        self.dead: list[KafkaMessage] = []

        @self.intake.broker.subscriber(Topics.APPLICATION_ACCEPTED.name)
        async def accepted(body: dict) -> None:
            self.accepted.append(body)

        @self.intake.broker.subscriber(Topics.APPLICATION_SUBMITTED.dlq)
        async def dead(msg: KafkaMessage) -> None:
            self.dead.append(msg)

    async def deliver(self, body: dict) -> None:
        headers = Envelope.new(
            source="/tests", type=Topics.APPLICATION_SUBMITTED.event_type, correlation_id=None
        ).to_headers()
        await self.intake.start_resources()
        try:
            async with TestKafkaBroker(self.intake.broker) as broker:
                await broker.publish(
                    body, Topics.APPLICATION_SUBMITTED.name, key=b"k", headers=headers
                )
        finally:
            await self.intake.close_resources()


async def test_handler_accepts_and_publishes_with_the_injected_clock(
    db: asyncpg.Connection,
) -> None:
    run = InMemoryIntake(clock=lambda: FIXED)
    body = application()
    await run.deliver(body)

    assert [p["application"]["application_id"] for p in run.accepted] == [body["application_id"]]
    assert run.accepted[0]["accepted_at"].startswith("2026-11-21T08:00:00")
    outcome = json.loads(
        await db.fetchval(
            "SELECT outcome FROM intake.application WHERE application_id = $1",
            body["application_id"],
        )
    )
    assert outcome["accepted_at"] == run.accepted[0]["accepted_at"]


async def test_handler_dead_letters_a_schema_violation_in_memory() -> None:
    run = InMemoryIntake()
    await run.deliver({"application_id": 42.5})
    [letter] = run.dead
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
    run = InMemoryIntake(handler_max_attempts=3)
    await run.deliver(application())
    assert calls == 3
    [letter] = run.dead
    assert letter.headers["dlq_error_type"] == "HandlerGaveUp:LookupError"
    assert run.accepted == []


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
    run = InMemoryIntake(handler_max_attempts=2)
    await run.deliver(application())
    assert calls == 7
    assert run.dead == []
    assert len(run.accepted) == 1
