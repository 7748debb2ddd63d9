"""The legal rules of access, as pure functions."""

from __future__ import annotations

import pytest

from services.intake.domain import assess
from services.legal_review.domain import (
    SICHERHEITSBEHOERDEN,
    Ergebnis,
    decide_manually,
    manual_decision_refusal,
    missing_measures,
    review,
    statement,
)
from shared.contract.events.application import (
    ApplicationSubmitted,
    Behoerdenart,
    CompleteApplication,
)
from shared.contract.events.review import Datenumfang, Entscheidung
from tests.helpers import application

SECURITY = {
    "access_type": "sicherheitsbehoerde",
    "authority.kind": "polizei",
    "logging_arrangement": "eigenprotokollierung",
}


def complete(**changes: object) -> CompleteApplication:
    result = assess(ApplicationSubmitted.model_validate(application("R-1", **changes)))
    assert isinstance(result, CompleteApplication), result
    return result


def decide(commission: str | None = None, **changes: object):
    return review(complete(**changes), operator_state="03", commission_reference=commission)


def codes(outcome) -> list[str]:
    return [r.code for r in outcome.reasons]


def test_public_body_gets_simple_authority_information() -> None:
    outcome = decide()
    assert outcome.result is Ergebnis.APPROVED
    assert outcome.data_scope is Datenumfang.SATZ_1
    assert "§ 34 Abs. 1 Satz 1 BMG" in outcome.reasons[0].provisions


@pytest.mark.parametrize("kind", list(SICHERHEITSBEHOERDEN))
def test_every_authority_of_34_4_may_have_security_access(kind: Behoerdenart) -> None:
    outcome = decide(**{**SECURITY, "authority.kind": kind.value})
    assert outcome.result is Ergebnis.APPROVED
    assert outcome.data_scope is Datenumfang.SATZ_1_UND_2
    assert [c.code for c in outcome.conditions] == ["SELF_LOGGING"]
    assert f"§ 34 Abs. 4 Satz 1 {SICHERHEITSBEHOERDEN[kind]} BMG" in outcome.reasons[0].provisions


def test_thirteen_security_authorities_as_the_law_lists_them() -> None:
    assert len(SICHERHEITSBEHOERDEN) == 13


def test_commissioned_logging_waits_for_the_commission_then_is_a_condition() -> None:
    changes = {**SECURITY, "logging_arrangement": "auftragsverarbeitung"}
    waiting = decide(**changes)
    assert waiting.result is Ergebnis.WAITING_COMMISSION
    assert "§ 40 Abs. 3 BMG" in waiting.reasons[0].provisions
    approved = decide(commission="AV-2026-17", **changes)
    assert approved.result is Ergebnis.APPROVED
    [condition] = approved.conditions
    assert condition.code == "COMMISSIONED_LOGGING"
    assert "AV-2026-17" in condition.text


def test_municipality_asking_for_security_access_is_refused() -> None:
    outcome = decide(**{**SECURITY, "authority.kind": "kommunalverwaltung"})
    assert outcome.result is Ergebnis.REJECTED
    assert codes(outcome) == ["NOT_A_SECURITY_AUTHORITY"]
    assert "§ 34 Abs. 4 Satz 1 BMG" in outcome.reasons[0].provisions


def test_health_insurer_asking_for_security_access_is_refused_with_its_own_reason() -> None:
    outcome = decide(**{**SECURITY, "authority.kind": "gesetzliche_krankenkasse"})
    assert outcome.result is Ergebnis.REJECTED
    assert codes(outcome) == ["HEALTH_INSURER_NOT_SECURITY_AUTHORITY"]
    assert "§ 34 Abs. 6 BMG" in outcome.reasons[0].provisions


def test_health_insurer_gets_simple_access_for_statutory_tasks_only() -> None:
    outcome = decide(**{"authority.kind": "gesetzliche_krankenkasse"})
    assert outcome.result is Ergebnis.APPROVED
    [condition] = outcome.conditions
    assert condition.code == "STATUTORY_TASKS_ONLY"
    assert "§§ 44, 49 BMG" in condition.text


def test_private_company_is_refused() -> None:
    outcome = decide(**{"authority.kind": "private_stelle"})
    assert outcome.result is Ergebnis.REJECTED
    assert codes(outcome) == ["NOT_A_PUBLIC_BODY"]
    assert "§ 2 BDSG" in outcome.reasons[0].provisions


def test_authority_of_another_state_registers_with_its_own_central_office() -> None:
    outcome = decide(**{"authority.state": "09"})
    assert outcome.result is Ergebnis.REJECTED
    assert codes(outcome) == ["OTHER_STATE"]
    # the route through the own state's central body is the states' arrangement; § 26 Abs. 1
    # NMeldVO only has that central body register at the Landesbetrieb
    assert outcome.reasons[0].provisions == [
        "Verfahrensbeschreibung des Betreibers (Vereinbarung der Länder)",
        "§ 26 Abs. 1 NMeldVO",
    ]


CENTRAL_BODY = {"authority.kind": "zentrale_stelle_land", "authority.state": "09"}


def test_another_states_central_body_registers_and_retrieves_for_its_bodies_nmeldvo_26_abs_1() -> (
    None
):
    """§ 39 Abs. 3 BMG, NMeldVO 2022 § 26 Abs. 1: the tenant "Land 09"; the data each query gets
    follows the body it names, so the registration covers Satz 2 (§ 34a Abs. 2 BMG)."""
    outcome = decide(**CENTRAL_BODY)
    assert outcome.result is Ergebnis.APPROVED
    assert codes(outcome) == ["CENTRAL_BODY_OF_ANOTHER_STATE"]
    assert "Bayern" in outcome.reasons[0].text
    assert "§ 26 Abs. 1 NMeldVO" in outcome.reasons[0].provisions
    assert outcome.data_scope is Datenumfang.SATZ_1_UND_2
    assert [c.code for c in outcome.conditions] == ["NAMES_THE_REQUESTING_BODY"]
    assert "§ 39 Abs. 4 BMG" in outcome.conditions[0].text


