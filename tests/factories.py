"""Events as the services upstream would produce them, for tests further down the line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.intake.domain import assess
from services.legal_review import rules
from services.legal_review.rules import Ergebnis
from shared.events.application import ApplicationSubmitted, CompleteApplication
from shared.events.review import Entscheidung, ReviewDecided
from tests.helpers import application

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def complete_application(app_id: str | None = None, **changes: object) -> CompleteApplication:
    body = application(app_id or f"P-{uuid.uuid4().hex[:10]}", **changes)
    result = assess(ApplicationSubmitted.model_validate(body))
    assert isinstance(result, CompleteApplication), result
    return result


def approval(app: CompleteApplication, now: datetime = NOW) -> ReviewDecided:
    terms = rules.approval_terms(app, commission_reference="AV-TEST")
    assert terms.result is Ergebnis.APPROVED
    return ReviewDecided(
        application_id=app.application_id,
        decision=Entscheidung.APPROVED,
        statement=rules.statement(Entscheidung.APPROVED, terms.reasons),
        reasons=terms.reasons,
        conditions=terms.conditions,
        data_scope=terms.data_scope,
        decided_by="rules",
        decided_at=now,
        application=app,
    )
