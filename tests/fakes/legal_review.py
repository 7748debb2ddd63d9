"""legal_review's `ReviewStore` in memory."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from services.legal_review.domain import DECIDED, Ergebnis, Pruefung, Unterschrift
from services.legal_review.store import Case
from shared.contract.events.application import CompleteApplication
from shared.contract.events.review import Begruendung


@dataclass
class MemoryReviewStore:
    cases: dict[str, Case] = field(default_factory=dict)
    decided_by: dict[str, str | None] = field(default_factory=dict)
    commissions: dict[str, tuple[str, datetime, str]] = field(default_factory=dict)
    manual_decisions: list[tuple[str, str, str, str, str, datetime]] = field(default_factory=list)

    async def case(self, application_id: str, *, lock: bool = False) -> Case | None:
        return self.cases.get(application_id)

    async def save(
        self,
        app: CompleteApplication,
        status: str,
        reasons: list[Begruendung],
        now: datetime,
        decided_by: str | None = None,
        recommendation: Pruefung | None = None,
        signatures: tuple[Unterschrift, ...] = (),
    ) -> None:
        decided = Ergebnis(status) in DECIDED
        before = self.cases.get(app.application_id)
        pending_since = None if decided else (before.pending_since if before else None) or now
        kept = before or Case(app, status, reasons, None, None, None)
        self.cases[app.application_id] = replace(
            kept,
            status=status,
            reasons=list(reasons),
            pending_since=pending_since,
            recommendation=recommendation,
            signatures=tuple(signatures),
        )
        self.decided_by[app.application_id] = decided_by

    async def commission(self, application_id: str) -> str | None:
        found = self.commissions.get(application_id)
        return found[0] if found else None

    async def add_commission(
        self,
        application_id: str,
        reference: str,
        commissioned_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> None:
        self.commissions[application_id] = (reference, commissioned_at, recorded_by)

    async def log_manual_decision(
        self,
        application_id: str,
        operator_id: str,
        decision: str,
        reason: str,
        outcome: str,
        now: datetime,
    ) -> None:
        self.manual_decisions.append((application_id, operator_id, decision, reason, outcome, now))

    async def open_cases(self) -> list[Case]:
        return sorted(
            (c for c in self.cases.values() if Ergebnis(c.status) not in DECIDED),
            key=lambda c: c.pending_since or datetime.min,
        )

    async def mark_overdue(self, application_id: str, level: str, now: datetime) -> None:
        column = {"reminder": "reminded_at", "escalation": "escalated_at"}[level]
        self.cases[application_id] = replace(self.cases[application_id], **{column: now})
