"""intake's handlers on FastStream's TestKafkaBroker with the in-memory store: no Kafka, no
PostgreSQL. The same rules the real-stack tests check, at the speed of a unit test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.intake.app import Intake
from shared.contract.events.review import Entscheidung
from shared.contract.topics import Topics
from shared.platform.settings import Settings
from tests.factories import approval, complete_application
from tests.fakes.intake import MemoryApplicationStore
from tests.helpers import application
from tests.inmemory import InMemory

FIXED = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
SUBMITTED = Topics.APPLICATION_SUBMITTED
WATCH = (
    Topics.APPLICATION_ACCEPTED,
    Topics.APPLICATION_INCOMPLETE,
    Topics.APPLICATION_REFUSED,
    SUBMITTED.dlq,
)


def intake(store: MemoryApplicationStore, **settings: Any) -> InMemory:
    service = Intake(Settings(retry_backoff_seconds=0.001, **settings), clock=lambda: FIXED)
    service.store = lambda conn: store
    return InMemory(service, *WATCH, stores=[store])


async def test_a_complete_application_is_accepted_once_under_redelivery() -> None:
    store = MemoryApplicationStore()
    body = application()
    async with intake(store) as run:
        envelope = await run.deliver(SUBMITTED, body)
        await run.deliver(SUBMITTED, body, event_id=envelope.id)  # the same event again
    [accepted] = run.bodies(Topics.APPLICATION_ACCEPTED)
    assert accepted["application"]["application_id"] == body["application_id"]
    assert accepted["accepted_at"].startswith("2026-11-21T08:00:00")
    assert store.applications[body["application_id"]].status == "accepted"
    assert [s for _, s, *_ in store.history] == ["received", "accepted"]


async def test_the_same_application_as_a_new_event_changes_nothing() -> None:
    store = MemoryApplicationStore()
    body = application()
    async with intake(store) as run:
        await run.deliver(SUBMITTED, body)
        await run.deliver(SUBMITTED, body)  # a new event id, the same application
    assert len(run.bodies(Topics.APPLICATION_ACCEPTED)) == 1
    assert [s for _, s, *_ in store.history] == ["received", "accepted", "redelivered"]


async def test_defects_are_named() -> None:
    store = MemoryApplicationStore()
    body = application()
    body["administrator"]["email"] = None
    async with intake(store) as run:
        await run.deliver(SUBMITTED, body)
    [incomplete] = run.bodies(Topics.APPLICATION_INCOMPLETE)
    assert "ADMIN_EMAIL_MISSING" in {d["code"] for d in incomplete["defects"]}
    assert run.bodies(Topics.APPLICATION_ACCEPTED) == []


async def test_a_second_open_application_for_the_same_role_is_refused_until_decided() -> None:
    store = MemoryApplicationStore()
    authority = {"authority.name": "Polizeidirektion Göttingen"}
    first, second, third = (application(**authority) for _ in range(3))
    async with intake(store) as run:
        await run.deliver(SUBMITTED, first)
        await run.deliver(SUBMITTED, second)
        decided = approval(complete_application(first["application_id"])).model_copy(
            update={"decision": Entscheidung.REJECTED}
        )
        await run.deliver(Topics.REVIEW_DECIDED, decided)
        await run.deliver(SUBMITTED, third)
    [refused] = run.bodies(Topics.APPLICATION_REFUSED)
    assert refused["reason_code"] == "DUPLICATE_APPLICATION_FOR_ROLE"
    assert refused["conflicting_application_id"] == first["application_id"]
    # the first one decided, the role is free again
    accepted = [a["application"]["application_id"] for a in run.bodies(Topics.APPLICATION_ACCEPTED)]
    assert accepted == [first["application_id"], third["application_id"]]
    assert store.applications[first["application_id"]].status == "rejected"


async def test_a_schema_violation_is_dead_lettered_and_stores_nothing() -> None:
    store = MemoryApplicationStore()
    async with intake(store) as run:
        await run.deliver(SUBMITTED, {"application_id": 42.5})
    [letter] = run.messages[SUBMITTED.dlq]
    assert letter.headers["dlq_error_type"] == "ValidationError"
    assert store.applications == {}


async def test_a_failing_store_rolls_back_and_is_dead_lettered_after_its_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryApplicationStore()
    calls = 0
    real_add = store.add

    async def add_then_fail(*args: Any) -> None:
        nonlocal calls
        calls += 1
        await real_add(*args)  # written, then the transaction fails
        raise RuntimeError("constraint violated")

    monkeypatch.setattr(store, "add", add_then_fail)
    async with intake(store, handler_max_attempts=3) as run:
        await run.deliver(SUBMITTED, application())
    assert calls == 3
    [letter] = run.messages[SUBMITTED.dlq]
    assert letter.headers["dlq_error_type"] == "HandlerGaveUp:RuntimeError"
    assert store.applications == {} and store.history == []  # noqa: PT018
