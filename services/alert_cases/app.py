"""alert_cases' FastStream wiring: evaluation alerts open cases; approvals and provisioning tell
whom to contact; the team's signed commands take the steps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.alert_cases import service
from services.alert_cases.store import Cases, CaseStore
from shared.contract.events.account import AccountProvisioned
from shared.contract.events.cases import CaseCommand
from shared.contract.events.protocol import ProtocolAlert
from shared.contract.events.review import ReviewDecided
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.settings import Settings

SERVICE = "alert_cases"


class AlertCases(ServiceRuntime):
    def __init__(
        self, settings: Settings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(SERVICE, "services.alert_cases", settings, clock)
        self.store: Callable[[Any], Cases] = CaseStore  # tests: an in-memory one

        @self.subscriber(Topics.PROTOCOL_ALERTS)
        async def on_alert(alert: ProtocolAlert, msg: KafkaMessage) -> None:
            """Opens a case for the data-protection team."""
            await self.consume(
                msg, lambda conn, _: service.handle_alert(self.store(conn), alert, self.clock())
            )

        @self.subscriber(Topics.REVIEW_DECIDED)
        async def on_decided(decided: ReviewDecided, msg: KafkaMessage) -> None:
            """Keeps the administrator an approval names, for mails about a case."""
            await self.consume(
                msg, lambda conn, _: service.handle_decided(self.store(conn), decided)
            )

        @self.subscriber(Topics.ACCOUNT_PROVISIONED)
        async def on_provisioned(done: AccountProvisioned, msg: KafkaMessage) -> None:
            """Keeps which application a tenant comes from."""
            await self.consume(
                msg, lambda conn, _: service.handle_provisioned(self.store(conn), done)
            )

        @self.subscriber(Topics.CASE_COMMAND)
        async def on_command(command: CaseCommand, msg: KafkaMessage) -> None:
            """Takes a step the team signed, or says why it cannot be taken."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_command(
                    self.store(conn), command, self.signer(msg), self.clock()
                ),
            )
