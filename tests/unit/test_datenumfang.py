"""The data scope of § 34a Abs. 2 and 3 BMG, item by item and for each access, generated from the
one table that cites the provision for each item (`shared.law.abruf.DATENUMFANG`): what the register
puts into an answer, and what a request may ask for."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from services.register_mirror import domain
from services.register_mirror.domain import Fund
from shared.contract.events.abruf import Datenelement, QueryRequested, RegisterRequest, Suchart
from shared.contract.events.application import Zugangsart
from shared.contract.events.register import Personendatensatz
from shared.law.abruf import DATENUMFANG, EINFACH, SATZ_2, SICHER, pruefe_anfrage
from tests.retrieval import HANNOVER, person, query

# where each item shows in an answer (independent of the register's own code)
KEYS: dict[Datenelement, tuple[str, ...]] = {
    Datenelement.NAMEN: ("familienname", "vornamen", "doktorgrad"),
    Datenelement.GEBURT: ("geburtsdatum", "geburtsort"),
    Datenelement.GESCHLECHT: ("geschlecht",),
    Datenelement.STAATSANGEHOERIGKEITEN: ("staatsangehoerigkeiten",),
    Datenelement.ANSCHRIFTEN: ("anschriften", "hauptwohnung"),
    Datenelement.GESETZLICHER_VERTRETER: ("gesetzlicher_vertreter",),
    Datenelement.FAMILIENSTAND: ("familienstand",),
    Datenelement.EHEGATTE: ("ehegatte",),
    Datenelement.KINDER: ("kinder",),
    Datenelement.STERBEDATEN: ("sterbedatum", "sterbeort"),
    Datenelement.AUSWEISDATEN: ("ausweise",),
    Datenelement.PASSVERSAGUNG: ("passversagung",),
    Datenelement.WAFFEN_SPRENGSTOFF: ("waffenrechtliche_erlaubnis",),
    Datenelement.WOHNUNGSGEBER: ("wohnungsgeber",),
}
RECORD = Personendatensatz.model_validate(
    person(
        "OM-1",
        "Schäfer",
        ["Anna"],
        "19800101",
        familienstand="verheiratet",
        ehegatte={"familienname": "Schäfer", "vornamen": ["Tom"]},
        kinder=[{"familienname": "Schäfer", "vornamen": ["Lia"]}],
        gesetzlicher_vertreter=[{"familienname": "Berg", "vornamen": ["Eva"]}],
        ausweise=[
            {
                "art": "Personalausweis",
                "seriennummer": "L01X00T47",
                "ausstellungsbehoerde": "Stadt Hannover",
                "ausstellungsdatum": "2020-01-02",
                "gueltig_bis": "2030-01-01",
            }
        ],
        waffenrechtliche_erlaubnis=True,
        wohnungsgeber="Wohnungsbau Hannover",
        passversagung=["Passversagung nach § 7 PassG"],
    )
)


def _case(element: Datenelement, zugangsart: Zugangsart, suchart: Suchart) -> tuple[Any, ...]:
    u = DATENUMFANG[element]
    zugang = u.freie_suche if suchart is Suchart.FREIE_SUCHE else u.personensuche
    allowed = zugang is EINFACH or (zugang is SICHER and zugangsart is SICHER)
    if suchart is Suchart.FREIE_SUCHE:
        why = u.freie_suche_quelle
    else:
        why = "§ 34a Abs. 2 Satz 1" if u.personensuche is EINFACH else "§ 34a Abs. 2 Satz 2"
    case_id = f"{u.quelle} {element.value} {suchart.value} {zugangsart.value}: {why}"
    return pytest.param(element, zugangsart, suchart, allowed, id=case_id)


CASES = [
    _case(e, z, s)
    for e, z, s in itertools.product(
        DATENUMFANG, (EINFACH, SICHER), (Suchart.PERSONENSUCHE, Suchart.FREIE_SUCHE)
    )
]


def request(zugangsart: Zugangsart, suchart: Suchart, wanted: list[Datenelement]) -> dict[str, Any]:
    freie = suchart is Suchart.FREIE_SUCHE
    body = query(
        "T1",
        ags=["03"] if freie else [HANNOVER[0]],
        suchart=suchart.value,
        kriterien={"familienname": "Schäfer"} if freie else {
            "familienname": "Schäfer", "vornamen": "Anna", "geburtsdatum": "19800101"
        },
        angeforderte_daten=[w.value for w in wanted],
    )  # fmt: skip
    return body


def test_the_table_covers_every_data_item() -> None:
    assert set(DATENUMFANG) == set(Datenelement) == set(KEYS)


@pytest.mark.parametrize(("element", "zugangsart", "suchart", "allowed"), CASES)
def test_the_answer_carries_an_item_only_where_the_law_gives_it(
    element: Datenelement, zugangsart: Zugangsart, suchart: Suchart, allowed: bool
) -> None:
    body = request(zugangsart, suchart, [])
    r = RegisterRequest.model_validate(
        body
        | {
            "vorgangsnummer": "03-X",
            "zugangsart": zugangsart.value,
            "datenumfang": "bmg_34_1_satz_1",
        }
    )
    fund = Fund(HANNOVER[0], RECORD)
    if suchart is Suchart.FREIE_SUCHE:
        [shown] = domain.freie_suche(r, [fund], lambda: "M").inhalt["ergebnisliste"]
    else:
        shown = domain.eindeutig(r, fund).inhalt["person"]
    present = [k for k in KEYS[element] if k in shown]
    assert bool(present) is allowed, (present, sorted(shown))
    if element is Datenelement.ANSCHRIFTEN and suchart is Suchart.FREIE_SUCHE:
        # § 34a Abs. 3: the current main address; its Einzugsdatum only for security
        # authorities (Satz 2); never a move-out date
        assert "anschriften" not in shown
        haupt = shown["hauptwohnung"]
        assert ("einzugsdatum" in haupt) is (zugangsart is SICHER)
        assert "auszugsdatum" not in haupt


@pytest.mark.parametrize(("element", "zugangsart", "suchart", "allowed"), CASES)
def test_asking_for_an_item_outside_the_scope_is_refused(
    element: Datenelement, zugangsart: Zugangsart, suchart: Suchart, allowed: bool
) -> None:
    q = QueryRequested.model_validate(request(zugangsart, suchart, [element]))
    refusal = pruefe_anfrage(q, zugangsart)
    if allowed:
        assert refusal is None
    else:
        assert refusal is not None
        assert (refusal.grund, refusal.code) == (
            "DATENELEMENT_NICHT_ZULAESSIG",
            SATZ_2.get(element, "17"),
        )
