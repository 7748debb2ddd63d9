"""delivery_monitor's FastStream wiring: `min.register.delivery-log.v1` in, alerts on
`min.register.delivery-alerts.v1` out, and a periodic look for offices that went silent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from services.delivery_monitor import service
from services.delivery_monitor.domain import Thresholds
from services.delivery_monitor.store import Offices, OfficeStore
from shared.contract.events.register import DeliveryLogged
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.settings import Settings

SERVICE = "delivery_monitor"


class DeliverySettings(Settings):
    delivery_max_gap_hours: float = Field(
        26.0, gt=0, description="an office that sent nothing for this long raises an alert"
    )
    delivery_drop_share: float = Field(
        0.2, gt=0, lt=1, description="a share of an office's persons whose loss raises an alert"
    )
    delivery_check_seconds: float = Field(300.0, gt=0, description="how often to look")


class DeliveryMonitor(ServiceRuntime):
    def __init__(
        self, settings: DeliverySettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.delivery_settings = settings or DeliverySettings()
        super().__init__(SERVICE, "services.delivery_monitor", self.delivery_settings, clock)
        self.store: Callable[[Any], Offices] = OfficeStore  # tests: an in-memory one
        s = self.delivery_settings
        self.thresholds = Thresholds(
            timedelta(hours=s.delivery_max_gap_hours), s.delivery_drop_share
        )
        self.every(s.delivery_check_seconds, "silent offices", self.check_silent)

        @self.subscriber(Topics.REGISTER_DELIVERY_LOG)
        async def on_delivery_logged(logged: DeliveryLogged, msg: KafkaMessage) -> None:
            """Follows each office's deliveries; a refused one or a drop raises an alert."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_logged(
                    self.store(conn), logged, self.clock(), self.thresholds
                ),
            )

    async def check_silent(self) -> None:
        await self.messaging.produce(
            lambda conn: service.check_silent(self.store(conn), self.clock(), self.thresholds)
        )
