"""Queries another state's central body forwards (§ 39 Abs. 3 BMG, NMeldVO 2022 § 26 Abs. 1): the
data follow the body it names (§ 34a Abs. 2, 3 BMG), a § 34 Abs. 4 Satz 1 authority logs itself
(§ 40 Abs. 3 BMG), the answer is sealed for that state's front end; nobody else names a body or a
key of their own."""

from __future__ import annotations

from typing import Any

import pytest

from services.query_router.domain import Freigabe, Protokoll, autorisiere
from services.query_router.service import _request
from shared.contract.events.abruf import Nichterstellung, QueryRequested
from shared.contract.events.account import TenantState
from shared.contract.events.application import Behoerdenart, Zugangsart
from tests.retrieval import HANNOVER, query, tenant_state

FINGERPRINT = "c4" * 32
GATEWAY = {
    "name": "Verbund Bayern",
    "verantwortliche_person": "Zentrale Stelle Bayern, Leitung",
    "certificate_fingerprint": FINGERPRINT,
    "status": "active",
}
KEY = "7f" * 32
KRITERIEN = {"familienname": "Schäfer", "vornamen": "Anna", "geburtsdatum": "19800101"}


def land_09() -> TenantState:
    state = tenant_state("L09", kind="zentrale_stelle_land", verfahren=[GATEWAY])
    return TenantState.model_validate(state | {"land": "09", "data_scope": "bmg_34_1_satz_1_und_2"})


def forwarded(
    stelle: str | None = "kommunalverwaltung", sicherheit: bool = False, **more: Any
) -> QueryRequested:
    body = query("L09", ags=[HANNOVER[0]], kriterien=KRITERIEN, **more)
    body["anfragende"] |= {"kennung": None, "verfahren": GATEWAY["name"], "fremde_kennung": "m.b"}
    body |= {
        "client_certificate_fingerprint": FINGERPRINT,
        "abrufende_stelle": stelle,
        "als_sicherheitsbehoerde": sicherheit,
        "antwortschluessel": KEY,
        "antwortkontext": "09-20261205-ABCDEFGHJKLMNPQRSTUV",
    }
    return QueryRequested.model_validate(body | more)


def test_a_plain_body_of_another_state_gets_satz_1_and_the_operator_logs_34a_abs_2() -> None:
    result = autorisiere(forwarded(), land_09())
    assert isinstance(result, Freigabe)
    assert result.zugangsart is Zugangsart.EINFACHE_BEHOERDENAUSKUNFT
    assert result.protokollierung == Protokoll.OPERATOR
    assert result.abrufende_stelle is Behoerdenart.KOMMUNALVERWALTUNG
    request = _request("03-X", forwarded(), result)
    assert (request.antwortschluessel, request.antwortkontext) == (
        KEY,
        "09-20261205-ABCDEFGHJKLMNPQRSTUV",
    )
    assert request.sperrdaten_berechtigt is False


def test_a_body_not_named_by_kind_is_a_public_body_and_police_with_simple_access_gets_satz_1() -> (
    None
):
    """§ 34a Abs. 2 BMG: the access its state admitted it with; § 34 Abs. 5 Satz 3 BMG: the
    kind decides who is told of a request on a blocked person."""
    unnamed = autorisiere(forwarded(None), land_09())
    assert isinstance(unnamed, Freigabe)
    assert unnamed.abrufende_stelle is Behoerdenart.SONSTIGE_OEFFENTLICHE_STELLE
    police = autorisiere(forwarded("polizei"), land_09())
    assert isinstance(police, Freigabe)
    assert police.zugangsart is Zugangsart.EINFACHE_BEHOERDENAUSKUNFT
    assert police.abrufende_stelle is Behoerdenart.POLIZEI


def test_a_central_bodys_own_user_at_the_front_end_needs_no_key_nmeldvo_26_abs_1() -> None:
    """Retrieval by browser: the answer is sealed for the front end, as for every user."""
    body = query("L09", ags=[HANNOVER[0]], kriterien=KRITERIEN, kennung="sachbearbeitung")
    result = autorisiere(QueryRequested.model_validate(body), land_09())
    assert isinstance(result, Freigabe)
    assert result.abrufende_stelle is Behoerdenart.SONSTIGE_OEFFENTLICHE_STELLE
    keyed = autorisiere(
        QueryRequested.model_validate(body | {"antwortschluessel": "zz" * 32}), land_09()
    )
    assert isinstance(keyed, Nichterstellung)
    assert keyed.grund == "ANTWORTSCHLUESSEL_FEHLT"


def test_another_states_police_gets_satz_2_and_logs_itself_40_abs_3() -> None:
    q = forwarded("polizei", sicherheit=True, angeforderte_daten=["ausweisdaten"])
    result = autorisiere(q, land_09())
    assert isinstance(result, Freigabe)
    assert result.zugangsart is Zugangsart.SICHERHEITSBEHOERDE
    assert result.protokollierung == Protokoll.SELF


@pytest.mark.parametrize(
    ("case", "q", "grund"),
    [
        ("a security authority not named", forwarded(None, True), "ABRUFENDE_STELLE_FEHLT"),
        (
            "a security access for a body that is none",
            forwarded("kommunalverwaltung", True),
            "ABRUFENDE_STELLE_FEHLT",
        ),
        ("the central body itself", forwarded("zentrale_stelle_land"), "ABRUFENDE_STELLE_FEHLT"),
        ("no key", forwarded(antwortschluessel=None), "ANTWORTSCHLUESSEL_FEHLT"),
        ("no context", forwarded(antwortkontext=None), "ANTWORTSCHLUESSEL_FEHLT"),
        ("not a key", forwarded(antwortschluessel="zz" * 32), "ANTWORTSCHLUESSEL_FEHLT"),
        (
            "a plain body asks for Satz 2 data (§ 34a Abs. 2 BMG)",
            forwarded(angeforderte_daten=["ausweisdaten"]),
            "DATENELEMENT_NICHT_ZULAESSIG",
        ),
        (
            "another certificate (§ 34 Abs. 2 Satz 3 BMG)",
            forwarded(client_certificate_fingerprint="00" * 32),
            "ZERTIFIKAT_ABWEICHEND",
        ),
    ],
)
def test_what_a_central_body_must_say_nmeldvo_26_abs_1(
    case: str, q: QueryRequested, grund: str
) -> None:
    result = autorisiere(q, land_09())
    assert isinstance(result, Nichterstellung), case
    assert result.grund == grund, case


def test_only_a_central_body_names_a_body_or_its_own_key_nmeldvo_26_abs_1() -> None:
    local = TenantState.model_validate(tenant_state("T1"))
    for extra in (
        {"abrufende_stelle": "polizei"},
        {"als_sicherheitsbehoerde": False},
        {"antwortschluessel": KEY},
    ):
        q = QueryRequested.model_validate(
            query("T1", ags=[HANNOVER[0]], kriterien=KRITERIEN, **extra)
        )
        result = autorisiere(q, local)
        assert isinstance(result, Nichterstellung)
        assert result.grund == "NUR_ZENTRALE_STELLE"
