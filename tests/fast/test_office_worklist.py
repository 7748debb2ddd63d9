"""office_worklist on FastStream's in-memory broker: a retrieval handed over for manual processing
(§ 34a Abs. 5 Satz 2 BMG) waits on its office's worklist; only a clerk of that office decides, once
(§ 51 Abs. 2 BMG); an answer goes to the register under a Vorgangsnummer of its own, a refusal
sends nothing; the notices of § 51 Abs. 3 / § 34 Abs. 5 BMG become letters; a case past the
deadline raises an alert once and the backlog is a metric. The in-memory store and the real
PostgreSQL one (marked integration)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from services.office_worklist.app import OfficeSettings, OfficeWorklist
from shared.contract.events.abruf import BlockNotice, RegisterHandover
from shared.contract.events.manuell import ManualResponse, OfficeCommand
from shared.contract.topics import Topics
from tests.fakes.office_worklist import MemoryWorklistStore
from tests.helpers import database_url
from tests.identities import operator_key
from tests.inmemory import InMemory

SAMPLES = Path(__file__).parents[1] / "contract" / "samples"
NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
HANNOVER = "03241001"
WATCH = (
    Topics.OFFICE_CASE,
    Topics.OFFICE_COMMAND_REJECTED,
    Topics.OFFICE_RELEASE,
    Topics.OFFICE_OVERDUE,
    Topics.OFFICE_NOTICE_LETTER,
)
VORGANGSNUMMER = re.compile(r"^03-\d{8}-[0-9A-Z]{20}$")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


Worklists = Callable[[Clock], InMemory]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def worklists(request: pytest.FixtureRequest) -> Worklists:
    def build(clock: Clock) -> InMemory:
        settings = OfficeSettings(office_deadline_hours=72, office_check_seconds=3600)
        if request.param == "postgres":
            settings = OfficeSettings(
                database_url=database_url(), office_deadline_hours=72, office_check_seconds=3600
            )
            return InMemory(OfficeWorklist(settings, clock=clock), *WATCH)
        store = MemoryWorklistStore()
        service = OfficeWorklist(settings, clock=clock)
        service.store = lambda conn: store
        return InMemory(service, *WATCH, stores=[store])

    return build


def sample(event_type: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{event_type}.json").read_text("utf-8"))


def handover(ags: str = HANNOVER, **changes: Any) -> RegisterHandover:
    h = sample("de.meldespiegel.register.handover.v1")
    nummer = f"03-20261205-{uuid.uuid4().hex[:20].upper()}"
    h |= {"vorgangsnummer": nummer, "gemeindeschluessel": ags, "handed_over_at": NOW.isoformat()}
    h["anfrage"] |= {"vorgangsnummer": nummer, "gemeindeschluessel": [ags]}
    return RegisterHandover.model_validate(h | changes)


def case_id(h: RegisterHandover) -> str:
    return f"{h.vorgangsnummer}/{h.ordnungsmerkmal}"


def decision(case: str, action: str, clerk: str = "sb-hannover") -> OfficeCommand:
    return OfficeCommand(
        command_id=f"O-{uuid.uuid4().hex[:8]}",
        case_id=case,
        operator_id=clerk,
        action=action,
        text="Die betroffene Person wurde angehört (§ 51 Abs. 2 BMG).",
    )


def clerk(name: str = "sb-hannover", ags: str = HANNOVER) -> Any:
    return operator_key(name, f"meldebehoerde-{ags}")


async def test_only_a_clerk_of_the_office_answers_and_the_answer_gets_its_own_vorgangsnummer(
    worklists: Worklists,
) -> None:
    """§ 34a Abs. 5 Satz 2, § 51 Abs. 2 BMG."""
    h = handover()
    case = case_id(h)
    async with worklists(Clock()) as run:
        await run.deliver(Topics.REGISTER_HANDOVER, h)
        await run.deliver(Topics.REGISTER_HANDOVER, h)  # redelivered: one case
        await run.deliver(Topics.REGISTER_HANDOVER, handover("09162000"))  # Bavaria's own
        await run.deliver(Topics.OFFICE_COMMAND, decision(case, "answer"))  # unsigned
        await run.deliver(  # a clerk of Celle for a case of Hannover
            Topics.OFFICE_COMMAND,
            decision(case, "answer", "sb-celle"),
            signed_by=clerk("sb-celle", "03351006"),
        )
        await run.deliver(  # the operator's staff do not decide for the office
            Topics.OFFICE_COMMAND, decision(case, "answer", "op-1"), signed_by=operator_key("op-1")
        )
        await run.deliver(Topics.OFFICE_COMMAND, decision(case, "answer"), signed_by=clerk())
        await run.deliver(Topics.OFFICE_COMMAND, decision(case, "refuse"), signed_by=clerk())
        [release] = run.bodies(Topics.OFFICE_RELEASE)
        response = sample("de.meldespiegel.register.manual-response.v1")
        response |= {"vorgangsnummer": release["vorgangsnummer"], "case_id": case}
        await run.deliver(Topics.REGISTER_MANUAL_RESPONSE, ManualResponse.model_validate(response))
    states = run.bodies(Topics.OFFICE_CASE)
    assert [(s["case_id"], s["status"]) for s in states] == [
        (case, "open"),
        (case, "released"),
        (case, "answered"),
    ]
    assert [r["reason_code"] for r in run.bodies(Topics.OFFICE_COMMAND_REJECTED)] == [
        "OPERATOR_NOT_PROVEN",
        "OPERATOR_ROLE_NOT_ALLOWED",
        "OPERATOR_ROLE_NOT_ALLOWED",
        "CASE_DECIDED",
    ]
    assert VORGANGSNUMMER.match(release["vorgangsnummer"])
    assert release["vorgangsnummer"] != h.vorgangsnummer
    assert release["bezugsvorgang"] == h.vorgangsnummer
    assert release["anfrage"]["query_id"] == h.anfrage.query_id  # type: ignore[union-attr]
    assert (release["ordnungsmerkmal"], release["operator_id"]) == (
        h.ordnungsmerkmal,
        "sb-hannover",
    )
    assert states[1]["antwort_vorgangsnummer"] == release["vorgangsnummer"]
    assert states[2]["ergebnis"] == "Auskunft erteilt"


async def test_a_refusal_sends_nothing_and_a_portal_case_is_answered_in_writing(
    worklists: Worklists,
) -> None:
    """§ 51 Abs. 2 BMG: the neutral answer already given is the requester's notice; § 44 BMG:
    a simple registry information after manual processing is a written one."""
    refused, portal = handover(), handover(auskunftsart="einfache_melderegisterauskunft")
    async with worklists(Clock()) as run:
        await run.deliver(Topics.REGISTER_HANDOVER, refused)
        await run.deliver(Topics.REGISTER_HANDOVER, portal)
        await run.deliver(
            Topics.OFFICE_COMMAND, decision(case_id(refused), "refuse"), signed_by=clerk()
        )
        await run.deliver(
            Topics.OFFICE_COMMAND, decision(case_id(portal), "answer"), signed_by=clerk()
        )
        await run.deliver(
            Topics.OFFICE_COMMAND, decision("03-x/unknown", "refuse"), signed_by=clerk()
        )
    assert run.bodies(Topics.OFFICE_RELEASE) == []
    last = {s["case_id"]: s["status"] for s in run.bodies(Topics.OFFICE_CASE)}
    assert last == {case_id(refused): "refused", case_id(portal): "open"}
    assert [r["reason_code"] for r in run.bodies(Topics.OFFICE_COMMAND_REJECTED)] == [
        "WRITTEN_ANSWER",
        "UNKNOWN_CASE",
    ]


async def test_notices_become_letters_to_the_address_the_register_holds(
    worklists: Worklists,
) -> None:
    """§ 51 Abs. 3, § 34 Abs. 5 BMG: every request is told, once."""
    base = sample("de.meldespiegel.register.block-notice.v1")
    base |= {"vorgangsnummer": f"03-20261205-{uuid.uuid4().hex[:20].upper()}"}
    person = BlockNotice.model_validate(base | {"gemeindeschluessel": HANNOVER})
    authority = BlockNotice.model_validate(
        base | {"gemeindeschluessel": HANNOVER, "empfaenger": "veranlassende_behoerde",
                "anschrift": None}
    )  # fmt: skip
    async with worklists(Clock()) as run:
        await run.deliver(Topics.REGISTER_BLOCK_NOTICE, person)
        await run.deliver(Topics.REGISTER_BLOCK_NOTICE, person)
        await run.deliver(Topics.REGISTER_BLOCK_NOTICE, authority)  # no address: by hand
    [letter] = run.bodies(Topics.OFFICE_NOTICE_LETTER)
    assert letter["empfaenger"] == "betroffene_person"
    assert letter["an"]["street_and_number"] == base["anschrift"]["street_and_number"]
    assert letter["anfragende_behoerde"] == base["anfragende_behoerde"]


async def test_a_case_past_the_deadline_raises_one_alert_and_the_backlog_is_a_metric(
    worklists: Worklists,
) -> None:
    clock = Clock()
    office = "03" + str(uuid.uuid4().int)[:6]  # its own office: the metric is per office
    old, young, decided = handover(office), handover(office), handover(office)
    async with worklists(clock) as run:
        for h in (old, young, decided):
            await run.deliver(Topics.REGISTER_HANDOVER, h)
        await run.deliver(
            Topics.OFFICE_COMMAND,
            decision(case_id(decided), "refuse", f"sb-{office}"),
            signed_by=clerk(f"sb-{office}", office),
        )
        ours = {case_id(old), case_id(young)}
        clock.now = NOW + timedelta(hours=71)
        await run.service.check_overdue()
        assert [a for a in run.bodies(Topics.OFFICE_OVERDUE) if a["case_id"] in ours] == []
        clock.now = NOW + timedelta(hours=73)
        await run.service.check_overdue()
        await run.service.check_overdue()
        alerts = [a for a in run.bodies(Topics.OFFICE_OVERDUE) if a["case_id"] in ours]
        metrics = generate_latest(run.service.metrics.registry).decode()
    assert sorted(a["case_id"] for a in alerts) == sorted(ours)  # once each
    assert alerts[0]["deadline_hours"] == 72
    assert f'meldespiegel_office_open_cases{{gemeindeschluessel="{office}"}} 2.0' in metrics
    age = 73 * 3600.0
    assert (
        f'meldespiegel_office_oldest_case_age_seconds{{gemeindeschluessel="{office}"}} {age}'
        in metrics
    )
