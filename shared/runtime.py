"""The frame every service runs in: broker, database pool, inbox/outbox, periodic jobs, and the
FastStream application with its start-up and shut-down order. A service subclasses it and adds its
subscribers; `clock` is injectable so that tests control time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage

from shared.broker import envelope_of, make_broker, subscribe
from shared.db import create_pool
from shared.envelope import Envelope
from shared.logging import get_logger
from shared.messaging import Consumed, Messaging, Outgoing
from shared.settings import Settings, get_settings
from shared.topics import TopicSpec

log = get_logger(__name__)
Job = Callable[[], Awaitable[Any]]
Handling = Callable[[asyncpg.Connection, Envelope], Awaitable[Sequence[Outgoing]]]


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
        self.name = name
        self.package = package
        self.settings = settings or get_settings()
        self.clock = clock
        self.broker: KafkaBroker = make_broker(self.settings, name)
        self._messaging: Messaging | None = None
        self._jobs: list[tuple[str, float, Job]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.app = FastStream(self.broker, logger=logging.getLogger(f"meldespiegel.{name}"))
        self.app.on_startup(self.start_resources)
        self.app.after_startup(self.start_jobs)
        self.app.on_shutdown(self.stop_jobs)
        self.app.after_shutdown(self.close_resources)  # after the broker stopped consuming
        self.every(self.settings.outbox_sweep_seconds, "outbox relay", self._relay_leftovers)

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

    async def consume(self, msg: StreamMessage[Any], handling: Handling) -> bool:
        """Applies a consumed event once (inbox), publishing what it produced (outbox)."""
        envelope = envelope_of(msg)
        record = msg.raw_message
        consumed = Consumed(envelope, record.topic, record.partition, record.offset)
        return await self.messaging.process_once(consumed, lambda conn: handling(conn, envelope))

    async def start_resources(self) -> None:
        pool = await create_pool(self.settings.database_url, self.name, self.package)
        self._messaging = Messaging(pool, self.broker, self.name)

    async def start_jobs(self) -> None:
        await self._relay_leftovers(older_than_seconds=0)  # what a previous run left unpublished
        self._tasks = [asyncio.create_task(self._repeat(*job)) for job in self._jobs]

    async def stop_jobs(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def close_resources(self) -> None:
        if self._messaging:
            await self._messaging.pool.close()
            self._messaging = None

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
