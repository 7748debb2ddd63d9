"""intake's handler in FastStream's in-memory broker (fast), with the real PostgreSQL store."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.intake.app import Intake
from shared.envelope import Envelope
from shared.settings import Settings
from shared.topics import Topics
from tests.helpers import application, database_url

pytestmark = pytest.mark.integration
FIXED = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)


def envelope_headers() -> dict[str, str]:
    return Envelope.new(
        source="/tests", type=Topics.APPLICATION_SUBMITTED.event_type, correlation_id=None
    ).to_headers()


async def test_handler_accepts_and_publishes_with_the_injected_clock(
    db: asyncpg.Connection,
) -> None:
    intake = Intake(Settings(database_url=database_url()), clock=lambda: FIXED)
    published: list[dict] = []

    @intake.broker.subscriber(Topics.APPLICATION_ACCEPTED.name)
    async def spy(body: dict) -> None:
        published.append(body)

    await intake.start_resources()
    try:
        async with TestKafkaBroker(intake.broker) as broker:
            body = application()
            await broker.publish(
                body,
                Topics.APPLICATION_SUBMITTED.name,
                key=body["application_id"].encode(),
                headers=envelope_headers(),
            )
    finally:
        await intake.close_resources()

    assert [p["application"]["application_id"] for p in published] == [body["application_id"]]
    assert published[0]["accepted_at"].startswith("2026-11-21T08:00:00")
    outcome = json.loads(
        await db.fetchval(
            "SELECT outcome FROM intake.application WHERE application_id = $1",
            body["application_id"],
        )
    )
    assert outcome["accepted_at"] == published[0]["accepted_at"]


async def test_handler_dead_letters_a_schema_violation_in_memory() -> None:
    intake = Intake(Settings(database_url=database_url()))
    dead: list[KafkaMessage] = []

    @intake.broker.subscriber(Topics.APPLICATION_SUBMITTED.dlq)
    async def spy(msg: KafkaMessage) -> None:
        dead.append(msg)

    await intake.start_resources()
    try:
        async with TestKafkaBroker(intake.broker) as broker:
            await broker.publish(
                {"application_id": 42.5},
                Topics.APPLICATION_SUBMITTED.name,
                key=b"k",
                headers=envelope_headers(),
            )
    finally:
        await intake.close_resources()
    [letter] = dead
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
    settings = Settings(
        database_url=database_url(), handler_max_attempts=3, retry_backoff_seconds=0.001
    )
    intake = Intake(settings)
    dead: list[KafkaMessage] = []

    @intake.broker.subscriber(Topics.APPLICATION_SUBMITTED.dlq)
    async def spy(msg: KafkaMessage) -> None:
        dead.append(msg)

    await intake.start_resources()
    try:
        async with TestKafkaBroker(intake.broker) as broker:
            await broker.publish(
                application(),
                Topics.APPLICATION_SUBMITTED.name,
                key=b"k",
                headers=envelope_headers(),
            )
    finally:
        await intake.close_resources()
    assert calls == 3
    [letter] = dead
    assert letter.headers["dlq_error_type"] == "HandlerGaveUp:LookupError"


async def test_an_infrastructure_outage_is_waited_out_not_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from services.intake import service

    calls = 0

    async def flaky(*args: object) -> list:
        nonlocal calls
        calls += 1
        if calls <= 6:  # more failures than handler_max_attempts
            raise ConnectionRefusedError("database restarting")
        return await service.handle_submission(*args)  # type: ignore[arg-type]

    monkeypatch.setattr("services.intake.app.handle_submission", flaky)
    settings = Settings(
        database_url=database_url(), handler_max_attempts=2, retry_backoff_seconds=0.001
    )
    intake = Intake(settings)
    dead: list[KafkaMessage] = []
    accepted: list[dict] = []

    @intake.broker.subscriber(Topics.APPLICATION_SUBMITTED.dlq)
    async def dlq_spy(msg: KafkaMessage) -> None:
        dead.append(msg)

    @intake.broker.subscriber(Topics.APPLICATION_ACCEPTED.name)
    async def accepted_spy(body: dict) -> None:
        accepted.append(body)

    await intake.start_resources()
    try:
        async with TestKafkaBroker(intake.broker) as broker:
            await broker.publish(
                application(),
                Topics.APPLICATION_SUBMITTED.name,
                key=b"k",
                headers=envelope_headers(),
            )
    finally:
        await intake.close_resources()
    assert calls == 7
    assert dead == []
    assert len(accepted) == 1
