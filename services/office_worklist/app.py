"""office_worklist's FastStream wiring: the register's hand-overs and notices in, the clerks'
signed decisions and the register's answers to them; a periodic look for overdue cases, whose
backlog per office is a metric."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Gauge
from pydantic import Field

from services.office_worklist import service
from services.office_worklist.store import Backlog, Worklists, WorklistStore
from shared.contract.events.abruf import BlockNotice, RegisterHandover
from shared.contract.events.manuell import ManualResponse, OfficeCommand
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.settings import Settings

SERVICE = "office_worklist"


class OfficeSettings(Settings):
    office_deadline_hours: float = Field(
        72.0, gt=0, description="a case undecided for this long raises an alert"
    )
    office_check_seconds: float = Field(300.0, gt=0, description="how often to look")


class OfficeWorklist(ServiceRuntime):
    def __init__(
        self, settings: OfficeSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.office_settings = settings or OfficeSettings()
        super().__init__(SERVICE, "services.office_worklist", self.office_settings, clock)
        self.store: Callable[[Any], Worklists] = WorklistStore  # tests: an in-memory one
        s = self.office_settings
        self.deadline = timedelta(hours=s.office_deadline_hours)
        self.open_cases = Gauge(
            "meldespiegel_office_open_cases",
            "Undecided cases on a registration office's worklist",
            ["gemeindeschluessel"],
            registry=self.metrics.registry,
        )
        self.oldest_age = Gauge(
            "meldespiegel_office_oldest_case_age_seconds",
            "How long the office's oldest undecided case has waited",
            ["gemeindeschluessel"],
            registry=self.metrics.registry,
        )
        self.every(s.office_check_seconds, "overdue cases", self.check_overdue)
        state = s.operator_state

        @self.subscriber(Topics.REGISTER_HANDOVER)
        async def on_handover(handover: RegisterHandover, msg: KafkaMessage) -> None:
            """Puts a retrieval handed over on its office's worklist."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_handover(
                    self.store(conn), handover, state, self.clock()
                ),
            )

        @self.subscriber(Topics.REGISTER_BLOCK_NOTICE)
        async def on_notice(notice: BlockNotice, msg: KafkaMessage) -> None:
            """Prints the letter that tells of a request on a blocked person."""
            await self.consume(
                msg, lambda conn, _: service.handle_notice(self.store(conn), notice, state)
            )

        @self.subscriber(Topics.OFFICE_COMMAND)
        async def on_command(command: OfficeCommand, msg: KafkaMessage) -> None:
            """Takes a clerk's signed decision, or says why it cannot be taken."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_command(
                    self.store(conn), command, self.signer(msg), state, self.clock()
                ),
            )

        @self.subscriber(Topics.REGISTER_MANUAL_RESPONSE)
        async def on_manual_response(manual: ManualResponse, msg: KafkaMessage) -> None:
            """Closes a case once the register made the clerk's answer."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_manual_response(
                    self.store(conn), manual, self.clock()
                ),
            )

    def observe(self, backlog: list[Backlog]) -> None:
        self.open_cases.clear()
        self.oldest_age.clear()
        now = self.clock()
        for b in backlog:
            self.open_cases.labels(b.gemeindeschluessel).set(b.open_cases)
            age = (now - b.oldest_opened_at).total_seconds()
            self.oldest_age.labels(b.gemeindeschluessel).set(age)

    async def check_overdue(self) -> None:
        await self.messaging.produce(
            lambda conn: service.check_overdue(
                self.store(conn), self.clock(), self.deadline, self.observe
            )
        )
