"""Inbox and outbox: effectively-once processing on an at-least-once broker.

`process_once` runs an effect for a consumed event inside one database transaction that also
records the event id in the inbox and the events the effect must publish in the outbox. After the
commit the outbox rows are published (acks=all) and marked; only then does the handler return and
the consumer offset get committed. A crash anywhere in between means redelivery: the inbox
recognises the event, the effect does not run again, and the rows still unpublished are sent under
the event ids they were given the first time. Consumers deduplicate by `ce_id` with their own inbox.

The relay (`relay_pending`, run periodically by `shared.platform.runtime`) publishes rows that no
handler finished, e.g. after a crash between commit and publish of an event whose source is never
redelivered.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import asyncpg
from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from shared.contract.envelope import Envelope, correlation_of
from shared.contract.topics import TopicSpec
from shared.platform import tracing
from shared.platform.broker import INFRASTRUCTURE
from shared.platform.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """An event an effect wants published."""

    topic: TopicSpec
    event: BaseModel
    subject: str | None = None
    # headers that sign the record, from (topic, key, headers, body): a gateway's signature
    sign: Callable[[str, bytes, Mapping[str, str], bytes], dict[str, str]] | None = None


@dataclass(frozen=True)
class Consumed:
    """Where a consumed event came from; recorded in the inbox."""

    envelope: Envelope
    topic: str
    partition: int
    offset: int


Effect = Callable[[asyncpg.Connection], Awaitable[Sequence[Outgoing]]]


@dataclass(frozen=True)
class OutboxRow:
    """An event as it is published: its envelope, topic, key, headers and JSON payload."""

    envelope: Envelope
    cause: str | None  # the consumed event's id, if one caused it
    topic: str
    key: str
    headers: dict[str, str]
    payload: str


def outbox_row(
    out: Outgoing, source: str, cause: Envelope | None, started_ns: int | None = None
) -> OutboxRow:
    """The envelope and record of an event an effect wants published: a new event id, the
    cause's correlation id and trace (a span of this hop since `started_ns`), keyed as the
    catalogue says."""
    if not isinstance(out.event, out.topic.event):
        raise TypeError(f"{type(out.event).__name__} does not belong on {out.topic.name}")
    correlation_id = cause.correlation if cause else None
    traceparent = tracing.hop(
        cause.traceparent if cause else None,
        f"{source.rsplit('/', 1)[-1]} → {out.topic.name}",
        {"messaging.destination.name": out.topic.name,
         "cloudevents.event_type": out.topic.event_type,
         "meldespiegel.cause": cause.id if cause else "",
         "meldespiegel.correlation_id": correlation_id or ""},
        started_ns,
    )  # fmt: skip
    env = Envelope.new(
        source=source,
        type=out.topic.event_type,
        correlation_id=correlation_id,
        subject=out.subject,
        traceparent=traceparent,
    )
    key, headers = out.topic.key_of(out.event), env.to_headers()
    payload = out.event.model_dump_json()
    if out.sign is not None:
        headers |= out.sign(out.topic.name, key.encode(), headers, payload.encode())
    return OutboxRow(env, cause.id if cause else None, out.topic.name, key, headers, payload)


@dataclass(frozen=True)
class BatchItem:
    """A consumed event of a batch: where it came from, and the event it decoded to."""

    consumed: Consumed
    event: Any


# the effect of a batch: its fresh events in order in, one list of outgoing events per event out;
# set-based, so that a batch costs a few statements, not a few per event
BatchEffect = Callable[
    [asyncpg.Connection, Sequence[BatchItem]], Awaitable[Sequence[Sequence[Outgoing]]]
]


T = TypeVar("T")
ValueEffect = Callable[[asyncpg.Connection], Awaitable[tuple[T, Sequence[Outgoing]]]]


async def forget_handled(conn: asyncpg.Connection, event_id: str) -> None:
    """Forgets that an event was handled, in the caller's transaction: its effect failed after
    the event was taken on (a mail given up after its last attempt) and the event went to the
    dead-letter topic, so a redrive of that dead letter is handled again, not dropped as a
    duplicate."""
    await conn.execute("DELETE FROM inbox WHERE event_id = $1", event_id)


class Messaging:
    def __init__(self, pool: asyncpg.Pool, broker: KafkaBroker, service: str) -> None:
        self.pool = pool
        self.broker = broker
        self.source = f"/meldespiegel/{service}"

    async def process_once(self, consumed: Consumed, effect: Effect) -> bool:
        """Runs `effect` unless the event was processed before; returns whether it ran."""
        started = time.time_ns()
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                """INSERT INTO inbox (event_id, topic, partition, "offset", event_type)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING RETURNING true""",
                consumed.envelope.id,
                consumed.topic,
                consumed.partition,
                consumed.offset,
                consumed.envelope.type,
            )
            staged: list[OutboxRow] = []
            if fresh:
                staged = [
                    outbox_row(o, self.source, consumed.envelope, started)
                    for o in await effect(conn)
                ]
                await self.stage_all(conn, staged)
        if fresh:
            await self._publish(staged)
        else:  # delivered again: what an earlier attempt left unpublished goes out now
            await self._publish_pending("source_event_id = $1", consumed.envelope.id)
        return bool(fresh)

    async def process_batch(self, items: Sequence[BatchItem], effect: BatchEffect) -> bool:
        """Runs the effect of a batch of consumed events in one transaction, each event once,
        then publishes what they produced; True if it committed. If the effect fails (other than
        an outage, which is raised), the whole transaction is rolled back and False returned: the
        caller splits the batch until the failing event stands alone, so that one bad event costs
        its batch only time, never an effect."""
        if not items:
            return True
        started = time.time_ns()
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                fresh = {
                    r["event_id"]
                    for r in await conn.fetch(
                        """INSERT INTO inbox (event_id, topic, partition, "offset", event_type)
                           SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[],
                                                $5::text[])
                           ON CONFLICT (event_id) DO NOTHING RETURNING event_id""",
                        [i.consumed.envelope.id for i in items],
                        [i.consumed.topic for i in items],
                        [i.consumed.partition for i in items],
                        [i.consumed.offset for i in items],
                        [i.consumed.envelope.type for i in items],
                    )
                }
                todo = []
                ids = [i.consumed.envelope.id for i in items]
                again = [event_id for event_id in ids if event_id not in fresh]
                staged: list[OutboxRow] = []
                for item in items:
                    if item.consumed.envelope.id in fresh:
                        fresh.discard(item.consumed.envelope.id)  # twice in one batch: once
                        todo.append(item)
                if todo:
                    outgoing = await effect(conn, todo)
                    if len(outgoing) != len(todo):
                        raise RuntimeError("a batch effect must answer each of its events")
                    staged = [
                        outbox_row(out, self.source, item.consumed.envelope, started)
                        for item, outs in zip(todo, outgoing, strict=True)
                        for out in outs
                    ]
                    await self.stage_all(conn, staged)
        except INFRASTRUCTURE:
            raise
        except Exception as exc:
            log.warning("batch rolled back", events=len(items), error=repr(exc))
            return False
        await self._publish(staged)
        if again:  # delivered again: what an earlier attempt left unpublished goes out now
            await self._publish_pending("source_event_id = ANY($1::text[])", again)
        return True

    async def produce(self, effect: Effect) -> list[Envelope]:
        """Runs an effect that no consumed event triggered (a schedule, an API call) in one
        transaction with its outbox rows, then publishes them."""

        async def no_value(conn: asyncpg.Connection) -> tuple[None, Sequence[Outgoing]]:
            return None, await effect(conn)

        _, envelopes = await self.run(no_value)
        return envelopes

    async def run(self, effect: ValueEffect[T]) -> tuple[T, list[Envelope]]:
        """As `produce`, for an effect that also answers its caller (e.g. an API request):
        returns the effect's value and the envelopes of what it published."""
        async with self.pool.acquire() as conn, conn.transaction():
            value, outgoing = await effect(conn)
            staged = [outbox_row(out, self.source, None) for out in outgoing]
            await self.stage_all(conn, staged)
        await self._publish(staged)
        return value, [r.envelope for r in staged]

    @staticmethod
    async def stage_all(conn: asyncpg.Connection, staged: Sequence[OutboxRow]) -> None:
        """Outbox rows in one statement; in order: the outbox's sequence is the order of
        publishing."""
        if not staged:
            return
        await conn.execute(
            """INSERT INTO outbox (event_id, source_event_id, topic, key, headers, payload)
               SELECT e, s, t, k, h::jsonb, p
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                    WITH ORDINALITY AS r(e, s, t, k, h, p, n)
               ORDER BY n""",
            [r.envelope.id for r in staged],
            [r.cause for r in staged],
            [r.topic for r in staged],
            [r.key for r in staged],
            [json.dumps(r.headers) for r in staged],
            [r.payload for r in staged],
        )

    async def relay_pending(self, older_than_seconds: float = 0.0) -> int:
        """Publishes unpublished outbox rows older than the given age; returns how many."""
        return await self._publish_pending(
            "created_at <= now() - make_interval(secs => $1)", older_than_seconds
        )

    async def forget_published(self, older_than_seconds: float) -> int:
        """Deletes outbox rows published more than the given age ago: the broker has them, and
        the events of the query path carry criteria and answers that no table may keep longer
        than the query needs."""
        async with self.pool.acquire() as conn:
            deleted = await conn.execute(
                """DELETE FROM outbox WHERE published_at IS NOT NULL
                     AND published_at < now() - make_interval(secs => $1)""",
                older_than_seconds,
            )
        return int(deleted.split()[-1])

    async def _publish(self, staged: Sequence[OutboxRow]) -> None:
        """Publishes what a committed transaction staged, from memory, then marks it published:
        no read of the outbox on the way. If this fails, the rows stay unpublished for the
        relay, or for the redelivered event (`_publish_pending`); a row published twice is
        dropped by its consumers' inbox (same `ce_id`)."""
        if not staged:
            return
        await self._publish_in_waves(staged)
        async with self.pool.acquire() as conn:
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE event_id = ANY($1::uuid[])",
                [r.envelope.id for r in staged],
            )

    async def _publish_pending(self, where: str, arg: Any) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            # SKIP LOCKED: a concurrent relay or handler publishing the same rows is skipped
            rows = await conn.fetch(
                f"""SELECT seq, source_event_id, topic, key, headers, payload FROM outbox
                    WHERE published_at IS NULL AND {where}
                    ORDER BY seq FOR UPDATE SKIP LOCKED""",
                arg,
            )
            await self._publish_in_waves(
                [
                    _Stored(r["source_event_id"], r["topic"], r["key"], r["headers"], r["payload"])
                    for r in rows
                ]
            )
            if rows:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])",
                    [r["seq"] for r in rows],
                )
        return len(rows)

    async def _publish_in_waves(self, rows: Sequence[OutboxRow | _Stored]) -> None:
        """Pipelined: the n-th events of all sources together, each wave acknowledged before
        the next, so that a source's events keep their order (an entry's hand-over is
        acknowledged before its release is sent). Rows without a source (schedules, API calls)
        count as one source."""
        per_source: dict[str | None, int] = {}
        waves: list[list[OutboxRow | _Stored]] = []
        for row in rows:
            n = per_source.get(row.cause, 0)
            per_source[row.cause] = n + 1
            if n == len(waves):
                waves.append([])
            waves[n].append(row)
        for wave in waves:
            # each record handed to the producer's batch, then the wave's acknowledgements
            # awaited together
            sent = [await self._send(row) for row in wave]
            await asyncio.gather(*[ack for ack in sent if ack is not None])

    async def _send(self, row: OutboxRow | _Stored) -> asyncio.Future[Any] | None:
        """Hands a row to the producer; its acknowledgement to await, or None from a broker
        that confirms at once (FastStream's in-memory test broker)."""
        headers = json.loads(row.headers) if isinstance(row.headers, str) else row.headers
        with tracing.within(headers):
            acknowledged = await self.broker.publish(
                row.payload.encode("utf-8"),
                row.topic,
                key=row.key.encode("utf-8"),
                headers=headers,
                correlation_id=correlation_of(headers),
                no_confirm=True,
            )
        if not inspect.isawaitable(acknowledged):
            return None
        return cast("asyncio.Future[Any]", acknowledged)


@dataclass(frozen=True)
class _Stored:
    """An outbox row as read back from the table (its headers as stored JSON)."""

    cause: str | None
    topic: str
    key: str
    headers: str
    payload: str
