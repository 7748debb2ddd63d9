"""legal_review's service layer: accepted applications, commissions, manual decisions, deadlines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.legal_review import domain
from services.legal_review.domain import Ergebnis, Pruefung, Unterschrift
from services.legal_review.store import Reviews
from shared.contract.events.application import ApplicationAccepted, CompleteApplication
from shared.contract.events.review import (
    Begruendung,
    Entscheidung,
    LoggingCommissioned,
    Mahnstufe,
    ManualDecision,
    ManualDecisionRejected,
    ReviewDecided,
    ReviewOverdue,
    ReviewPendingManual,
    Unterschriftsstand,
)
from shared.contract.topics import Topics
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing
from shared.platform.operator_signatures import Refusal, Signer, proven

log = get_logger(__name__)
RULES = "rules"
COUNTERSIGNATURE = Unterschriftsstand.COUNTERSIGNATURE


@dataclass(frozen=True)
class Deadlines:
    reminder_after: timedelta
    escalation_after: timedelta


@dataclass(frozen=True)
class Signing:
    """How decisions become administrative acts: signed by one operator, or by two (the four-eyes
    principle, `MELDESPIEGEL_REVIEW_SIGNATURES=2`). `automatic` lets the rules' outcome stand
    unsigned (`MELDESPIEGEL_REVIEW_AUTO_SIGN`): for demonstrations, recorded on the decision as
    automatic; cases the rules leave open still wait for an operator."""

    signatures: int = 1
    automatic: bool = False


async def _decide(
    store: Reviews,
    app: CompleteApplication,
    outcome: Pruefung,
    now: datetime,
    *,
    signatures: tuple[Unterschrift, ...],
    recommendation: Entscheidung | None,
) -> list[Outgoing]:
    decision = (
        Entscheidung.APPROVED if outcome.result is Ergebnis.APPROVED else Entscheidung.REJECTED
    )
    decided_by = signatures[0].operator_id if signatures else RULES
    await store.save(app, outcome.result.value, outcome.reasons, now, decided_by, None, signatures)
    log.info(
        "review " + outcome.result.value,
        application_id=app.application_id,
        reasons=[r.code for r in outcome.reasons],
        signed_by=[s.operator_id for s in signatures],
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
        signatures=[s.operator_id for s in signatures],
        automatic=not signatures,
        recommendation=recommendation,
    )
    return [Outgoing(Topics.REVIEW_DECIDED, event, subject=app.application_id)]


async def _await_signature(
    store: Reviews,
    app: CompleteApplication,
    needed: list[Begruendung],
    now: datetime,
    *,
    recommendation: Pruefung | None,
    signatures: tuple[Unterschrift, ...] = (),
    since: datetime | None = None,
) -> list[Outgoing]:
    """The case waits for an operator's signature (or a second one) since `since`, and says so."""
    status = (
        Ergebnis.COUNTERSIGN
        if signatures
        else Ergebnis.RECOMMENDED
        if recommendation is not None
        else Ergebnis.PENDING_MANUAL
    )
    await store.save(app, status.value, needed, now, None, recommendation, signatures)
    log.info("review awaits a signature", application_id=app.application_id, status=status.value)
    proposed = (
        signatures[0].decision
        if signatures
        else domain.recommended(recommendation)
        if recommendation
        else None
    )
    return [
        Outgoing(
            Topics.REVIEW_PENDING_MANUAL,
            ReviewPendingManual(
                application_id=app.application_id,
                authority_name=app.authority_name,
                needed=needed,
                pending_since=since or now,
                recommendation=domain.recommended(recommendation) if recommendation else None,
                proposed=proposed,
                statement=domain.statement(proposed, needed) if proposed else None,
                awaiting=(
                    Unterschriftsstand.COUNTERSIGNATURE
                    if signatures
                    else Unterschriftsstand.SIGNATURE
                ),
                signatures=[s.operator_id for s in signatures],
            ),
            subject=app.application_id,
        )
    ]


