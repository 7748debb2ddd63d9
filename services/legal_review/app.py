"""legal_review's FastStream wiring."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from services.legal_review import service
from services.legal_review.service import Deadlines, Signing
from services.legal_review.store import Reviews, ReviewStore
from shared.contract.events.application import ApplicationAccepted
from shared.contract.events.review import LoggingCommissioned, ManualDecision
from shared.contract.topics import Topics
from shared.platform.broker import KafkaMessage
from shared.platform.runtime import ServiceRuntime, utc_now
from shared.platform.settings import Settings

SERVICE = "legal_review"


class ReviewSettings(Settings):
    review_reminder_after_hours: float = Field(
        72.0, description="a pending case raises a reminder after this long"
    )
    review_escalation_after_hours: float = Field(
        168.0, description="… and an escalation after this long"
    )
    review_deadline_check_seconds: float = Field(
        60.0, description="how often deadlines are checked"
    )
    review_signatures: int = Field(
        1, ge=1, le=2, description="operators who sign a decision: 1, or 2 (four-eyes principle)"
    )
    review_auto_sign: bool = Field(
        False,
        description="let the rules' outcome stand unsigned, recorded as automatic: for "
        "demonstrations only (§ 35a VwVfG)",
    )


class LegalReview(ServiceRuntime):
    def __init__(
        self, settings: ReviewSettings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.review_settings = settings or ReviewSettings()
        super().__init__(SERVICE, "services.legal_review", self.review_settings, clock)
        self.store: Callable[[Any], Reviews] = ReviewStore  # tests: an in-memory one
        self.deadlines = Deadlines(
            timedelta(hours=self.review_settings.review_reminder_after_hours),
            timedelta(hours=self.review_settings.review_escalation_after_hours),
        )
        self.signing = Signing(
            self.review_settings.review_signatures, self.review_settings.review_auto_sign
        )
        self.every(
            self.review_settings.review_deadline_check_seconds,
            "review deadlines",
            self.check_deadlines,
        )

        @self.subscriber(Topics.APPLICATION_ACCEPTED)
        async def on_application_accepted(accepted: ApplicationAccepted, msg: KafkaMessage) -> None:
            """Reviews by the rules: a recommendation for an operator to sign, or a case."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_accepted(
                    self.store(conn),
                    accepted,
                    self.clock(),
                    self.settings.operator_state,
                    self.signing,
                ),
            )

        @self.subscriber(Topics.REVIEW_LOGGING_COMMISSIONED)
        async def on_logging_commissioned(
            commission: LoggingCommissioned, msg: KafkaMessage
        ) -> None:
            """Records the commission; a case waiting for it is decided."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_commission(
                    self.store(conn), commission, self.clock(), self.signing
                ),
            )

        @self.subscriber(Topics.REVIEW_MANUAL_DECISION)
        async def on_manual_decision(decision: ManualDecision, msg: KafkaMessage) -> None:
            """Applies an operator's signature, or says why it cannot be applied."""
            await self.consume(
                msg,
                lambda conn, _: service.handle_manual_decision(
                    self.store(conn), decision, self.clock(), self.signer(msg), self.signing
                ),
            )

    async def check_deadlines(self) -> None:
        await self.messaging.produce(
            lambda conn: service.check_deadlines(self.store(conn), self.clock(), self.deadlines)
        )
