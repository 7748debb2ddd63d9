"""legal_review's service layer: accepted applications, commissions, manual decisions, deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.legal_review import domain
from services.legal_review.domain import Ergebnis, Pruefung
from services.legal_review.store import Reviews
from shared.contract.events.application import ApplicationAccepted, CompleteApplication
from shared.contract.events.review import (
    Entscheidung,
    LoggingCommissioned,
    Mahnstufe,
    ManualDecision,
    ManualDecisionRejected,
    ReviewDecided,
    ReviewOverdue,
    ReviewPendingManual,
)
from shared.contract.topics import Topics
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing
from shared.platform.operator_signatures import Refusal, Signer, proven

log = get_logger(__name__)
RULES = "rules"


@dataclass(frozen=True)
class Deadlines:
    reminder_after: timedelta
    escalation_after: timedelta


def _decided(
    app: CompleteApplication, outcome: Pruefung, decided_by: str, now: datetime
) -> Outgoing:
    decision = (
        Entscheidung.APPROVED if outcome.result is Ergebnis.APPROVED else Entscheidung.REJECTED
    )
    event = ReviewDecided(
        application_id=app.application_id,
        decision=decision,
        statement=domain.statement(decision, outcome.reasons),
        reasons=outcome.reasons,
        conditions=outcome.conditions,
        data_scope=outcome.data_scope,
        decided_by=decided_by,
        decided_at=now,
        application=app,
    )
    return Outgoing(Topics.REVIEW_DECIDED, event, subject=app.application_id)


async def _record(
    store: Reviews,
    app: CompleteApplication,
    outcome: Pruefung,
    now: datetime,
    decided_by: str = RULES,
) -> list[Outgoing]:
    """Stores the case in its new state and returns what must be published about it."""
    await store.save(
        app,
        outcome.result.value,
        outcome.reasons,
        now,
        decided_by if outcome.result in (Ergebnis.APPROVED, Ergebnis.REJECTED) else None,
    )
    log.info(
        "review " + outcome.result.value,
        application_id=app.application_id,
        reasons=[r.code for r in outcome.reasons],
    )
    if outcome.result in (Ergebnis.APPROVED, Ergebnis.REJECTED):
        return [_decided(app, outcome, decided_by, now)]
    if outcome.result is Ergebnis.PENDING_MANUAL:
        return [
            Outgoing(
                Topics.REVIEW_PENDING_MANUAL,
                ReviewPendingManual(
                    application_id=app.application_id,
                    authority_name=app.authority_name,
                    needed=outcome.reasons,
                    pending_since=now,
                ),
                subject=app.application_id,
            )
        ]
    return []  # waiting for the logging commission; deadlines watch it


async def handle_accepted(
    store: Reviews, accepted: ApplicationAccepted, now: datetime, operator_state: str
) -> Sequence[Outgoing]:
    app = accepted.application
    if await store.case(app.application_id) is not None:
        log.info("application already under review", application_id=app.application_id)
        return []
    outcome = domain.review(
        app,
        operator_state=operator_state,
        commission_reference=await store.commission(app.application_id),
    )
    return await _record(store, app, outcome, now)


async def handle_commission(
    store: Reviews, commission: LoggingCommissioned, now: datetime
) -> Sequence[Outgoing]:
    await store.add_commission(
        commission.application_id,
        commission.reference,
        commission.commissioned_at,
        commission.recorded_by,
        now,
    )
    case = await store.case(commission.application_id, lock=True)
    if case is None or case.status != Ergebnis.WAITING_COMMISSION:
        return []  # recorded; the application follows, or did not need it
    outcome = domain.approval_terms(case.application, commission_reference=commission.reference)
    return await _record(store, case.application, outcome, now)


def _refusal(md: ManualDecision, code: str, message: str) -> Outgoing:
    return Outgoing(
        Topics.REVIEW_DECISION_REJECTED,
        ManualDecisionRejected(
            application_id=md.application_id,
            operator_id=md.operator_id,
            reason_code=code,
            message=message,
        ),
        subject=md.application_id,
    )


async def handle_manual_decision(
    store: Reviews, md: ManualDecision, now: datetime, signer: Signer | Refusal
) -> Sequence[Outgoing]:
    """An operator's decision, applied if the operator it names signed it (and the case waits
    for one); a forged or unsigned one is refused and changes nothing."""
    not_proven = proven(signer, md.operator_id)
    case = await store.case(md.application_id, lock=True)
    refusal = (
        (not_proven.code, not_proven.message)
        if not_proven
        else domain.manual_decision_refusal(
            md.application_id, Ergebnis(case.status) if case else None
        )
    )
    if refusal is not None:
        code, message = refusal
        await store.log_manual_decision(
            md.application_id, md.operator_id, md.decision, md.reason, code, now
        )
        log.warning("manual decision refused", application_id=md.application_id, reason_code=code)
        return [_refusal(md, code, message)]
    assert case is not None
    outcome = domain.decide_manually(
        case.application,
        case.reasons,
        md.decision,
        md.reason,
        await store.commission(md.application_id),
    )
    await store.log_manual_decision(
        md.application_id, md.operator_id, md.decision, md.reason, outcome.result.value, now
    )
    return await _record(store, case.application, outcome, now, decided_by=md.operator_id)


async def check_deadlines(
    store: Reviews, now: datetime, deadlines: Deadlines
) -> Sequence[Outgoing]:
    """Raises a reminder, then an escalation, once each, for cases waiting past the deadline."""
    out: list[Outgoing] = []
    for case in await store.open_cases():
        assert case.pending_since is not None
        waited = now - case.pending_since
        due = [
            (Mahnstufe.REMINDER, deadlines.reminder_after, case.reminded_at),
            (Mahnstufe.ESCALATION, deadlines.escalation_after, case.escalated_at),
        ]
        for level, after, raised in due:
            if raised is None and waited >= after:
                await store.mark_overdue(case.application.application_id, level, now)
                out.append(
                    Outgoing(
                        Topics.REVIEW_OVERDUE,
                        ReviewOverdue(
                            application_id=case.application.application_id,
                            level=level,
                            waiting_for=(
                                "manual_decision"
                                if case.status == Ergebnis.PENDING_MANUAL
                                else "logging_commission"
                            ),
                            pending_since=case.pending_since,
                            raised_at=now,
                        ),
                        subject=case.application.application_id,
                    )
                )
    return out
