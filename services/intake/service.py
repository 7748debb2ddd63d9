"""intake's service layer: one submitted application in, at most one outcome event out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.intake import domain
from services.intake.domain import Status
from services.intake.store import Applications
from shared.contract.envelope import Envelope
from shared.contract.events.application import ApplicationSubmitted
from shared.contract.events.review import ReviewDecided
from shared.contract.topics import Topics
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing

log = get_logger(__name__)

_OUTCOME_TOPIC = {
    Status.ACCEPTED: Topics.APPLICATION_ACCEPTED,
    Status.INCOMPLETE: Topics.APPLICATION_INCOMPLETE,
    Status.REFUSED: Topics.APPLICATION_REFUSED,
}


async def handle_submission(
    store: Applications, app: ApplicationSubmitted, envelope: Envelope, now: datetime
) -> Sequence[Outgoing]:
    if await store.exists(app.application_id):
        # the upstream system delivered the same application again as a new event: its outcome
        # was published the first time, so this delivery is recorded and changes nothing
        await store.add_status(app.application_id, Status.REDELIVERED, now, envelope.id)
        log.info(
            "application delivered again, outcome unchanged", application_id=app.application_id
        )
        return []

    assessment = domain.assess(app)
    open_application_id = None
    if not isinstance(assessment, list) and domain.needs_duplicate_check(assessment):
        await store.lock_authority_role(assessment.authority_key, assessment.access_type)
        open_application_id = await store.open_application(
            assessment.authority_key, assessment.access_type
        )
    decision = domain.decide(app, assessment, now=now, open_application_id=open_application_id)
    await store.add(app, decision, envelope, now)
    log.info(
        "application " + decision.status.value,
        application_id=app.application_id,
        defects=[d.code for d in getattr(decision.event, "defects", [])] or None,
    )
    return [Outgoing(_OUTCOME_TOPIC[decision.status], decision.event, subject=app.application_id)]


async def handle_decision(
    store: Applications, decided: ReviewDecided, envelope: Envelope, now: datetime
) -> Sequence[Outgoing]:
    """Legal review decided: the application is closed, and the role is free for a new one."""
    status = Status(decided.decision.value)
    if await store.close(decided.application_id, status):
        await store.add_status(
            decided.application_id, status, now, envelope.id, {"decided_by": decided.decided_by}
        )
    else:
        log.warning(
            "decision for an application intake does not hold open",
            application_id=decided.application_id,
        )
    return []
