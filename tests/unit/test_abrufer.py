"""Every caller is authorised (§ 39 Abs. 1 BMG): users by an active account, machines by a
registered, active procedure calling with its registered client certificate (NMeldVO 2022 § 26
Abs. 2, § 34 Abs. 2 Satz 3 BMG); the log names the procedure and its responsible person (§ 40
Abs. 1 Nr. 6 BMG)."""

from __future__ import annotations

from typing import Any

import pytest

from services.query_router.domain import Abrufer, Freigabe, autorisiere
from services.query_router.service import _request
from shared.contract.events.abruf import Nichterstellung, QueryRequested
from shared.contract.events.account import TenantState
from tests.retrieval import HANNOVER, query, tenant_state

FINGERPRINT = "ab" * 32
VERFAHREN = {
    "name": "OK.EWO-Schnittstelle",
    "verantwortliche_person": "Dr. Ruth Ahrens",
    "certificate_fingerprint": FINGERPRINT,
    "status": "active",
}
KRITERIEN = {"familienname": "Schäfer", "vornamen": "Anna", "geburtsdatum": "19800101"}


def machine(name: str | None = VERFAHREN["name"], fingerprint: str | None = FINGERPRINT) -> Any:
    body = query("T1", ags=[HANNOVER[0]], kriterien=KRITERIEN)
    body["anfragende"]["kennung"] = None
    body["anfragende"]["verfahren"] = name
    body["client_certificate_fingerprint"] = fingerprint
    return QueryRequested.model_validate(body)


def state(**kw: Any) -> TenantState:
    return TenantState.model_validate(tenant_state("T1", **kw))


def test_registered_active_procedure_with_its_certificate_is_authorised_and_named() -> None:
    result = autorisiere(machine(), state(verfahren=[VERFAHREN]))
    assert isinstance(result, Freigabe)
    assert result.abrufer == Abrufer(verfahren_verantwortlich="Dr. Ruth Ahrens")


def test_fingerprint_is_compared_in_its_normal_form() -> None:
    colons = ":".join(FINGERPRINT.upper()[i : i + 2] for i in range(0, 64, 2))
    result = autorisiere(machine(fingerprint=colons), state(verfahren=[VERFAHREN]))
    assert isinstance(result, Freigabe)


@pytest.mark.parametrize(
    ("case", "q", "verfahren", "grund"),
    [
        (
            "§ 26 Abs. 2 NMeldVO: unknown procedure",
            machine("Unbekannt"),
            [VERFAHREN],
            "VERFAHREN_UNBEKANNT",
        ),
        ("§ 26 Abs. 2 NMeldVO: no procedure registered", machine(), [], "VERFAHREN_UNBEKANNT"),
        (
            "§ 26 Abs. 2 NMeldVO: locked procedure",
            machine(),
            [VERFAHREN | {"status": "locked"}],
            "VERFAHREN_GESPERRT",
        ),
        (
            "§ 34 Abs. 2 Satz 3 BMG: no certificate",
            machine(fingerprint=None),
            [VERFAHREN],
            "ZERTIFIKAT_ABWEICHEND",
        ),
        (
            "§ 34 Abs. 2 Satz 3 BMG: another certificate",
            machine(fingerprint="cd" * 32),
            [VERFAHREN],
            "ZERTIFIKAT_ABWEICHEND",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("§") else "",
)
def test_machine_callers_that_are_refused(
    case: str, q: QueryRequested, verfahren: list[dict[str, Any]], grund: str
) -> None:
    result = autorisiere(q, state(verfahren=verfahren))
    assert isinstance(result, Nichterstellung), case
    assert (result.code, result.grund) == ("17", grund)


def test_a_query_names_exactly_one_caller_bmg_40_abs_1_nr_6() -> None:
    anfragende = machine().anfragende.model_copy(update={"kennung": "sachbearbeitung"})
    both = machine().model_copy(update={"anfragende": anfragende})
    result = autorisiere(both, state(verfahren=[VERFAHREN]))
    assert isinstance(result, Nichterstellung)
    assert result.grund == "ABRUFER_UNKLAR"


def test_a_locked_user_is_refused_bmg_39_abs_1() -> None:
    q = QueryRequested.model_validate(query("T1", ags=[HANNOVER[0]], kriterien=KRITERIEN))
    result = autorisiere(q, state(users={"sachbearbeitung": "locked"}))
    assert isinstance(result, Nichterstellung)
    assert result.grund == "NUTZER_GESPERRT"


def test_the_register_request_carries_the_body_and_the_34a_abs_6_authorisation() -> None:
    q = QueryRequested.model_validate(query("T1", ags=[HANNOVER[0]], kriterien=KRITERIEN))
    t = state(kind="polizei", sperrdaten=["sachbearbeitung"])
    f = autorisiere(q, t)
    assert isinstance(f, Freigabe)
    r = _request("03-X", q, f)
    assert (r.abrufende_stelle, r.sperrdaten_berechtigt) == ("polizei", True)
    # a procedure is never authorised under § 34a Abs. 6: only the head or authorised staff
    t = state(kind="polizei", verfahren=[VERFAHREN], sperrdaten=["sachbearbeitung"])
    f = autorisiere(machine(), t)
    assert isinstance(f, Freigabe)
    assert _request("03-Y", machine(), f).sperrdaten_berechtigt is False
