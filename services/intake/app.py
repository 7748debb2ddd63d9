"""intake's FastStream wiring: `min.application.submitted.v1` in, one outcome event out;
`min.review.decided.v1` in, to close the application."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.intake.service import handle_decision, handle_submission
from services.intake.store import Applications, ApplicationStore
from shared.contract.events.application import ApplicationSubmitted
from shared.contract.events.review import ReviewDecided
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.settings import Settings

SERVICE = "intake"


class Intake(ServiceRuntime):
    def __init__(
        self, settings: Settings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        super().__init__(SERVICE, "services.intake", settings, clock)
        self.store: Callable[[Any], Applications] = ApplicationStore  # tests: an in-memory one

        @self.subscriber(Topics.APPLICATION_SUBMITTED)
        async def on_application_submitted(
            application: ApplicationSubmitted, msg: KafkaMessage
        ) -> None:
            """Decides completeness; publishes accepted, incomplete or refused."""
            await self.consume(
                msg,
                lambda conn, env: handle_submission(
                    self.store(conn), application, env, self.clock()
                ),
            )

        @self.subscriber(Topics.REVIEW_DECIDED)
        async def on_review_decided(decided: ReviewDecided, msg: KafkaMessage) -> None:
            """Closes the application: a decided application is no longer open."""
            await self.consume(
                msg,
                lambda conn, env: handle_decision(self.store(conn), decided, env, self.clock()),
            )
