"""The frame every service runs in: broker, database pool, inbox/outbox, periodic jobs, and the
FastStream application with its start-up and shut-down order. A service subclasses it and adds its
subscribers; `clock` is injectable so that tests control time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import uvloop
from aiokafka import ConsumerRecord
from cryptography import x509
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage

from shared.contract.deadletter import REDRIVEN_BY
from shared.contract.envelope import Envelope, decode_headers
from shared.contract.topics import TopicSpec
from shared.platform import tracing
from shared.platform.asgi import EmbeddedServer
from shared.platform.broker import (
    INFRASTRUCTURE,
    POISON,
    HandlerGaveUp,
    UnprovenCommand,
    decode_event,
    envelope_of,
    make_broker,
    publish_dead_letter,
    retry_delay,
    subscribe,
    subscribe_batch,
)
from shared.platform.db import create_pool
from shared.platform.logging import event_context, get_logger
from shared.platform.messaging import (
    BatchEffect,
    BatchItem,
    Consumed,
    Effect,
    Messaging,
    Outgoing,
)
from shared.platform.metrics import Metrics
from shared.platform.operator_signatures import (
    COMMAND,
    REDRIVE,
    Refusal,
    Seal,
    Signer,
    proven,
    signer_of,
)
from shared.platform.pki import CA_CERT, OPERATORS_CRL, load_revoked
from shared.platform.settings import Settings, get_settings

log = get_logger(__name__)
T = TypeVar("T")
Job = Callable[[], Awaitable[Any]]
Handling = Callable[[asyncpg.Connection, Envelope], Awaitable[Sequence[Outgoing]]]
# a handler's effect for one event of a batch: (connection, envelope, the decoded event)
EventHandling = Callable[[asyncpg.Connection, Envelope, Any], Awaitable[Sequence[Outgoing]]]


def each(handling: EventHandling) -> BatchEffect:
    """A batch's effect that applies a per-event handler to its events in turn, for topics whose
    volume does not call for set-based statements."""

    async def effect(
        conn: asyncpg.Connection, items: Sequence[BatchItem]
    ) -> list[Sequence[Outgoing]]:
        out = []
        for item in items:
            env = item.consumed.envelope
            with event_context(
                event_id=env.id, event_type=env.type, correlation_id=env.correlation
            ):
                out.append(await handling(conn, env, item.event))
        return out

    return effect


def _alone(effect: BatchEffect, item: BatchItem) -> Effect:
    """A batch's effect for one of its events on its own."""

    async def one(conn: asyncpg.Connection) -> Sequence[Outgoing]:
        (out,) = await effect(conn, [item])
        return out

    return one


def run(main: Coroutine[Any, Any, T]) -> T:
    """Runs a service process's main coroutine on uvloop: the services spend their time in the
    event loop and on sockets (PostgreSQL, Kafka), both of which uvloop does in C."""
    return uvloop.run(main)


def utc_now() -> datetime:
    return datetime.now(UTC)


