"""The retrieval law in shared.law.abruf, and the router's authorisation from the tenant state."""

from __future__ import annotations

from typing import Any

import pytest

from services.query_router.domain import Abrufer, Freigabe, Protokoll, autorisiere
from shared.contract.events.abruf import Datenelement, Nichterstellung, QueryRequested, Suchart
from shared.contract.events.account import TenantState
from shared.contract.events.application import Zugangsart
from shared.law.abruf import gelieferte_datenelemente, pruefe_anfrage
from shared.law.vorgangsnummer import vorgangsnummer
from tests.retrieval import HANNOVER, query, tenant_state

EINFACH = Zugangsart.EINFACHE_BEHOERDENAUSKUNFT
SICHER = Zugangsart.SICHERHEITSBEHOERDE
NAME = {"familienname": "Größmann", "vornamen": "Jürgen"}


def q(**kw: Any) -> QueryRequested:
    kw.setdefault("ags", [HANNOVER[0]])
    return QueryRequested.model_validate(query("T1", **kw))


def code(result: Nichterstellung | None) -> str | None:
    return None if result is None else f"{result.code}:{result.grund}"


@pytest.mark.parametrize(
    ("kriterien", "expected"),
    [
        (NAME | {"geburtsdatum": "19800101"}, None),
        (NAME | {"strasse": "Hauptstraße", "hausnummer": "5"}, None),
        ({"frueherer_name": "Klein", "vornamen": "Eva", "geschlecht": "w"}, None),
        ({"kuenstlername": "DJ Größ", "sterbeort": "Celle"}, None),
        (NAME, "18:MINDESTKRITERIEN"),  # the name alone
        ({"familienname": "Größmann", "geburtsdatum": "19800101"}, "18:MINDESTKRITERIEN"),
        ({"vornamen": "Jürgen", "geburtsdatum": "19800101"}, "18:MINDESTKRITERIEN"),
        (NAME | {"geburtsdatum": "1980-01-01"}, "17:FORMAT"),
        (NAME | {"geburtsdatum": "19800101", "familienname": "Gr*"}, "17:PLATZHALTER_UNZULAESSIG"),
        (
            NAME | {"geburtsdatum": "19800101", "staatsangehoerigkeit": "deutsch"},
            "17:KRITERIUM_NICHT_ZULAESSIG",
        ),
        (
            NAME | {"geburtsdatum": "19800101", "ausweis_seriennummer": "L01"},
            "06:KRITERIUM_NICHT_ZULAESSIG",
        ),
        (NAME | {"geburtsdatum": "19800101", "strasse": "x" * 121}, "17:TEXT_ZU_LANG"),
    ],
)
def test_personensuche_criteria(kriterien: dict[str, Any], expected: str | None) -> None:
    assert code(pruefe_anfrage(q(kriterien=kriterien), EINFACH)) == expected


@pytest.mark.parametrize(
    ("ags", "expected"),
    [
        ([HANNOVER[0]], None),
        ([], "18:AGS_NICHT_EINDEUTIG"),
        ([HANNOVER[0], "03101000"], "18:AGS_NICHT_EINDEUTIG"),
        (["03241"], "18:AGS_NICHT_EINDEUTIG"),
        (["99000000"], "17:AGS_UNGUELTIG"),
    ],
)
def test_personensuche_names_exactly_one_ags(ags: list[str], expected: str | None) -> None:
    result = pruefe_anfrage(q(ags=ags, kriterien=NAME | {"geburtsdatum": "19800101"}), EINFACH)
    assert code(result) == expected


@pytest.mark.parametrize(
    ("zugangsart", "kriterien", "phonetisch", "ags", "expected"),
    [
        (EINFACH, {"familienname": "Mü*er"}, False, ["03"], None),
        (EINFACH, {"familienname": "Mü*er"}, True, ["03"], "15:PLATZHALTER_MIT_PHONETIK"),
        (EINFACH, {"familienname": "*er"}, False, ["03"], "17:PLATZHALTER_UNZULAESSIG"),
        (EINFACH, {"familienname": "*"}, False, ["03"], "17:PLATZHALTER_UNZULAESSIG"),
        (
            EINFACH,
            {"waffenrechtliche_erlaubnis": True},
            False,
            ["03"],
            "04:KRITERIUM_NICHT_ZULAESSIG",
        ),
        (SICHER, {"waffenrechtliche_erlaubnis": True}, False, ["03"], None),
        (SICHER, {"sprengstoffrechtliche_erlaubnis": True}, False, ["03241"], None),
        (SICHER, {"wohnungsgeber": "X"}, False, ["03"], "08:KRITERIUM_NICHT_ZULAESSIG"),
        (SICHER, {"ehegatte_familienname": "X"}, False, ["03"], "17:KRITERIUM_NICHT_ZULAESSIG"),
        (SICHER, {"auskunftssperre": True}, False, ["03"], "17:KRITERIUM_NICHT_ZULAESSIG"),
        (EINFACH, {}, False, ["03"], "18:MINDESTKRITERIEN"),
        (EINFACH, {"familienname": "Huber"}, False, ["03", "09"], "22:SUCHBEREICH"),
        (EINFACH, {"familienname": "Huber"}, False, ["0324"], "17:AGS_UNGUELTIG"),
    ],
)
def test_freie_suche_criteria(
    zugangsart: Zugangsart,
    kriterien: dict[str, Any],
    phonetisch: bool,
    ags: list[str],
    expected: str | None,
) -> None:
    request = q(suchart="freie_suche", ags=ags, kriterien=kriterien, phonetisch=phonetisch)
    assert code(pruefe_anfrage(request, zugangsart)) == expected