@pytest.mark.parametrize("state", ["03", None])
def test_a_central_body_is_another_states_nmeldvo_26_abs_1(state: str | None) -> None:
    outcome = decide(**{**CENTRAL_BODY, "authority.state": state})
    assert outcome.result is Ergebnis.REJECTED
    assert codes(outcome) == ["CENTRAL_BODY_OF_OWN_STATE"]


def test_a_central_body_registers_for_the_simple_access_34a_abs_2() -> None:
    outcome = decide(**CENTRAL_BODY, access_type="sicherheitsbehoerde",
                     logging_arrangement="eigenprotokollierung")  # fmt: skip
    assert codes(outcome) == ["CENTRAL_BODY_ACCESS"]


def test_all_grounds_for_refusal_are_given_together() -> None:
    outcome = decide(
        **{
            "authority.kind": "private_stelle",
            "authority.state": "05",
            "compliance.measures": "Wir passen gut auf.",
        }
    )
    assert codes(outcome) == ["NOT_A_PUBLIC_BODY", "OTHER_STATE", "MEASURES_INCOMPLETE"]


def test_incomplete_measures_are_refused_naming_what_is_missing() -> None:
    outcome = decide(**{"compliance.measures": "Zugriff nur über das Landesnetz."})
    assert outcome.result is Ergebnis.REJECTED
    assert codes(outcome) == ["MEASURES_INCOMPLETE"]
    assert "authentisieren" in outcome.reasons[0].text
    assert "§ 39 Abs. 1 BMG" in outcome.reasons[0].provisions


def test_measures_check_recognises_each_requirement() -> None:
    full = "Rollenkonzept, persönliche Kennung mit Passwort, Übertragung nur im Landesnetz"
    assert missing_measures(full) == []
    assert len(missing_measures("nichts")) == 3


def test_access_outside_landesnetz_and_doi_needs_an_individual_decision() -> None:
    outcome = decide(
        **{
            "network.channel": "sonstiger",
            "network.reason_if_other": "Außenstelle ohne Landesnetzanschluss",
        }
    )
    assert outcome.result is Ergebnis.PENDING_MANUAL
    assert codes(outcome) == ["NETWORK_INDIVIDUAL_DECISION"]
    assert "Außenstelle" in outcome.reasons[0].text


def test_other_public_body_needs_its_status_verified() -> None:
    outcome = decide(**{"authority.kind": "sonstige_oeffentliche_stelle"})
    assert outcome.result is Ergebnis.PENDING_MANUAL
    assert codes(outcome) == ["PUBLIC_BODY_TO_VERIFY"]


def test_client_certificate_restriction_becomes_a_condition() -> None:
    outcome = decide(client_certificate_fingerprint="ab" * 32)
    assert [c.code for c in outcome.conditions] == ["CLIENT_CERTIFICATE"]


def test_written_statement_cites_the_provisions() -> None:
    refused = decide(**{"authority.kind": "private_stelle"})
    text = statement(Entscheidung.REJECTED, refused.reasons)
    assert text.startswith("Zugang ist rechtlich zulässig: Nein, weil:")
    assert "§ 34a Abs. 1 BMG" in text
    approved = decide()
    assert statement(Entscheidung.APPROVED, approved.reasons).startswith(
        "Zugang ist rechtlich zulässig: Ja."
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (None, "UNKNOWN_CASE"),
        (Ergebnis.APPROVED, "ALREADY_DECIDED"),
        (Ergebnis.REJECTED, "ALREADY_DECIDED"),
        (Ergebnis.WAITING_COMMISSION, "WAITING_FOR_LOGGING_COMMISSION"),
    ],
)
def test_operators_decide_only_pending_manual_cases(status, code: str) -> None:
    assert manual_decision_refusal("A-1", status)[0] == code
    assert manual_decision_refusal("A-1", Ergebnis.PENDING_MANUAL) is None


def test_operator_decision_cites_what_the_case_turned_on() -> None:
    manual = decide(**{"network.channel": "sonstiger", "network.reason_if_other": "Außenstelle"})
    app = complete(**{"network.channel": "sonstiger", "network.reason_if_other": "Außenstelle"})
    rejected = decide_manually(app, manual.reasons, Entscheidung.REJECTED, "Kein Netz.", None)
    assert rejected.result is Ergebnis.REJECTED
    assert rejected.reasons[0].text == "Kein Netz."
    assert rejected.reasons[0].provisions == manual.reasons[0].provisions
    approved = decide_manually(app, manual.reasons, Entscheidung.APPROVED, "MI stimmt zu.", None)
    assert approved.result is Ergebnis.APPROVED
    assert [r.code for r in approved.reasons] == ["MANUAL_DECISION", "PUBLIC_BODY"]
    assert approved.data_scope is Datenumfang.SATZ_1


def test_operator_approval_still_waits_for_commissioned_logging() -> None:
    app = complete(
        **{
            "access_type": "sicherheitsbehoerde",
            "authority.kind": "polizei",
            "logging_arrangement": "auftragsverarbeitung",
        }
    )
    outcome = decide_manually(app, [], Entscheidung.APPROVED, "ok", None)
    assert outcome.result is Ergebnis.WAITING_COMMISSION