class ServiceRuntime:
    def __init__(
        self,
        name: str,
        package: str,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings or get_settings()
        self.name = self.settings.installation + name  # group and schema
        self.package = package
        self.clock = clock
        self._operator_ca: x509.Certificate | None = None
        self._crl: tuple[int | None, frozenset[int]] | None = None
        self.metrics = Metrics(self.name)
        self.broker: KafkaBroker = make_broker(
            self.settings, self.name, self.metrics.faststream, self.metrics.dead_lettered
        )
        self._http: EmbeddedServer | None = None
        self._consuming = False
        self.metrics.healthy = lambda: self._consuming and self._messaging is not None
        self._messaging: Messaging | None = None
        self._jobs: list[tuple[str, float, Job]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.app = FastStream(self.broker, logger=logging.getLogger(f"meldespiegel.{name}"))
        self.app.on_startup(self.start_resources)
        self.app.after_startup(self.start_jobs)
        self.app.on_shutdown(self.stop_jobs)
        self.app.after_shutdown(self.close_resources)  # after the broker stopped consuming
        self.every(self.settings.outbox_sweep_seconds, "outbox relay", self._relay_leftovers)
        self.every(
            self.settings.personal_data_sweep_seconds,
            "published outbox sweep",
            lambda: self.messaging.forget_published(self.settings.published_outbox_keep_seconds),
        )
        self.every(
            self.settings.consumer_lag_seconds,
            "consumer lag",
            lambda: self.metrics.update_lag(self.broker, self.name),
        )

    @property
    def messaging(self) -> Messaging:
        if self._messaging is None:
            raise RuntimeError(f"{self.name}: the database pool is not started")
        return self._messaging

    def subscriber(self, spec: TopicSpec) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
        return subscribe(self.broker, spec, group_id=self.name, settings=self.settings)

    def every(self, seconds: float, name: str, job: Job) -> None:
        """Runs `job` every `seconds` while the service runs."""
        self._jobs.append((name, seconds, job))

    def batch_subscriber(self, spec: TopicSpec) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
        """For the high-volume topics: records come in batches, see `consume_batch`."""
        return subscribe_batch(self.broker, spec, group_id=self.name, settings=self.settings)

    async def consume_batch(
        self, msg: StreamMessage[Any], spec: TopicSpec, effect: BatchEffect
    ) -> None:
        """Applies a batch of consumed records: each is decoded on its own (poison goes to the
        dead-letter topic at once), the batch's effect runs in one transaction with one inbox
        and one outbox statement, the outcomes are published pipelined, and the batch's offsets
        are committed together when this returns. `effect` is set-based, or `each(handler)`. A
        batch whose transaction fails is split in halves until the failing event stands alone;
        that one is retried and dead-lettered on its own like a single consumed event. An outage
        is waited out here, so that nothing is decoded twice."""
        max_bytes = spec.max_event_bytes or self.settings.max_event_bytes
        items: list[tuple[ConsumerRecord[Any, Any], BatchItem]] = []
        for record in msg.raw_message:
            try:
                envelope, event = decode_event(spec, record, max_bytes)
                self.check_redrive(record)
            except POISON as exc:
                await publish_dead_letter(
                    self.broker, record, exc, self.name, self.metrics.dead_lettered
                )
                continue
            consumed = Consumed(envelope, record.topic, record.partition, record.offset)
            items.append((record, BatchItem(consumed, event)))
        await self._settle(items, effect)

    async def _settle(
        self, items: list[tuple[ConsumerRecord[Any, Any], BatchItem]], effect: BatchEffect
    ) -> None:
        if not items:
            return
        if len(items) == 1:
            record, item = items[0]
            await self._one_by_one(record, item, _alone(effect, item))
            return
        if await self._through_outages(
            lambda: self.messaging.process_batch([item for _, item in items], effect)
        ):
            return
        half = len(items) // 2  # in order: a key's events keep their sequence
        await self._settle(items[:half], effect)
        await self._settle(items[half:], effect)

    async def _through_outages(self, step: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await step()
            except INFRASTRUCTURE as exc:
                attempt += 1
                delay = retry_delay(self.settings, attempt)
                log.warning(
                    "infrastructure unavailable, retrying",
                    error=repr(exc),
                    attempt=attempt,
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)

    async def _one_by_one(
        self, record: ConsumerRecord[Any, Any], item: BatchItem, effect: Effect
    ) -> None:
        env = item.consumed.envelope
        attempt = 0
        with event_context(event_id=env.id, event_type=env.type, correlation_id=env.correlation):
            while True:
                attempt += 1
                try:
                    await self._through_outages(
                        lambda: self.messaging.process_once(item.consumed, effect)
                    )
                    return
                except Exception as exc:
                    if attempt >= self.settings.handler_max_attempts:
                        await publish_dead_letter(
                            self.broker,
                            record,
                            HandlerGaveUp(attempt, exc),
                            self.name,
                            self.metrics.dead_lettered,
                        )
                        return
                    log.warning("handler failed, retrying", error=repr(exc), attempt=attempt)
                    await asyncio.sleep(retry_delay(self.settings, attempt))

    async def consume(self, msg: StreamMessage[Any], handling: Handling) -> bool:
        """Applies a consumed event once (inbox), publishing what it produced (outbox)."""
        envelope = envelope_of(msg)
        record = msg.raw_message
        self.check_redrive(record)
        consumed = Consumed(envelope, record.topic, record.partition, record.offset)
        return await self.messaging.process_once(consumed, lambda conn: handling(conn, envelope))

    def signer(
        self, msg: StreamMessage[Any] | ConsumerRecord[Any, Any], seal: Seal = COMMAND
    ) -> Signer | Refusal:
        """The operator who signed a consumed command (`shared.platform.operator_signatures`),
        checked against the operator CA of this installation, or why none is proven."""
        if self._operator_ca is None:
            self._operator_ca = x509.load_pem_x509_certificate(
                (self.settings.pki_dir / CA_CERT).read_bytes()
            )
        record = msg.raw_message if isinstance(msg, StreamMessage) else msg
        return signer_of(
            seal,
            self._operator_ca,
            record.topic,
            record.key,
            decode_headers(record.headers or ()),
            record.value or b"",
            self.clock(),
            self._revoked_operators(),
        )

    def _revoked_operators(self) -> frozenset[int]:
        """The operator CA's revocation list, read again whenever the file changes."""
        path = self.settings.pki_dir / OPERATORS_CRL
        stamp = path.stat().st_mtime_ns if path.exists() else None
        if self._crl is None or self._crl[0] != stamp:
            self._crl = (stamp, load_revoked(self.settings.pki_dir))
        return self._crl[1]

    def check_redrive(self, record: ConsumerRecord[Any, Any]) -> None:
        """A redriven copy names the operator who sent it back; it must be that operator's
        signature, or the copy goes to the dead-letter topic again with the reason."""
        by = decode_headers(record.headers or ()).get(REDRIVEN_BY)
        if by is None:
            return
        refusal = proven(self.signer(record, REDRIVE), by)
        if refusal is not None:
            raise UnprovenCommand(
                f"redrive by {by!r} not proven: {refusal.code}: {refusal.message}"
            )

    async def erase(
        self,
        msg: StreamMessage[Any],
        handling: Callable[[asyncpg.Connection, str], Awaitable[Sequence[Outgoing]]],
    ) -> None:
        """A tombstone on a compacted topic (the subscriber got `None`): the key's record is
        deleted. A tombstone has no envelope, so no inbox entry; deleting again changes nothing."""
        key = msg.raw_message.key.decode("utf-8", "backslashreplace")
        await self.messaging.produce(lambda conn: handling(conn, key))

    def use_messaging(self, messaging: Messaging) -> None:
        """Runs on another inbox and outbox than the database's (the fast tier's in memory)."""
        self._messaging = messaging

    async def start_resources(self) -> None:
        pool = await create_pool(self.settings.database_url, self.name, self.package)
        self._messaging = Messaging(pool, self.broker, self.name)

    async def start_jobs(self) -> None:
        await self._relay_leftovers(older_than_seconds=0)  # what a previous run left unpublished
        self._tasks = [asyncio.create_task(self._repeat(*job)) for job in self._jobs]
        if self.settings.metrics_port:
            self._http = await self.metrics.serve(
                self.settings.metrics_host, self.settings.metrics_port
            )
        self._consuming = True

    async def stop_jobs(self) -> None:
        self._consuming = False
        for task in self._tasks:
            task.cancel()
        if self._http is not None:
            await self._http.end()
            self._http = None

    async def close_resources(self) -> None:
        if self._messaging:
            await self._messaging.pool.close()
            self._messaging = None
        await asyncio.to_thread(tracing.shutdown)  # the spans still buffered go out

    async def _relay_leftovers(self, older_than_seconds: float | None = None) -> None:
        age = (
            self.settings.outbox_sweep_seconds if older_than_seconds is None else older_than_seconds
        )
        count = await self.messaging.relay_pending(older_than_seconds=age)
        if count:
            log.warning("outbox relay published leftover events", count=count)

    async def _repeat(self, name: str, seconds: float, job: Job) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except Exception as exc:  # a job must outlive a database or broker outage
                log.warning("periodic job failed, will retry", job=name, error=repr(exc))