@pytest.mark.parametrize(
    ("element", "xmeld"),
    [
        (Datenelement.AUSWEISDATEN, "06"),
        (Datenelement.WAFFEN_SPRENGSTOFF, "04"),
        (Datenelement.PASSVERSAGUNG, "07"),
        (Datenelement.WOHNUNGSGEBER, "08"),
    ],
)
def test_satz_2_data_only_for_security_authorities(element: Datenelement, xmeld: str) -> None:
    request = q(kriterien=NAME | {"geburtsdatum": "19800101"}, angeforderte_daten=[element])
    assert code(pruefe_anfrage(request, EINFACH)) == f"{xmeld}:DATENELEMENT_NICHT_ZULAESSIG"
    assert pruefe_anfrage(request, SICHER) is None


def test_freie_suche_gives_the_reduced_set() -> None:
    plain = gelieferte_datenelemente(EINFACH, Suchart.FREIE_SUCHE, [])
    assert Datenelement.EHEGATTE not in plain
    assert Datenelement.AUSWEISDATEN not in plain
    security = gelieferte_datenelemente(SICHER, Suchart.FREIE_SUCHE, [])
    assert Datenelement.AUSWEISDATEN in security
    assert Datenelement.PASSVERSAGUNG not in security  # § 34a Abs. 3: Satz 2 Nr. 1, 3, 4 only
    assert gelieferte_datenelemente(EINFACH, Suchart.PERSONENSUCHE, [Datenelement.NAMEN]) == [
        Datenelement.NAMEN
    ]


def test_each_request_carries_the_bmelddav_11_data() -> None:
    body = query("T1", ags=[HANNOVER[0]], kriterien=NAME | {"geburtsdatum": "19800101"})
    body["anfragende"]["aktenzeichen"] = ""
    assert code(pruefe_anfrage(QueryRequested.model_validate(body), EINFACH)) == (
        "17:PFLICHTANGABE_FEHLT"
    )
    body = query("T1", ags=[HANNOVER[0]], kriterien=NAME | {"geburtsdatum": "19800101"})
    body["anfragende"]["kennung"] = None
    assert code(pruefe_anfrage(QueryRequested.model_validate(body), EINFACH)) == (
        "17:PFLICHTANGABE_FEHLT"
    )
    body["anfragende"]["verfahren"] = "Fachverfahren OK.EWO"
    assert pruefe_anfrage(QueryRequested.model_validate(body), EINFACH) is None


# -- the router's authorisation ---------------------------------------------------------------


def tenant(**kw: Any) -> TenantState:
    return TenantState.model_validate(tenant_state("T1", **kw))


VALID = NAME | {"geburtsdatum": "19800101"}


@pytest.mark.parametrize(
    ("state", "kw", "expected"),
    [
        ({"status": "suspended"}, {}, "MANDANT_GESPERRT"),
        ({"status": "restricted"}, {}, "MANDANT_EINGESCHRAENKT"),
        ({"users": {"sachbearbeitung": "locked"}}, {}, "NUTZER_GESPERRT"),
        ({}, {"kennung": "fremd"}, "NUTZER_UNBEKANNT"),
        ({"role": "sicherheitsbehoerde"}, {}, "PROTOKOLLIERUNG_FEHLT"),
        (
            {"conditions": ["STATUTORY_TASKS_ONLY"]},
            {"zweck": "freiwillige_leistung"},
            "FREIWILLIGE_LEISTUNG",
        ),
    ],
)
def test_refusals_from_the_tenant_state(
    state: dict[str, Any], kw: dict[str, Any], expected: str
) -> None:
    result = autorisiere(q(kriterien=VALID, **kw), tenant(**state))
    assert isinstance(result, Nichterstellung)
    assert result.grund == expected


def test_unknown_tenant_is_refused() -> None:
    result = autorisiere(q(kriterien=VALID), None)
    assert isinstance(result, Nichterstellung)
    assert result.grund == "MANDANT_UNBEKANNT"


@pytest.mark.parametrize(
    ("state", "land", "zugangsart", "protokoll"),
    [
        ({}, "03", EINFACH, Protokoll.OPERATOR),
        ({"conditions": ["STATUTORY_TASKS_ONLY"]}, "03", EINFACH, Protokoll.OPERATOR),
        (
            {"role": "sicherheitsbehoerde", "logging": "auftragsverarbeitung"},
            "03",
            SICHER,
            Protokoll.COMMISSIONED,
        ),
        (
            {"role": "sicherheitsbehoerde", "logging": "eigenprotokollierung"},
            "03",
            SICHER,
            Protokoll.SELF,
        ),
    ],
)
def test_authorised_queries(
    state: dict[str, Any], land: str, zugangsart: Zugangsart, protokoll: str
) -> None:
    result = autorisiere(q(kriterien=VALID), tenant(**state))
    assert isinstance(result, Freigabe)
    assert (result.land, result.zugangsart, result.datenumfang, result.protokollierung) == (
        land,
        zugangsart,
        tenant(**state).data_scope,
        protokoll,
    )
    assert result.abrufer == Abrufer()  # a user, not authorised under § 34a Abs. 6


def test_routing_follows_the_state_prefix() -> None:
    result = autorisiere(q(ags=["09162000"], kriterien=VALID), tenant())
    assert isinstance(result, Freigabe)
    assert result.land == "09"


def test_vorgangsnummer_is_unique_and_unguessable() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 21, tzinfo=UTC)
    numbers = {vorgangsnummer("03", now) for _ in range(2000)}
    assert len(numbers) == 2000
    sample = next(iter(numbers))
    assert sample.startswith("03-20261121-")
    assert len(sample.split("-")[2]) == 20
    portal = vorgangsnummer("03", now, "P")  # the portal's requests are told apart at a glance
    assert portal.startswith("03-P20261121-")
