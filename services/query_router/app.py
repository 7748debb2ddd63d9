"""query_router's FastStream wiring: its own consumer group on queries, tenant states and the
registers' answers, and the timeout check."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from services.query_router import service
from services.query_router.store import RouterStore, Routing, TenantView
from shared.contract.events.account import TenantState
from shared.contract.events.manuell import ManualResponse
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.settings import Settings

SERVICE = "query_router"


class RouterSettings(Settings):
    # A register restarted within 10 s takes its partitions back about 1.5 s after its start
    # (static membership) and works off the backlog at several hundred queries a second: 30 s
    # leaves room for that, so a restart costs time but no query (tests/integration/
    # test_register_restart.py), while a register that is really gone still gets a technical
    # error within half a minute.
    register_timeout_seconds: float = Field(
        30.0, description="a register that has not answered by then gives a technical error"
    )
    register_timeout_check_seconds: float = Field(
        1.0, description="how often queries are checked for a missing answer"
    )
    closed_vorgang_keep_seconds: float = Field(
        7 * 86400.0,
        description="how long a closed Vorgang's keys (no criteria, no Kennung) are kept to "
        "recognise a query delivered again",
    )


class QueryRouter(ServiceRuntime):
    def __init__(
        self, settings: RouterSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.router_settings = settings or RouterSettings()
        super().__init__(SERVICE, "services.query_router", self.router_settings, clock)
        self.tenant_view = TenantView()  # parsed states, kept across batches
        self.store: Callable[[Any], Routing] = lambda conn: RouterStore(conn, self.tenant_view)
        self.timeout = timedelta(seconds=self.router_settings.register_timeout_seconds)
        self.every(
            self.router_settings.register_timeout_check_seconds, "register timeouts", self.expire
        )
        self.every(self.settings.personal_data_sweep_seconds, "closed Vorgänge", self.forget)

        @self.subscriber(Topics.TENANT_STATE)
        async def on_tenant_state(state: TenantState | None, msg: KafkaMessage) -> None:
            """Keeps the tenant's current state to authorise from; a tombstone erases it."""
            if state is None:
                await self.erase(
                    msg, lambda conn, key: service.handle_tenant_erased(self.store(conn), key)
                )
                return
            await self.consume(
                msg, lambda conn, _: service.handle_tenant_state(self.store(conn), state)
            )

        @self.batch_subscriber(Topics.QUERY_REQUESTED)
        async def on_queries(records: list[Any], msg: KafkaMessage) -> None:
            """Authorises, gives the Vorgangsnummer and routes to the state's register."""
            await self.consume_batch(
                msg,
                Topics.QUERY_REQUESTED,
                lambda conn, items: service.handle_queries(
                    self.store(conn),
                    [item.event for item in items],
                    self.settings.operator_state,
                    self.clock(),
                    self.timeout,
                ),
            )

        @self.batch_subscriber(Topics.REGISTER_RESPONSE)
        async def on_responses(records: list[Any], msg: KafkaMessage) -> None:
            """Hands the registers' answers on to protocol_log for logging and release."""
            await self.consume_batch(
                msg,
                Topics.REGISTER_RESPONSE,
                lambda conn, items: service.handle_responses(
                    self.store(conn), [item.event for item in items], self.clock()
                ),
            )

        @self.subscriber(Topics.REGISTER_MANUAL_RESPONSE)
        async def on_manual(manual: ManualResponse, msg: KafkaMessage) -> None:
            """Hands a registration office's answer after manual processing to protocol_log."""
            await self.consume(
                msg, lambda conn, _: service.handle_manual(self.store(conn), manual, self.clock())
            )

    async def forget(self) -> None:
        keep = timedelta(seconds=self.router_settings.closed_vorgang_keep_seconds)
        await self.messaging.produce(
            lambda conn: service.forget(self.store(conn), self.clock(), keep)
        )

    async def expire(self) -> None:
        await self.messaging.produce(lambda conn: service.expire(self.store(conn), self.clock()))
