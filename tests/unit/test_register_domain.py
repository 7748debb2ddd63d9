"""The register's answers from candidate records, without a database."""

from __future__ import annotations

import itertools
import json
from datetime import date
from typing import Any

import pytest

from services.register_mirror import domain
from services.register_mirror.domain import Fund
from services.register_mirror.generator import Generator
from shared.contract.events.abruf import Auskunftsart, RegisterRequest
from shared.contract.events.application import Behoerdenart
from shared.contract.events.register import Auskunftssperre, Personendatensatz
from tests.retrieval import HANNOVER, person, query

counter = itertools.count()


def fund(**kw: Any) -> Fund:
    record = person(f"P{next(counter)}", kw.pop("name", "Schäfer"), ["Anna"], "19900505", **kw)
    return Fund(HANNOVER[0], Personendatensatz.model_validate(record))


def request(zugangsart: str = "einfache_behoerdenauskunft", **kw: Any) -> RegisterRequest:
    kw.setdefault("ags", [HANNOVER[0]])
    body = query("T1", **kw)
    return RegisterRequest.model_validate(
        body
        | {
            "vorgangsnummer": "03-X",
            "zugangsart": zugangsart,
            "datenumfang": "bmg_34_1_satz_1",
        }
    )


def merkmal() -> str:
    return f"M{next(counter)}"


def test_address_criteria_are_matched_against_current_addresses_here() -> None:
    at_main = fund(strasse="Hauptstraße", hausnummer="5")
    elsewhere = fund(strasse="Lindenallee", hausnummer="1")
    r = request(kriterien={"familienname": "Schäfer", "vornamen": "Anna", "strasse": "Hauptstr."})
    answer = domain.personensuche(r, [at_main, elsewhere], merkmal)
    assert answer.ergebnisstatus == "01"
    assert answer.treffer == [at_main.treffer]


BY_PERSON = {"auskunftssperre": {"bis": "2030-01-01"}}
BY_LKA = {
    "auskunftssperre": {
        "bis": "2030-01-01",
        "veranlassende_behoerde": "LKA Niedersachsen",
        "veranlasst_von_sicherheitsbehoerde": True,
    }
}


def observable(answer: domain.Antwort) -> tuple[Any, ...]:
    """What leaves the register towards the requester and the requester's log view."""
    return (
        answer.ergebnisstatus,
        json.dumps(answer.inhalt, sort_keys=True, default=str),
        answer.treffer,
        answer.anzahl,
        answer.datenelemente,
    )


