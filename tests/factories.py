"""Events as the services upstream would produce them, for tests further down the line."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.intake.domain import assess
from services.legal_review import domain
from services.legal_review.domain import Ergebnis
from shared.contract.events.account import (
    CredentialPurpose,
    CredentialsIssued,
    Postanschrift,
    Zustellweg,
)
from shared.contract.events.application import ApplicationSubmitted, CompleteApplication, Zugangsart
from shared.contract.events.review import Entscheidung, ReviewDecided
from shared.platform.pki import LETTER_PUB
from shared.platform.sealed import credential_context, seal
from shared.platform.settings import get_settings
from tests.helpers import application

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
ADDRESS = Postanschrift(
    salutation="frau",
    first_name="Jördis",
    surname="Weißmüller",
    authority_name="Landkreis Göttingen",
    office_name="Ordnungsamt",
    street_and_number="Reinhäuser Landstraße 4",
    postcode="37083",
    town="Göttingen",
)


def complete_application(app_id: str | None = None, **changes: object) -> CompleteApplication:
    body = application(app_id or f"P-{uuid.uuid4().hex[:10]}", **changes)
    result = assess(ApplicationSubmitted.model_validate(body))
    assert isinstance(result, CompleteApplication), result
    return result


def approval(app: CompleteApplication, now: datetime = NOW) -> ReviewDecided:
    terms = domain.approval_terms(app, commission_reference="AV-TEST")
    assert terms.result is Ergebnis.APPROVED
    return ReviewDecided(
        application_id=app.application_id,
        decision=Entscheidung.APPROVED,
        statement=domain.statement(Entscheidung.APPROVED, terms.reasons),
        reasons=terms.reasons,
        conditions=terms.conditions,
        data_scope=terms.data_scope,
        decided_by="rules",
        decided_at=now,
        application=app,
    )


def credentials(
    purpose: CredentialPurpose = CredentialPurpose.ADMINISTRATOR_INITIAL,
    cert: str | None = None,
    email: str | None = None,
) -> tuple[CredentialsIssued, str]:
    password = f"Pw{uuid.uuid4().hex[:14]}"
    user_id = str(uuid.uuid4())
    public = bytes.fromhex((get_settings().pki_dir / LETTER_PUB).read_text().strip())
    event = CredentialsIssued(
        tenant_id=str(uuid.uuid4()),
        user_id=user_id,
        username="j.weissmueller.4f2a9c",
        purpose=purpose,
        secret_delivery=(
            Zustellweg.SMIME_MAIL
            if purpose is CredentialPurpose.ADMINISTRATOR_RESET
            else Zustellweg.LETTER
        ),
        email=email or f"{uuid.uuid4().hex[:8]}@example.org",
        smime_certificate_pem=cert,
        address=ADDRESS,
        sealed_secret=seal(public, password.encode(), credential_context(user_id, purpose.value)),
        password_expires_at=NOW + timedelta(days=14),
        role=Zugangsart.EINFACHE_BEHOERDENAUSKUNFT,
        issued_at=NOW,
    )
    return event, password
