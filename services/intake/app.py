"""intake's FastStream wiring: `min.application.submitted.v1` in, one outcome event out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from services.intake.service import handle_submission
from services.intake.store import ApplicationStore
from shared.broker import envelope_of, make_broker, subscribe
from shared.db import create_pool
from shared.events.application import ApplicationSubmitted
from shared.messaging import Consumed, Messaging
from shared.settings import Settings, get_settings
from shared.topics import Topics

SERVICE = "intake"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Intake:
    """The running service: broker, database pool, messaging. `clock` is injectable for tests."""

    def __init__(
        self, settings: Settings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.settings = settings or get_settings()
        self.clock = clock
        self.broker: KafkaBroker = make_broker(self.settings, SERVICE)
        self.messaging: Messaging | None = None
        self._relay: asyncio.Task[None] | None = None

        @subscribe(
            self.broker, Topics.APPLICATION_SUBMITTED, group_id=SERVICE, settings=self.settings
        )
        async def on_application_submitted(
            application: ApplicationSubmitted, msg: KafkaMessage
        ) -> None:
            """Decides completeness; publishes accepted, incomplete or refused."""
            assert self.messaging is not None, "started before the database pool"
            envelope = envelope_of(msg)
            record = msg.raw_message
            consumed = Consumed(envelope, record.topic, record.partition, record.offset)
            await self.messaging.process_once(
                consumed,
                lambda conn: handle_submission(
                    ApplicationStore(conn), application, envelope, self.clock()
                ),
            )

        self.app = FastStream(self.broker, logger=logging.getLogger(f"meldespiegel.{SERVICE}"))
        self.app.on_startup(self.start_resources)
        self.app.after_startup(self.start_relay)
        self.app.on_shutdown(self.stop_relay)
        self.app.after_shutdown(self.close_resources)  # after the broker stopped consuming

    async def start_resources(self) -> None:
        pool = await create_pool(self.settings.database_url, SERVICE, "services.intake")
        self.messaging = Messaging(pool, self.broker, SERVICE)

    async def start_relay(self) -> None:
        assert self.messaging is not None
        await self.messaging.relay_pending()  # whatever a previous run left unpublished
        self._relay = asyncio.create_task(
            self.messaging.run_relay(self.settings.outbox_sweep_seconds)
        )

    async def stop_relay(self) -> None:
        if self._relay:
            self._relay.cancel()

    async def close_resources(self) -> None:
        if self.messaging:
            await self.messaging.pool.close()
