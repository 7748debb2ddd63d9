"""Hostile input on every consumed topic, on the real broker and database (property-based).

For every topic the catalogue marks consumed, `hypothesis` interleaves valid events with hostile
records from `tests.hostile` (undecodable headers and bodies, nesting past the recursion limit,
integers past Python's digit limit, wrong types, nulls, tombstones, repeated event ids, …). A
probe service consumes each topic the way its real consumer does (in batches or one by one,
through `ServiceRuntime`) and records each effect in PostgreSQL. Then the test counts: every
valid event applied exactly once, every hostile record on the `.dlq` with its reason and its
original bytes, key and headers (or, for a tombstone on a compacted topic, the key erased), and
every consumer still running.

The real services run beside the probe as their own processes and read the same records; the
last test checks that none of them died and that each has consumed every topic to its end.

The suite runs 3 examples; `MELDESPIEGEL_HOSTILE_EXAMPLES=25 scripts/test tests/property` is the
longer run (about 4 minutes, most of it mail_dispatch working off the valid mail events).

This module has no `from __future__ import annotations`: the probe's handlers are annotated with
the topic's event class at run time, which FastStream reads."""

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared.contract.deadletter import DeadLetter
from shared.contract.envelope import Envelope
from shared.contract.topics import TopicSpec
from shared.platform.broker import KafkaMessage, subscribe, subscribe_batch
from shared.platform.kafka_client import Follower, KafkaClient, Record
from shared.platform.runtime import ServiceRuntime, each
from shared.platform.settings import Settings
from tests.helpers import ServiceProcess, bootstrap, eventually, stop_all
from tests.hostile import Raw, consumed_topics, event_id_of, interleaved
from tools import contract
from tools.registry import PROCESSES

pytestmark = pytest.mark.integration
RUN = uuid.uuid4().hex[:8]
EXAMPLES = int(os.environ.get("MELDESPIEGEL_HOSTILE_EXAMPLES", "3"))
TOPICS = consumed_topics()
# every service process of the registry that consumes topics, run as in production, and the
# consumer groups they read in
CONSUMERS = [p for p in PROCESSES if p.app is not None]
GROUPS = tuple(service.name for service in contract.services())


class Probe(ServiceRuntime):
    """Consumes every consumed topic as its real consumer does and records each applied effect."""

    def __init__(self) -> None:
        settings = Settings(handler_max_attempts=2, retry_backoff_seconds=0.05)
        super().__init__(f"hostile_probe_{RUN}", "services.query_router", settings)
        for spec in TOPICS:
            self._probe(spec)

    def _probe(self, spec: TopicSpec) -> None:
        group = f"{self.name}-{spec.name}"

        async def applied(conn: asyncpg.Connection, envelope: Envelope, *_: Any) -> list[Any]:
            await conn.execute(
                "INSERT INTO hostile_effects VALUES ($1, $2, 'applied')", spec.name, envelope.id
            )
            return []

        async def erased(conn: asyncpg.Connection, key: str) -> list[Any]:
            await conn.execute(
                "INSERT INTO hostile_effects VALUES ($1, $2, 'erased')", spec.name, key
            )
            return []

        if spec.batched:

            @subscribe_batch(self.broker, spec, group_id=group, settings=self.settings)
            async def on_batch(records: list[Any], msg: KafkaMessage) -> None:
                await self.consume_batch(msg, spec, each(applied))

            return
        event_class = spec.event

        @subscribe(self.broker, spec, group_id=group, settings=self.settings)
        async def on_event(event: event_class | None, msg: KafkaMessage) -> None:  # type: ignore[valid-type]
            if event is None:
                await self.erase(msg, erased)
            else:
                await self.consume(msg, applied)

    async def effects(self) -> dict[tuple[str, str, str], int]:
        async with self.messaging.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT topic, ref, what, count(*) AS n FROM hostile_effects "
                "GROUP BY topic, ref, what"
            )
        return {(r["topic"], r["ref"], r["what"]): r["n"] for r in rows}


class DeadLetters:
    """Follows every `.dlq` from its current end, keeping what the probe dead-lettered, by the
    original record's position."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.seen: dict[tuple[str, int, int], Record] = {}
        self._task: asyncio.Task[None] | None = None
        self._follower: Follower | None = None

    async def start(self) -> None:
        # the ends are fixed now, before anything is sent
        self._follower = await KafkaClient(bootstrap()).follow(*(spec.dlq for spec in TOPICS))
        self._task = asyncio.create_task(self._follow(self._follower))

    async def _follow(self, follower: Follower) -> None:
        while True:
            for r in await follower.next(0.2):
                letter = DeadLetter.of(r.headers)
                if letter is not None and letter.service == self.service and letter.position:
                    self.seen[letter.position] = r

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._follower:
            await self._follower.close()


@pytest.fixture(scope="module")
def real_services(artifacts: Path) -> Iterator[list[ServiceProcess]]:
    procs = [
        ServiceProcess(p.module, artifacts / f"{p.name}-hostile.log", p.env).start()
        for p in CONSUMERS
    ]
    yield procs
    stop_all(procs)


@pytest.fixture(scope="module")
async def probe(real_services: list[ServiceProcess]) -> AsyncIterator[Probe]:
    probe = Probe()
    await probe.start_resources()
    async with probe.messaging.pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS hostile_effects (topic text, ref text, what text)"
        )
    await probe.broker.start()
    try:
        yield probe
    finally:
        await probe.broker.stop()
        await probe.close_resources()


@pytest.fixture(scope="module")
async def dead_letters(probe: Probe) -> AsyncIterator[DeadLetters]:
    follower = DeadLetters(probe.name)
    await follower.start()
    try:
        yield follower
    finally:
        await follower.stop()


@pytest.fixture(scope="module")
async def producer() -> AsyncIterator[KafkaClient]:
    async with KafkaClient(bootstrap()) as client:
        yield client


async def _send(
    producer: KafkaClient, plan: dict[str, list[Raw]]
) -> list[tuple[TopicSpec, Raw, int, int]]:
    """Sends each topic's records in order; returns each with the partition and offset it got."""
    specs = {spec.name: spec for spec in TOPICS}
    pending = []
    for name, records in plan.items():
        for raw in records:
            future = await producer.send(name, raw.value, raw.key, list(raw.headers))
            pending.append((specs[name], raw, future))
    sent = []
    for spec, raw, future in pending:
        meta = await future
        sent.append((spec, raw, meta.partition, meta.offset))
    return sent