async def _record(
    store: Reviews, app: CompleteApplication, outcome: Pruefung, now: datetime, signing: Signing
) -> list[Outgoing]:
    """What the rules found: a recommendation for an operator to sign (the decision itself only
    where signing is automatic), a case for an operator, or a wait for the commission."""
    if outcome.result in domain.DECIDED:
        if signing.automatic:
            recommendation = domain.recommended(outcome)
            return await _decide(
                store, app, outcome, now, signatures=(), recommendation=recommendation
            )
        return await _await_signature(store, app, outcome.reasons, now, recommendation=outcome)
    if outcome.result is Ergebnis.PENDING_MANUAL:
        return await _await_signature(store, app, outcome.reasons, now, recommendation=None)
    await store.save(app, outcome.result.value, outcome.reasons, now)
    log.info("review waits for the logging commission", application_id=app.application_id)
    return []  # waiting for the logging commission; deadlines watch it


async def handle_accepted(
    store: Reviews,
    accepted: ApplicationAccepted,
    now: datetime,
    operator_state: str,
    signing: Signing,
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
    return await _record(store, app, outcome, now, signing)


async def handle_commission(
    store: Reviews, commission: LoggingCommissioned, now: datetime, signing: Signing
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
    if case.signatures:  # the operators signed the approval; it waited for the commission only
        return await _decide(
            store, case.application, outcome, now, signatures=case.signatures, recommendation=None
        )
    return await _record(store, case.application, outcome, now, signing)


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
    store: Reviews, md: ManualDecision, now: datetime, signer: Signer | Refusal, signing: Signing
) -> Sequence[Outgoing]:
    """An operator's signature under a waiting case, applied if the operator it names signed the
    command: the recommendation as it stands or the operator's own decision, final with the
    last signature required. A forged or unsigned one, a second signature by the same person, or
    one on a case that waits for nothing is refused and changes nothing; a countersignature that
    differs withdraws the first, and the case waits anew."""
    not_proven = proven(signer, md.operator_id)
    case = await store.case(md.application_id, lock=True)
    signature = Unterschrift(md.operator_id, md.decision, md.reason)
    refusal = (
        (not_proven.code, not_proven.message)
        if not_proven
        else domain.manual_decision_refusal(
            md.application_id,
            Ergebnis(case.status) if case else None,
            list(case.signatures) if case else None,
            signature,
        )
    )
    if refusal is not None:
        code, message = refusal
        await store.log_manual_decision(
            md.application_id, md.operator_id, md.decision, md.reason, code, now
        )
        log.warning("signature refused", application_id=md.application_id, reason_code=code)
        out = [_refusal(md, code, message)]
        if code == "DISSENT" and case is not None:
            out += await _await_signature(
                store,
                case.application,
                case.reasons,
                now,
                recommendation=case.recommendation,
                since=case.pending_since,
            )
        return out
    assert case is not None
    signatures = (*case.signatures, signature)
    if len(signatures) < signing.signatures:
        await store.log_manual_decision(
            md.application_id, md.operator_id, md.decision, md.reason, "countersign", now
        )
        return await _await_signature(
            store,
            case.application,
            case.reasons,
            now,
            recommendation=case.recommendation,
            signatures=signatures,
            since=case.pending_since,
        )
    outcome = domain.signed(
        case.application,
        case.recommendation,
        case.reasons,
        signatures[0],
        await store.commission(md.application_id),
    )
    await store.log_manual_decision(
        md.application_id, md.operator_id, md.decision, md.reason, outcome.result.value, now
    )
    recommendation = domain.recommended(case.recommendation) if case.recommendation else None
    if outcome.result is Ergebnis.WAITING_COMMISSION:
        # signed; the approval takes effect with the logging commission (§ 40 Abs. 3 BMG)
        await store.save(
            case.application, outcome.result.value, outcome.reasons, now, None, None, signatures
        )
        return []
    return await _decide(
        store,
        case.application,
        outcome,
        now,
        signatures=signatures,
        recommendation=recommendation,
    )


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
                            waiting_for={
                                Ergebnis.PENDING_MANUAL: "manual_decision",
                                Ergebnis.WAITING_COMMISSION: "logging_commission",
                            }.get(Ergebnis(case.status), "signature"),
                            pending_since=case.pending_since,
                            raised_at=now,
                        ),
                        subject=case.application.application_id,
                    )
                )
    return out