@pytest.mark.parametrize(
    ("case", "found"),
    [
        ("§ 34a Abs. 5 Satz 1 BMG: one blocked person", [BY_PERSON]),
        ("§ 34a Abs. 5 Satz 1 BMG: two blocked persons", [BY_PERSON, BY_LKA]),
        ("§ 34a Abs. 5 Satz 1 BMG, BMeldDAV § 5 Abs. 1: one open, one blocked", [{}, BY_PERSON]),
        (
            "§ 34a Abs. 5 Satz 1 BMG, BMeldDAV § 5 Abs. 1: one open, two blocked",
            [BY_LKA, {}, BY_PERSON],
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_blocked_and_mixed_results_look_exactly_like_nobody_found(
    case: str, found: list[dict[str, Any]]
) -> None:
    funde = [fund(**kw) for kw in found]
    answer = domain.personensuche(request(), funde, merkmal)
    nobody = domain.personensuche(request(), [], merkmal)
    assert observable(answer) == observable(nobody), case
    assert answer.inhalt == domain.NEUTRAL_INHALT
    assert answer.treffer == []
    assert answer.anzahl == 0
    assert answer.merkmale == []
    blocked = [f for f in funde if f.datensatz.auskunftssperre]
    assert answer.uebergaben == blocked  # § 34a Abs. 5 Satz 2: manual processing
    assert nobody.uebergaben == nobody.benachrichtigungen == []


def test_hit_list_leaves_out_blocked_persons_bmelddav_6_abs_2() -> None:
    a, b, blocked = fund(), fund(), fund(**BY_PERSON)
    answer = domain.personensuche(request(), [a, blocked, b], merkmal)
    without = domain.personensuche(request(), [a, b], merkmal)
    assert answer.ergebnisstatus == "02"
    assert len(answer.inhalt["trefferliste"]) == 2
    assert answer.treffer == without.treffer == [a.treffer, b.treffer]
    assert answer.uebergaben == [blocked]
    hauptwohnung = answer.inhalt["trefferliste"][0]["hauptwohnung"]
    assert "einzugsdatum" not in hauptwohnung
    assert "auszugsdatum" not in hauptwohnung


def test_waiver_drops_the_hand_over_but_not_the_notices_bmg_38_abs_5() -> None:
    r = request(verzicht_auf_weitere_bearbeitung=True)
    answer = domain.personensuche(r, [fund(**BY_LKA)], merkmal)
    assert answer.uebergaben == []
    assert [n.empfaenger for n in answer.benachrichtigungen] == [
        "betroffene_person",
        "veranlassende_behoerde",
    ]


def test_a_block_lasts_until_the_office_lifts_it_bmg_51_abs_4() -> None:
    past_its_date = fund(auskunftssperre={"bis": "2020-01-01"})
    assert domain.personensuche(request(), [past_its_date], merkmal).ergebnisstatus == "03"
    assert domain.suchspalten(HANNOVER[0], past_its_date.datensatz)["gesperrt"] is True


def test_follow_up_by_merkmal_on_a_person_blocked_since_is_neutral() -> None:
    f = fund(**BY_PERSON)
    answer = domain.nach_merkmal(request(identifikationsmerkmal="M1", kriterien={}), f)
    assert observable(answer) == observable(domain.personensuche(request(), [], merkmal))
    assert answer.uebergaben == [f]


# -- who is told (§ 34 Abs. 5, § 51 Abs. 3, § 11 Abs. 1 BMG), keyed on the requesting body --------

PERSON, AUTHORITY = "betroffene_person", "veranlassende_behoerde"
NOTICES = [
    # (provision, block set at a security authority's initiative, requesting body, path, told)
    ("§ 34 Abs. 5 Satz 1: by person, ordinary body", False, "kommunalverwaltung", "behoerde", []),
    ("§ 34 Abs. 5 Satz 1: by person, police", False, "polizei", "behoerde", []),
    (
        "§ 34 Abs. 5 Satz 1: by LKA, ordinary body",
        True,
        "kommunalverwaltung",
        "behoerde",
        [PERSON, AUTHORITY],
    ),
    (
        "§ 34 Abs. 5 Satz 1: by LKA, health insurer",
        True,
        "gesetzliche_krankenkasse",
        "behoerde",
        [PERSON, AUTHORITY],
    ),
    ("§ 34 Abs. 5 Satz 3: by LKA, police", True, "polizei", "behoerde", [AUTHORITY]),
    (
        "§ 34 Abs. 5 Satz 3: by LKA, Hauptzollamt (Nr. 10)",
        True,
        "hauptzollamt",
        "behoerde",
        [AUTHORITY],
    ),
    (
        "§ 34 Abs. 5 Satz 3: by LKA, BfJ (Nr. 13)",
        True,
        "bundesamt_fuer_justiz",
        "behoerde",
        [AUTHORITY],
    ),
    ("§ 51 Abs. 3: by person, portal", False, None, "portal", [PERSON]),
    ("§ 51 Abs. 3: by LKA, portal", True, None, "portal", [PERSON, AUTHORITY]),
]


@pytest.mark.parametrize(
    ("case", "by_security", "stelle", "path", "told"), NOTICES, ids=[n[0] for n in NOTICES]
)
def test_who_is_told(
    case: str, by_security: bool, stelle: str | None, path: str, told: list[str]
) -> None:
    sperre = Auskunftssperre(
        bis=date(2030, 1, 1),
        veranlassende_behoerde="LKA",
        veranlasst_von_sicherheitsbehoerde=by_security,
    )
    art = (
        Auskunftsart.BEHOERDENAUSKUNFT
        if path == "behoerde"
        else Auskunftsart.EINFACHE_MELDEREGISTERAUSKUNFT
    )
    got = domain.benachrichtigte(sperre, art, Behoerdenart(stelle) if stelle else None)
    assert got == told, case


def test_notices_follow_the_body_not_the_access_role() -> None:
    """A police tenant with the simple access is still a § 34 Abs. 4 authority."""
    r = request("einfache_behoerdenauskunft", abrufende_stelle="polizei")
    answer = domain.personensuche(r, [fund(**BY_LKA)], merkmal)
    assert [n.empfaenger for n in answer.benachrichtigungen] == [AUTHORITY]


# -- § 34a Abs. 6 BMG ----------------------------------------------------------------------------

ABS_6 = [
    ("§ 34a Abs. 6: police, authorised user, block by person", "polizei", True, BY_PERSON, "01"),
    ("§ 34a Abs. 6: Verfassungsschutz, authorised", "verfassungsschutz", True, BY_PERSON, "01"),
    ("§ 34a Abs. 6: Zollfahndung, authorised", "zollfahndung", True, BY_PERSON, "01"),
    ("§ 34a Abs. 6: police, user not authorised", "polizei", False, BY_PERSON, "03"),
    ("§ 34a Abs. 6: block caused by a § 34 Abs. 5 authority", "polizei", True, BY_LKA, "03"),
    (
        "§ 34a Abs. 6: Staatsanwaltschaft (Nr. 2) not listed",
        "staatsanwaltschaft",
        True,
        BY_PERSON,
        "03",
    ),
    ("§ 34a Abs. 6: Hauptzollamt (Nr. 10) not listed", "hauptzollamt", True, BY_PERSON, "03"),
    ("§ 34a Abs. 6: ordinary body", "kommunalverwaltung", True, BY_PERSON, "03"),
]


@pytest.mark.parametrize(
    ("case", "stelle", "berechtigt", "block", "status"), ABS_6, ids=[a[0] for a in ABS_6]
)
def test_34a_abs_6(
    case: str, stelle: str, berechtigt: bool, block: dict[str, Any], status: str
) -> None:
    r = request("sicherheitsbehoerde", abrufende_stelle=stelle, sperrdaten_berechtigt=berechtigt)
    answer = domain.personensuche(r, [fund(**block)], merkmal)
    assert answer.ergebnisstatus == status, case
    if status == "01":
        assert answer.uebergaben == answer.benachrichtigungen == []


def test_co_registered_persons_with_a_block_are_withheld() -> None:
    spouse = {"familienname": "Schäfer", "vornamen": ["Tom"], "gesperrt": True}
    child = {"familienname": "Schäfer", "vornamen": ["Lia"]}
    f = fund(familienstand="verheiratet", ehegatte=spouse, kinder=[child])
    answer = domain.personensuche(request(), [f], merkmal)
    assert answer.inhalt["person"]["ehegatte"] == []
    assert [k["vornamen"] for k in answer.inhalt["person"]["kinder"]] == [["Lia"]]


def test_more_than_1000_is_refused() -> None:
    many = [fund() for _ in range(1001)]
    r = request(suchart="freie_suche", ags=["03"], kriterien={"familienname": "Schäfer"})
    assert domain.freie_suche(r, many, merkmal).nichterstellung.code == "13"
    assert len(domain.freie_suche(r, many[:1000], merkmal).inhalt["ergebnisliste"]) == 1000


def test_generator_is_deterministic_and_varied() -> None:
    first = [p.model_dump_json() for _, p in Generator("03", seed=7).persons(3000)]
    again = [p.model_dump_json() for _, p in Generator("03", seed=7).persons(3000)]
    assert first == again
    people = [p for _, p in Generator("03", seed=7).persons(3000)]
    assert any(p.auskunftssperre for p in people)
    assert any(p.sterbedatum for p in people)
    assert any(len(p.anschriften) > 1 for p in people)
    assert any(set("äöüß") & set(p.familienname.lower()) for p in people)
    keys = [(p.familienname, tuple(p.vornamen), p.geburtsdatum) for p in people]
    assert len(keys) > len(set(keys))  # name twins


@pytest.mark.parametrize(
    ("art", "land", "auskunftsart", "grund"),
    [
        pytest.param("melderegisterdatenspiegel", "03", "behoerdenauskunft", None,
                     id="mirror-answers-bodies-nds-ag-bmg-2-abs-1-nr-1"),
        pytest.param("melderegisterdatenspiegel", "03", "einfache_melderegisterauskunft",
                     "MELDEBEHOERDE_ZUSTAENDIG",
                     id="mirror-refuses-private-nds-ag-bmg-5-abs-1-s-4"),
        pytest.param("melderegisterdatenspiegel", "09", "einfache_melderegisterauskunft", None,
                     id="other-states-register-by-its-own-law"),
        pytest.param("melderegister", "03", "einfache_melderegisterauskunft", None,
                     id="office-answers-the-portal-bmg-49-abs-3"),
        pytest.param("melderegister", "03", "behoerdenauskunft", "NUR_PORTALANFRAGEN",
                     id="bodies-retrieve-from-the-mirror-bmg-39-abs-3"),
    ],
)  # fmt: skip
def test_which_register_answers_whom(
    art: str, land: str, auskunftsart: str, grund: str | None
) -> None:
    register = domain.Register(land, "03", domain.Registerart(art))
    refusal = domain.zustaendigkeit(
        request().model_copy(update={"auskunftsart": Auskunftsart(auskunftsart)}), register
    )
    assert (refusal.grund if refusal else None) == grund
