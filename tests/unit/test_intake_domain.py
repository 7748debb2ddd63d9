"""Completeness rules of intake, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.intake.domain import Defects, Refusal, Status, assess, authority_key, decide
from shared.contract.events.application import (
    ApplicationSubmitted,
    CompleteApplication,
    Protokollierung,
    Zugangsart,
)
from tests.helpers import DELETE, application

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
SECURITY = {
    "access_type": "sicherheitsbehoerde",
    "authority.kind": "polizei",
    "logging_arrangement": "auftragsverarbeitung",
}

# (defect code, changes that produce exactly that defect)
CASES: list[tuple[str, dict[str, object]]] = [
    ("ACCESS_TYPE_MISSING", {"access_type": DELETE}),
    ("ACCESS_TYPE_UNKNOWN", {"access_type": "vollzugriff"}),
    ("AUTHORITY_NAME_MISSING", {"authority.name": "  "}),
    ("AUTHORITY_KIND_MISSING", {"authority.kind": None}),
    ("AUTHORITY_KIND_UNKNOWN", {"authority.kind": "inkassobuero"}),
    ("AUTHORITY_STATE_INVALID", {"authority.state": "17"}),
    ("ADMIN_SALUTATION_MISSING", {"administrator.salutation": DELETE}),
    ("ADMIN_SALUTATION_UNKNOWN", {"administrator.salutation": "Exzellenz"}),
    ("ADMIN_FIRST_NAME_MISSING", {"administrator.first_name": ""}),
    ("ADMIN_SURNAME_MISSING", {"administrator.surname": None}),
    ("ADMIN_EMAIL_MISSING", {"administrator.email": DELETE}),
    ("ADMIN_EMAIL_INVALID", {"administrator.email": "joerdis.weissmueller(at)example"}),
    ("ADMIN_PHONE_MISSING", {"administrator.phone": ""}),
    ("ADMIN_PHONE_INVALID", {"administrator.phone": "bitte anrufen"}),
    ("OFFICE_NAME_MISSING", {"administrator.office_name": DELETE}),
    ("OFFICE_STREET_MISSING", {"administrator.street_and_number": " "}),
    ("OFFICE_POSTCODE_MISSING", {"administrator.postcode": None}),
    ("OFFICE_POSTCODE_INVALID", {"administrator.postcode": "3708"}),
    ("OFFICE_TOWN_MISSING", {"administrator.town": ""}),
    ("ADMIN_SMIME_CERTIFICATE_INVALID", {"administrator.smime_certificate_pem": "kein PEM"}),
    ("COMPLIANCE_ASSURANCE_MISSING", {"compliance.assured": False}),
    ("COMPLIANCE_MEASURES_MISSING", {"compliance.measures": DELETE}),
    ("SIGNATURE_MISSING", {"signature.head_of_authority_signed": DELETE}),
    ("OFFICIAL_SEAL_MISSING", {"signature.official_seal": False}),
    ("NETWORK_CHANNEL_MISSING", {"network.channel": None}),
    ("NETWORK_CHANNEL_UNKNOWN", {"network.channel": "internet"}),
    ("NETWORK_REASON_MISSING", {"network.channel": "sonstiger"}),
    ("LOGGING_ARRANGEMENT_MISSING", {**SECURITY, "logging_arrangement": None}),
    ("LOGGING_ARRANGEMENT_UNKNOWN", {**SECURITY, "logging_arrangement": "keine"}),
    ("CLIENT_CERTIFICATE_FINGERPRINT_INVALID", {"client_certificate_fingerprint": "ab:cd"}),
]


def submitted(**changes: object) -> ApplicationSubmitted:
    return ApplicationSubmitted.model_validate(application("A-1", **changes))


def test_complete_application_is_normalised() -> None:
    result = assess(
        submitted(
            **{
                "access_type": " Einfache_Behoerdenauskunft ",
                "administrator.first_name": "  Jördis   Maria ",
                "client_certificate_fingerprint": "AB:" * 31 + "AB",
            }
        )
    )
    assert isinstance(result, CompleteApplication)
    assert result.access_type is Zugangsart.EINFACHE_BEHOERDENAUSKUNFT
    assert result.administrator.first_name == "Jördis Maria"
    assert result.client_certificate_fingerprint == "ab" * 32
    assert result.logging_arrangement is None  # the operator logs for einfache Behördenauskunft


@pytest.mark.parametrize(("code", "changes"), CASES, ids=[c for c, _ in CASES])
def test_each_defect_has_its_own_code(code: str, changes: dict[str, object]) -> None:
    result = assess(submitted(**changes))
    assert isinstance(result, list)
    assert [d.code for d in result] == [code]
    assert result[0].message.endswith(".")  # a full sentence for the letter


def test_every_defect_kind_is_covered_by_a_case() -> None:
    assert {c for c, _ in CASES} == {k.code for k in Defects.all()}


def test_all_defects_are_reported_at_once() -> None:
    result = assess(ApplicationSubmitted(application_id="A-2"))
    assert isinstance(result, list)
    codes = {d.code for d in result}
    assert {
        "ACCESS_TYPE_MISSING",
        "ADMIN_EMAIL_MISSING",
        "SIGNATURE_MISSING",
        "OFFICIAL_SEAL_MISSING",
        "NETWORK_CHANNEL_MISSING",
    } <= codes


def test_security_authority_with_logging_arrangement_is_complete() -> None:
    result = assess(submitted(**SECURITY))
    assert isinstance(result, CompleteApplication)
    assert result.logging_arrangement is Protokollierung.AUFTRAGSVERARBEITUNG


def test_other_network_with_reason_is_complete() -> None:
    result = assess(
        submitted(
            **{
                "network.channel": "sonstiger",
                "network.reason_if_other": "Außenstelle ohne Landesnetz",
            }
        )
    )
    assert isinstance(result, CompleteApplication)


def test_authority_key_prefers_identifier_and_folds_names() -> None:
    assert authority_key("DVDV:03-123", "x", "30159") == "id:dvdv:03-123"
    assert authority_key(None, "Stadt  Celle ", "29221") == authority_key(
        None, "STADT CELLE", "29221"
    )
    assert authority_key(None, "Stadt Celle", "29221") != authority_key(
        None, "Stadt Celle", "29223"
    )


def test_decide_accepts_a_complete_application() -> None:
    app = submitted()
    decision = decide(app, assess(app), now=NOW, open_application_id=None)
    assert decision.status is Status.ACCEPTED
    assert decision.event.accepted_at == NOW  # type: ignore[union-attr]


def test_decide_refuses_a_second_open_application_for_the_same_role() -> None:
    app = submitted()
    decision = decide(app, assess(app), now=NOW, open_application_id="A-0")
    assert decision.status is Status.REFUSED
    assert decision.event.reason_code == Refusal.DUPLICATE_APPLICATION_FOR_ROLE  # type: ignore[union-attr]
    assert "A-0" in decision.event.message  # type: ignore[union-attr]


def test_decide_lets_an_administrator_change_run_beside_an_open_application() -> None:
    app = submitted(only_administrator_change=True)
    decision = decide(app, assess(app), now=NOW, open_application_id="A-0")
    assert decision.status is Status.ACCEPTED


def test_decide_incomplete_carries_contact_and_defects() -> None:
    app = submitted(**{"signature.official_seal": False})
    decision = decide(app, assess(app), now=NOW, open_application_id=None)
    assert decision.status is Status.INCOMPLETE
    event = decision.event
    assert event.contact.town == "Göttingen"  # type: ignore[union-attr]
    assert [d.code for d in event.defects] == ["OFFICIAL_SEAL_MISSING"]  # type: ignore[union-attr]


def test_the_readme_example_is_a_complete_application() -> None:
    from tests.helpers import ROOT

    body = (ROOT / "docs/examples/application.json").read_text("utf-8")
    assert isinstance(assess(ApplicationSubmitted.model_validate_json(body)), CompleteApplication)
