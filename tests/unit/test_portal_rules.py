"""The portal's rules without I/O: § 49 Abs. 4 BMG identification, the declaration and purpose of
§ 44, registrations, the § 44 answer, fees and statements."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.portal import domain
from services.portal.domain import Anfragender, Buchung, Tarif
from services.register_mirror import domain as register
from services.register_mirror.domain import Fund
from shared.contract.events.abruf import (
    Anfragende,
    Auskunftsart,
    Ergebnisstatus,
    Identifizierung,
    RegisterRequest,
    Suchart,
)
from shared.contract.events.portal import (
    Abrechnungsart,
    PortalRequest,
    RegistrationSubmitted,
    Registrierungsstatus,
)
from shared.contract.events.register import Personendatensatz
from shared.law.melderegisterauskunft import NEUTRALE_AUSKUNFT, pruefe_identifizierung

AGS = "03241001"
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
NAME = {"familienname": "Weißmüller", "vornamen": "Johanna"}


# -- § 49 Abs. 4 BMG -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "refused"),
    [
        ({**NAME, "strasse": "Hauptstraße", "hausnummer": "5"}, None),
        ({**NAME, "geburtsdatum": "19800101", "geburtsort": "Hannover"}, None),
        ({**NAME, "geburtsdatum": "19800101", "geschlecht": "w"}, None),
        ({**NAME, "familienstand": "ledig", "einzugsdatum": "20150401"}, None),
        ({**NAME, "eheschliessung_datum": "20100505", "ehegatte": "Karl Weißmüller"}, None),
        ({**NAME, "ordensname": "Schwester Maria", "kuenstlername": "Jo W."}, None),
        (
            {"frueherer_name": "Schmidt", "vornamen": "Johanna", "geburtsdatum": "19800101",
             "sterbeort": "Hannover"},
            None,
        ),
        ({"familienname": "Weißmüller", "strasse": "Hauptstraße", "hausnummer": "5"}, "NAME_FEHLT"),
        ({"vornamen": "Johanna", "geburtsdatum": "19800101", "geburtsort": "X"}, "NAME_FEHLT"),
        ({**NAME}, "IDENTIFIZIERUNG_UNZUREICHEND"),
        ({**NAME, "geburtsdatum": "19800101"}, "IDENTIFIZIERUNG_UNZUREICHEND"),
        ({**NAME, "strasse": "Hauptstraße"}, "IDENTIFIZIERUNG_UNZUREICHEND"),
        # date and place of the marriage are one item (Abs. 5 Nr. 10)
        (
            {**NAME, "eheschliessung_datum": "20100505", "eheschliessung_ort": "Celle"},
            "IDENTIFIZIERUNG_UNZUREICHEND",
        ),
        ({**NAME, "geschlecht": "w", "familienstand": "ledig"}, "GESCHLECHT_MIT_FAMILIENSTAND"),
        # never together, however many other items there are
        (
            {**NAME, "strasse": "Hauptstraße", "hausnummer": "5", "geschlecht": "w",
             "familienstand": "ledig", "geburtsdatum": "19800101"},
            "GESCHLECHT_MIT_FAMILIENSTAND",
        ),
        ({**NAME, "geburtsdatum": "1980-01-01", "geburtsort": "X"}, "FORMAT"),
        ({**NAME, "familienname": "Weiß*", "geburtsdatum": "19800101", "geburtsort": "X"},
         "PLATZHALTER_UNZULAESSIG"),
    ],
)  # fmt: skip
def test_identification_per_section_49_4(given: dict[str, str], refused: str | None) -> None:
    result = pruefe_identifizierung(AGS, Identifizierung(**given))
    assert (result.grund if result else None) == refused
    if refused in {"NAME_FEHLT", "IDENTIFIZIERUNG_UNZUREICHEND", "GESCHLECHT_MIT_FAMILIENSTAND"}:
        assert "§ 49 Abs. 4" in result.text  # type: ignore[union-attr]


def test_the_office_is_named_by_its_eight_digit_ags() -> None:
    ident = Identifizierung(**NAME, strasse="Hauptstraße", hausnummer="5")
    assert pruefe_identifizierung("03241", ident).grund == "AGS_UNGUELTIG"  # type: ignore[union-attr]
    assert pruefe_identifizierung("99241001", ident).grund == "AGS_UNGUELTIG"  # type: ignore[union-attr]


# -- the request: declaration and purpose (§ 44 BMG) ------------------------------------------

REQUESTER = Anfragender("anf-x", "R-1", Registrierungsstatus.ZUGELASSEN, False)


def request(**changes: Any) -> PortalRequest:
    body: dict[str, Any] = {
        "request_id": "PR-1",
        "kennung": "anf-x",
        "gemeindeschluessel": AGS,
        "identifizierung": {**NAME, "strasse": "Hauptstraße", "hausnummer": "5"},
        "gewerblich": True,
        "gewerblicher_zweck": "forderungsmanagement",
        "erklaerung_keine_werbung_kein_adresshandel": True,
        "requested_at": NOW.isoformat(),
    }
    return PortalRequest.model_validate({**body, **changes})


@pytest.mark.parametrize(
    ("changes", "requester", "refused"),
    [
        ({}, REQUESTER, None),
        ({"gewerblich": False, "gewerblicher_zweck": None}, REQUESTER, None),
        ({"erklaerung_keine_werbung_kein_adresshandel": False}, REQUESTER, "ERKLAERUNG_FEHLT"),
        ({"gewerblicher_zweck": "werbung"}, REQUESTER, "ZWECK_UNZULAESSIG"),
        ({"gewerblicher_zweck": "adresshandel"}, REQUESTER, "ZWECK_UNZULAESSIG"),
        ({"gewerblicher_zweck": None}, REQUESTER, "GEWERBLICHER_ZWECK_FEHLT"),
        ({"gewerblicher_zweck": "sonstiger"}, REQUESTER, "GEWERBLICHER_ZWECK_FEHLT"),
        ({"gewerblicher_zweck": "sonstiger", "zweck_beschreibung": "Mieterwechsel"}, REQUESTER,
         None),
        ({}, None, "ANFRAGENDER_UNBEKANNT"),
        ({}, Anfragender("anf-x", "R-1", Registrierungsstatus.GESPERRT, False),
         "ANFRAGENDER_GESPERRT"),
        ({}, Anfragender("anf-x", "R-1", Registrierungsstatus.ZUGELASSEN, True),
         "ERSTANMELDUNG_OFFEN"),
        ({"identifizierung": {**NAME}}, REQUESTER, "IDENTIFIZIERUNG_UNZUREICHEND"),
    ],
)  # fmt: skip
def test_request_needs_declaration_purpose_and_a_usable_requester(
    changes: dict[str, Any], requester: Anfragender | None, refused: str | None
) -> None:
    result = domain.pruefe_anfrage(request(**changes), requester)
    assert (result.grund if result else None) == refused


# -- registration (PortalV § 2 Nr. 1) ---------------------------------------------------------

KEY = "0f" * 32
ADDRESS = {"strasse_hausnummer": "Lange Laube 2", "postleitzahl": "30159", "ort": "Hannover"}


def registration(**fields: Any) -> RegistrationSubmitted:
    return RegistrationSubmitted.model_validate(
        {"registration_id": "R-1", "submitted_at": NOW.isoformat(), **fields}
    )


PERSON = {
    "art": "natuerliche_person",
    "vorname": "Johanna",
    "familienname": "Weißmüller",
    "geburtsdatum": "1980-01-01",
    "identitaetsnachweis": {"art": "eid", "referenz": "eID-2026-4711"},
    "anschrift": ADDRESS,
    "email": "j.weissmueller@example.org",
    "antwortschluessel": KEY,
}
COMPANY = {
    "art": "unternehmen",
    "firma": "Inkasso Nord GmbH",
    "handelsregister": {"registergericht": "Amtsgericht Hannover", "registernummer": "HRB 12345"},
    "verantwortliche_person": {"vorname": "Karl", "familienname": "Berger"},
    "anschrift": ADDRESS,
    "email": "auskunft@inkasso-nord.example",
    "antwortschluessel": KEY,
}


@pytest.mark.parametrize("complete", [PERSON, COMPANY])
def test_a_complete_registration_has_no_defects(complete: dict[str, Any]) -> None:
    assert domain.maengel(registration(**complete), NOW.date()) == []


@pytest.mark.parametrize(
    ("base", "changes", "fields"),
    [
        (PERSON, {"geburtsdatum": None}, {"geburtsdatum"}),
        (PERSON, {"geburtsdatum": "2027-01-01"}, {"geburtsdatum"}),
        (PERSON, {"identitaetsnachweis": {"art": "eid"}}, {"identitaetsnachweis"}),
        (PERSON, {"identitaetsnachweis": {"art": "bibliotheksausweis", "referenz": "1"}},
         {"identitaetsnachweis.art"}),
        (PERSON, {"vorname": None, "email": "kaputt"}, {"vorname", "email"}),
        (PERSON, {"antwortschluessel": "abc"}, {"antwortschluessel"}),
        (PERSON, {"anschrift": {**ADDRESS, "postleitzahl": "3015"}}, {"anschrift.postleitzahl"}),
        (COMPANY, {"handelsregister": {"registergericht": "AG Hannover",
                                       "registernummer": "12345"}},
         {"handelsregister.registernummer"}),
        (COMPANY, {"handelsregister": None, "verantwortliche_person": None},
         {"handelsregister.registergericht", "handelsregister.registernummer",
          "verantwortliche_person"}),
        (COMPANY, {"firma": None, "anschrift": None},
         {"firma", "anschrift.strasse_hausnummer", "anschrift.ort", "anschrift.postleitzahl"}),
    ],
)  # fmt: skip
def test_every_defect_of_a_registration_is_listed(
    base: dict[str, Any], changes: dict[str, Any], fields: set[str]
) -> None:
    found = domain.maengel(registration(**{**base, **changes}), NOW.date())
    assert {m.feld for m in found} == fields
    assert all(m.text for m in found)


def test_decisions_only_by_known_operators_on_open_registrations() -> None:
    ops = frozenset({"ops-a"})
    assert domain.pruefe_entscheidung(Registrierungsstatus.IN_PRUEFUNG, "ops-a", ops) is None
    assert domain.pruefe_entscheidung(Registrierungsstatus.IN_PRUEFUNG, "x", ops).grund == (  # type: ignore[union-attr]
        "OPERATOR_UNBEKANNT"
    )
    assert domain.pruefe_entscheidung(None, "ops-a", ops).grund == "UNBEKANNT"  # type: ignore[union-attr]
    for status in (Registrierungsstatus.ZUGELASSEN, Registrierungsstatus.UNVOLLSTAENDIG):
        assert domain.pruefe_entscheidung(status, "ops-a", ops).grund == "NICHT_IN_PRUEFUNG"  # type: ignore[union-attr]


# -- the answer: § 44 data only, or the one neutral answer -------------------------------------


def record(om: str = "OM-1", **extra: Any) -> Personendatensatz:
    anschrift = {
        "strasse": "Hauptstraße",
        "hausnummer": "5",
        "postleitzahl": "30159",
        "wohnort": "Hannover",
        "gemeindeschluessel": AGS,
        "einzugsdatum": "2015-04-01",
        "bedingter_sperrvermerk": extra.pop("bedingter_sperrvermerk", False),
    }
    return Personendatensatz.model_validate(
        {
            "ordnungsmerkmal": om,
            "familienname": "Weißmüller",
            "vornamen": ["Johanna", "Maria"],
            "doktorgrad": "Dr.",
            "geburtsdatum": "19800101",
            "geburtsort": "Hannover",
            "geschlecht": "w",
            "familienstand": "verheiratet",
            "staatsangehoerigkeiten": ["deutsch"],
            "anschriften": [anschrift],
            "ausweise": [],
            **extra,
        }
    )


def portal_request(**ident: str) -> tuple[RegisterRequest, Identifizierung]:
    i = Identifizierung(**{**NAME, "strasse": "Hauptstraße", "hausnummer": "5", **ident})
    r = RegisterRequest(
        vorgangsnummer="03-P20261121-X",
        query_id="PR-1",
        tenant_id="portal",
        auskunftsart=Auskunftsart.EINFACHE_MELDEREGISTERAUSKUNFT,
        anfragende=Anfragende(
            behoerde="Portal", anschrift="a", erreichbarkeit="e", aktenzeichen="x", anlass="y"
        ),
        suchart=Suchart.PERSONENSUCHE,
        gemeindeschluessel=[AGS],
        identifizierung=i,
        antwortschluessel=KEY,
        requested_at=NOW,
    )
    return r, i


def test_a_unique_hit_gives_the_section_44_data_and_nothing_else() -> None:
    r, i = portal_request()
    answer = register.einfache_auskunft(r, i, [Fund(AGS, record())])
    assert answer.ergebnisstatus is Ergebnisstatus.EINDEUTIG
    assert answer.inhalt == {
        "ergebnisstatus": "01",
        "person": {
            "familienname": "Weißmüller",
            "vornamen": ["Johanna", "Maria"],
            "doktorgrad": "Dr.",
            "derzeitige_anschriften": [
                {
                    "strasse": "Hauptstraße",
                    "hausnummer": "5",
                    "postleitzahl": "30159",
                    "wohnort": "Hannover",
                }
            ],
            "verstorben": False,
        },
    }


def test_a_dead_person_is_answered_with_the_fact_of_death_not_its_data() -> None:
    r, i = portal_request()
    dead = record(sterbedatum="20250101", sterbeort="Celle")
    person = register.einfache_auskunft(r, i, [Fund(AGS, dead)]).inhalt["person"]  # type: ignore[index]
    assert person["verstorben"] is True
    assert "sterbedatum" not in person
    assert "sterbeort" not in person


@pytest.mark.parametrize(
    ("kandidaten", "ident", "handover", "notice"),
    [
        ([], {}, False, False),
        ([record("OM-1"), record("OM-2")], {}, False, False),  # ambiguous
        ([record()], {"familienstand": "ledig"}, False, False),  # an item does not match
        ([record()], {"einzugsdatum": "20200101"}, False, False),
        ([record(auskunftssperre={"bis": "2027-06-30"})], {}, True, True),
        ([record(bedingter_sperrvermerk=True)], {}, True, False),
        # § 51 Abs. 2, 3: a blocked person among several is told of the request, too
        ([record("OM-1"), record("OM-2", auskunftssperre={"bis": "2027-06-30"})], {}, False, True),
    ],
)
def test_everything_but_a_unique_unblocked_hit_gives_the_same_neutral_answer(
    kandidaten: list[Personendatensatz], ident: dict[str, str], handover: bool, notice: bool
) -> None:
    r, i = portal_request(**ident)
    answer = register.einfache_auskunft(r, i, [Fund(AGS, d) for d in kandidaten])
    assert answer.ergebnisstatus is Ergebnisstatus.NEUTRAL
    assert answer.inhalt == {"ergebnisstatus": "03", "hinweis": NEUTRALE_AUSKUNFT}
    assert answer.treffer == []  # § 40 Abs. 1 Nr. 7 with § 49 Abs. 6: nothing retrievable
    assert bool(answer.uebergaben) is handover
    assert bool(answer.benachrichtigungen) is notice


def test_the_further_items_must_all_match() -> None:
    r, i = portal_request(familienstand="verheiratet", einzugsdatum="20150401")
    answer = register.einfache_auskunft(r, i, [Fund(AGS, record())])
    assert answer.ergebnisstatus is Ergebnisstatus.EINDEUTIG


# -- fees and statements (§ 49 Abs. 3 Nr. 4 BMG) ----------------------------------------------

SCHEDULE = domain.gebuehrenordnung(
    {
        "03": {"eindeutig": 700, "neutral": 500},
        "03241": {"eindeutig": 800, "neutral": 600},
        "03241001": {"eindeutig": 1000, "neutral": 1000},
        "*": {"eindeutig": 1200, "neutral": 0},
    }
)


@pytest.mark.parametrize(
    ("ags", "status", "expected"),
    [
        ("03241001", Ergebnisstatus.EINDEUTIG, ("03241001", 1000)),
        ("03241002", Ergebnisstatus.EINDEUTIG, ("03241", 800)),
        ("03241002", Ergebnisstatus.NEUTRAL, ("03241", 600)),
        ("03101000", Ergebnisstatus.NEUTRAL, ("03", 500)),
        ("09162000", Ergebnisstatus.EINDEUTIG, ("*", 1200)),
    ],
)
def test_the_longest_configured_prefix_sets_the_fee(
    ags: str, status: Ergebnisstatus, expected: tuple[str, int]
) -> None:
    assert domain.gebuehr(SCHEDULE, ags, status) == expected


def test_without_a_schedule_nothing_is_charged_and_bad_schedules_are_refused() -> None:
    assert domain.gebuehr({"03": Tarif(1, 1)}, "09162000", Ergebnisstatus.EINDEUTIG) == (None, 0)
    with pytest.raises(ValueError, match="prefix"):
        domain.gebuehrenordnung({"0324": {"eindeutig": 1, "neutral": 1}})
    with pytest.raises(ValueError, match="negative"):
        domain.gebuehrenordnung({"03": {"eindeutig": -1, "neutral": 1}})


def test_statements_per_requester_and_per_office_sum_the_same_bookings() -> None:
    E, N = Ergebnisstatus.EINDEUTIG, Ergebnisstatus.NEUTRAL
    bookings = [
        Buchung("v1", "anf-a", "03241001", E, 1000),
        Buchung("v2", "anf-a", "03241001", N, 1000),
        Buchung("v3", "anf-a", "03101000", N, 500),
        Buchung("v4", "anf-b", "03241001", E, 1000),
    ]
    statements = domain.abrechnungen(bookings, "2026-11", False, NOW)
    by = {(s.art, s.empfaenger): s for s in statements}
    a = by[(Abrechnungsart.ANFRAGENDER, "anf-a")]
    assert (a.anzahl, a.summe_cent) == (3, 2500)
    assert [(p.gegenueber, p.eindeutig, p.neutral, p.betrag_cent) for p in a.posten] == [
        ("03101000", 0, 1, 500),
        ("03241001", 1, 1, 2000),
    ]
    office = by[(Abrechnungsart.MELDEBEHOERDE, "03241001")]
    assert (office.anzahl, office.summe_cent) == (3, 3000)
    requesters = [s for s in statements if s.art is Abrechnungsart.ANFRAGENDER]
    offices = [s for s in statements if s.art is Abrechnungsart.MELDEBEHOERDE]
    assert sum(s.summe_cent for s in requesters) == sum(s.summe_cent for s in offices) == 3500


def test_months_are_berlin_months() -> None:
    assert domain.monat_von(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == "2026-12"
    start, end = domain.monatsgrenzen("2026-12")
    assert (start.year, start.month, end.year, end.month) == (2026, 12, 2027, 1)
    assert domain.vorheriger_monat("2027-01") == "2026-12"
    assert domain.vorheriger_monat("2026-11") == "2026-10"
    assert date(2026, 12, 1) == start.date()
