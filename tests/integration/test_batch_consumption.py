"""Batch consumption (`ServiceRuntime.consume_batch`) on the real broker and database: in a batch
with a poisoned record and an event whose effect keeps failing, the poison and the failing event
go to the dead-letter topic with their reasons, and every other event has its effect exactly once,
its outcome published."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import asyncpg
import pytest

from shared.contract.events.abruf import QueryRequested
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.messaging import Outgoing
from shared.platform.runtime import ServiceRuntime, each
from shared.platform.settings import Settings
from tests.helpers import RawProducer, eventually, headers_for, read_all
from tests.retrieval import HANNOVER, query

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]


class Probe(ServiceRuntime):
    """A service with one batch subscriber whose effect fails for queries marked BAD."""

    def __init__(self) -> None:
        settings = Settings(handler_max_attempts=2, retry_backoff_seconds=0.05)
        super().__init__(f"batch_probe_{RUN}", "services.query_router", settings)
        self.calls: Counter[str] = Counter()

        @self.batch_subscriber(Topics.QUERY_REQUESTED)
        async def on_queries(records: list[Any], msg: KafkaMessage) -> None:
            await self.consume_batch(msg, Topics.QUERY_REQUESTED, each(self.effect))

    async def effect(
        self, conn: asyncpg.Connection, _: object, q: QueryRequested
    ) -> list[Outgoing]:
        if not q.query_id.startswith(f"P{RUN}"):
            return []  # other tests' queries on the same topic
        self.calls[q.query_id] += 1
        await conn.execute("INSERT INTO probe_effects VALUES ($1)", q.query_id)
        if "BAD" in q.query_id:
            raise ValueError("this query cannot be handled")
        return []

    async def effects(self) -> Counter[str]:
        async with self.messaging.pool.acquire() as conn:
            rows = await conn.fetch("SELECT query_id FROM probe_effects")
        return Counter(r["query_id"] for r in rows)


async def test_poison_and_a_failing_effect_leave_the_rest_of_the_batch_intact() -> None:
    probe = Probe()
    await probe.start_resources()
    async with probe.messaging.pool.acquire() as conn:
        await conn.execute("CREATE TABLE probe_effects (query_id text NOT NULL)")
    await probe.broker.start()
    try:
        good = [query("T1", ags=[HANNOVER[0]]) for _ in range(12)]
        for i, q in enumerate(good):
            q["query_id"] = f"P{RUN}-{i}"
        bad = query("T1", ags=[HANNOVER[0]])
        bad["query_id"] = f"P{RUN}-BAD"
        async with RawProducer() as producer:
            headers = headers_for(Topics.QUERY_REQUESTED.event_type)  # for the duplicate
            await producer.send(
                Topics.QUERY_REQUESTED.name,
                b"{not json",
                key=f"P{RUN}-POISON",
                headers=headers_for(Topics.QUERY_REQUESTED.event_type),
            )
            for q in [*good[:6], bad, *good[6:]]:
                await producer.send(
                    Topics.QUERY_REQUESTED.name,
                    q,
                    key=q["query_id"],
                    headers=headers_for(Topics.QUERY_REQUESTED.event_type),
                )
            # one event (one ce_id) delivered twice
            dup = query("T1", ags=[HANNOVER[0]])
            dup["query_id"] = f"P{RUN}-DUP"
            for _ in range(2):
                await producer.send(
                    Topics.QUERY_REQUESTED.name, dup, key=dup["query_id"], headers=headers
                )
            good.append(dup)

        dlq = Topics.QUERY_REQUESTED.dlq

        def both_dead(records: list[Any]) -> bool:
            keys = {r.key for r in records}
            return {f"P{RUN}-POISON", f"P{RUN}-BAD"} <= keys

        dead = {r.key: r for r in await read_all(dlq, until=both_dead)}
        assert dead[f"P{RUN}-POISON"].headers["dlq_error_type"] == "UndecodableEvent"
        assert dead[f"P{RUN}-BAD"].headers["dlq_error_type"] == "HandlerGaveUp:ValueError"

        async def all_done() -> bool:
            done = await probe.effects()
            return all(done[q["query_id"]] for q in good)

        await eventually(all_done, "every good event has its effect")
        effects = await probe.effects()
        # each good event's effect once, the duplicate's too; the failing one's never committed
        assert {q["query_id"]: effects[q["query_id"]] for q in good} == {
            q["query_id"]: 1 for q in good
        }
        assert effects[f"P{RUN}-BAD"] == 0
        assert probe.calls[f"P{RUN}-BAD"] >= 2  # tried before it was given up
    finally:
        await probe.broker.stop()
        await probe.close_resources()
