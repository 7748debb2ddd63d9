"""The register's answers from candidate records, without a database."""

from __future__ import annotations

import itertools
import json
from datetime import date
from typing import Any

from services.register_mirror import domain
from services.register_mirror.domain import Fund
from services.register_mirror.generator import Generator
from shared.events.abruf import RegisterRequest
from shared.events.register import Personendatensatz
from tests.retrieval import HANNOVER, person, query

TODAY = date(2026, 11, 21)
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


BLOCK = {"auskunftssperre": {"bis": "2030-01-01"}}


def test_address_criteria_are_matched_against_current_addresses_here() -> None:
    at_main = fund(strasse="Hauptstraße", hausnummer="5")
    elsewhere = fund(strasse="Lindenallee", hausnummer="1")
    r = request(kriterien={"familienname": "Schäfer", "vornamen": "Anna", "strasse": "Hauptstr."})
    answer = domain.personensuche(r, [at_main, elsewhere], TODAY, merkmal)
    assert answer.ergebnisstatus == "01"
    assert answer.treffer == [at_main.treffer]


def test_blocked_unique_hit_is_the_neutral_answer_with_hand_over_and_notice() -> None:
    blocked = fund(**BLOCK)
    answer = domain.personensuche(request(), [blocked], TODAY, merkmal)
    nobody = domain.personensuche(request(), [], TODAY, merkmal)
    assert answer.inhalt == nobody.inhalt == domain.NEUTRAL_INHALT
    assert json.dumps(answer.inhalt) == json.dumps(nobody.inhalt)
    assert answer.uebergaben == [blocked]
    assert [n.empfaenger for n in answer.benachrichtigungen] == ["betroffene_person"]
    assert nobody.uebergaben == []
    assert nobody.benachrichtigungen == []


def test_expired_block_no_longer_blocks() -> None:
    old = fund(auskunftssperre={"bis": "2026-11-20"})
    assert domain.personensuche(request(), [old], TODAY, merkmal).ergebnisstatus == "01"


def test_security_requests_on_blocks_they_caused_inform_only_the_authority() -> None:
    blocked = fund(
        auskunftssperre={
            "bis": "2030-01-01",
            "veranlassende_behoerde": "LKA",
            "veranlasst_von_sicherheitsbehoerde": True,
        }
    )
    answer = domain.personensuche(request("sicherheitsbehoerde"), [blocked], TODAY, merkmal)
    assert [n.empfaenger for n in answer.benachrichtigungen] == ["veranlassende_behoerde"]


def test_hit_list_leaves_out_blocked_persons() -> None:
    a, b, blocked = fund(), fund(), fund(**BLOCK)
    answer = domain.personensuche(request(), [a, blocked, b], TODAY, merkmal)
    assert answer.ergebnisstatus == "02"
    assert len(answer.inhalt["trefferliste"]) == 2
    assert blocked.treffer not in answer.treffer
    assert len(answer.benachrichtigungen) == 1


def test_co_registered_persons_with_a_block_are_withheld() -> None:
    spouse = {"familienname": "Schäfer", "vornamen": ["Tom"], "gesperrt": True}
    child = {"familienname": "Schäfer", "vornamen": ["Lia"]}
    f = fund(familienstand="verheiratet", ehegatte=spouse, kinder=[child])
    answer = domain.personensuche(request(), [f], TODAY, merkmal)
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
