"""intake killed with SIGKILL in the middle of a burst and started again: every application gets
exactly one outcome, none lost, none doubled."""

from __future__ import annotations

import uuid
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest

from shared.contract.topics import Topics
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    application,
    read_all,
    read_to_end,
    skipped_backlog,
)

pytestmark = pytest.mark.integration
N = 400
OUTCOMES = (Topics.APPLICATION_ACCEPTED, Topics.APPLICATION_INCOMPLETE)


async def test_sigkill_during_a_burst_loses_and_doubles_nothing(
    artifacts: Path, db: asyncpg.Connection
) -> None:
    burst = uuid.uuid4().hex[:8]
    ids = [f"K-{burst}-{i:04d}" for i in range(N)]
    bodies = [
        application(app_id, **({"access_type": None} if i % 5 == 0 else {}))
        for i, app_id in enumerate(ids)
    ]

    await skipped_backlog("intake")
    first = ServiceProcess("services.intake", artifacts / "intake-crash-1.log").start()
    async with RawProducer() as producer:
        for body in bodies:
            await producer.send(Topics.APPLICATION_SUBMITTED.name, body, key=body["application_id"])

    # kill once a part of the burst, but not all of it, has been decided
    async def decided() -> int:
        return await db.fetchval(
            "SELECT count(*) FROM intake.application WHERE application_id LIKE $1", f"K-{burst}-%"
        )

    await read_all(
        Topics.APPLICATION_ACCEPTED.name,
        until=lambda rs: sum(r.key.startswith(f"K-{burst}") for r in rs) >= N // 10,
    )
    done_before_kill = await decided()
    first.kill()
    assert done_before_kill < N, "the burst finished before the kill; raise N"

    second = ServiceProcess("services.intake", artifacts / "intake-crash-2.log").start()
    try:
        expected_accepted = sum(1 for i in range(N) if i % 5 != 0)
        await read_all(
            Topics.APPLICATION_ACCEPTED.name,
            until=lambda rs: (
                len({r.key for r in rs if r.key.startswith(f"K-{burst}")}) >= expected_accepted
            ),
            deadline_s=180,
        )
        await read_all(
            Topics.APPLICATION_INCOMPLETE.name,
            until=lambda rs: (
                len({r.key for r in rs if r.key.startswith(f"K-{burst}")}) >= N - expected_accepted
            ),
            deadline_s=180,
        )
    finally:
        assert second.stop() == 0

    event_ids: dict[str, set[str]] = defaultdict(set)
    raw_count = 0
    for spec in OUTCOMES:
        for record in await read_to_end(spec.name):
            if record.key and record.key.startswith(f"K-{burst}"):
                raw_count += 1
                event_ids[record.key].add(record.headers["ce_id"])
    # exactly one outcome per application: one event id each (a record the broker got twice
    # would carry the same id and be dropped by every consumer's inbox)
    assert set(event_ids) == set(ids)
    assert all(len(v) == 1 for v in event_ids.values())
    assert await decided() == N
    statuses = await db.fetch(
        """SELECT application_id, count(*) FILTER (WHERE status IN ('accepted', 'incomplete'))
               AS outcomes FROM intake.application_status
           WHERE application_id LIKE $1 GROUP BY application_id""",
        f"K-{burst}-%",
    )
    assert len(statuses) == N
    assert all(s["outcomes"] == 1 for s in statuses)
    unpublished = await db.fetchval("SELECT count(*) FROM intake.outbox WHERE published_at IS NULL")
    assert unpublished == 0
    print(
        f"killed after {done_before_kill}/{N} decisions; {raw_count} outcome records for "
        f"{N} applications"
    )