@pytest.mark.timeout(120 + 150 * EXAMPLES)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # each example is a round trip through the broker: no shrinking (the failure names the
    # records that were not handled), and no example database to replay from
    phases=[Phase.explicit, Phase.generate],
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
async def test_hostile_records_never_take_a_valid_event_with_them(
    probe: Probe, dead_letters: DeadLetters, producer: KafkaClient, data: st.DataObject
) -> None:
    plan = {spec.name: data.draw(interleaved(spec), label=spec.name) for spec in TOPICS}
    sent = await _send(producer, plan)

    valid_ids = {(spec.name, event_id_of(raw)) for spec, raw, _, _ in sent if raw.kind == "valid"}
    erased = {
        (spec.name, raw.key.decode("utf-8", "backslashreplace"))
        for spec, raw, _, _ in sent
        if raw.expect == "erase" and raw.key is not None
    }
    dead = {
        (spec.name, partition, offset): raw
        for spec, raw, partition, offset in sent
        if raw.expect == "dead_letter"
    }

    missing: dict[str, Any] = {}

    async def settled() -> bool:
        effects = await probe.effects()
        missing["not applied"] = sorted(r for r in valid_ids if (*r, "applied") not in effects)
        missing["not erased"] = sorted(r for r in erased if (*r, "erased") not in effects)
        missing["not dead-lettered"] = sorted(
            (where, dead[where].kind) for where in dead.keys() - dead_letters.seen.keys()
        )
        return not any(missing.values())

    try:
        await eventually(settled, "every valid event applied, every hostile record handled", 120)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {missing}") from None

    effects = await probe.effects()
    # exactly once, the repeated event id included; no hostile record applied
    assert {(t, i): effects[(t, i, "applied")] for t, i in valid_ids} == {
        ref: 1 for ref in valid_ids
    }
    applied_ids = {(t, i) for t, i, what in effects if what == "applied"}
    hostile_ids = {
        (spec.name, h[1].decode("utf-8", "replace"))
        for spec, raw, _, _ in sent
        if raw.kind != "valid"
        for h in raw.headers
        if h[0] == "ce_id" and h[1] is not None
    }
    assert not (hostile_ids & applied_ids), "a hostile record was applied"

    for where, raw in dead.items():
        letter = dead_letters.seen[where]
        headers = letter.headers
        assert headers["dlq_error_type"], f"{raw.kind} on {where}: no reason"
        assert headers["dlq_error"], f"{raw.kind} on {where}: no reason text"
        assert (letter.value or b"") == (raw.value or b""), f"{raw.kind}: bytes changed"
        assert (headers.get("dlq_original_value") == "null") == (raw.value is None)
        assert letter.raw_key == raw.key, f"{raw.kind}: key changed"
        original = [
            (k, None if v is None else base64.b64decode(v))
            for k, v in json.loads(headers["dlq_original_headers"])
        ]
        assert original == list(raw.headers), f"{raw.kind}: headers changed"

    for subscriber in probe.broker.subscribers:
        assert subscriber.running, f"{subscriber} stopped"


async def _lag(groups: tuple[str, ...]) -> dict[str, dict[tuple[str, int], int]]:
    """What each group has still to read on the consumed topics, by partition."""
    async with KafkaClient(bootstrap()) as kafka:
        names = {spec.name for spec in TOPICS}
        ends = {
            (tp.topic, tp.partition): end for tp, end in (await kafka.end_offsets(*names)).items()
        }
        committed = await kafka.group_offsets(groups)
    return {
        group: {
            where: ends[where] - offset
            for where, offset in offsets.items()
            if where in ends and ends[where] > offset
        }
        for group, offsets in committed.items()
    }


# mail_dispatch works off the valid mail events at one or two a second here (each is a delivery
# attempt to an SMTP relay this test does not run), so the bound grows with the examples
CATCH_UP_S = 120 + 10 * EXAMPLES


@pytest.mark.timeout(CATCH_UP_S + 60)
async def test_the_real_services_read_past_every_hostile_record(
    real_services: list[ServiceProcess], probe: Probe
) -> None:
    """Runs after the property test: the services that read the same records are all still
    running, and every consumer group has read each of its topics to the end."""

    left: dict[str, dict[tuple[str, int], int]] = {}

    async def caught_up() -> bool:
        left.clear()
        left.update({g: lag for g, lag in (await _lag(GROUPS)).items() if lag})
        return not left

    try:
        await eventually(caught_up, "every service's group at the end of its topics", CATCH_UP_S)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still to read: {left}") from None
    for proc in real_services:
        assert proc.proc is not None
        assert proc.proc.poll() is None, f"{proc.module} exited with {proc.proc.returncode}"
