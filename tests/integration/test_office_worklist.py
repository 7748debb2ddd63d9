"""The registration office's manual processing end to end, every service its own process on the
real broker and database: a query on a blocked person gets the neutral answer; the retrieval waits
on the office's worklist (§ 34a Abs. 5 Satz 2 BMG); the person and the authority that had the block
set get their letters (§ 51 Abs. 3, § 34 Abs. 5 BMG); a clerk of another office cannot decide; the
office's clerk answers after hearing the person (§ 51 Abs. 2 BMG), and the answer reaches the
requester through router and protocol_log with a § 40 entry of its own, beside the first."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pypdf import PdfReader

from shared.contract.topics import Topics
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    cli,
    cli_ok,
    cli_refused,
    database_url,
    eventually,
    read_all,
    stop_all,
)
from tests.identities import operator_key
from tests.retrieval import (
    HANNOVER,
    ask,
    deliver,
    delivery_log,
    opened,
    person,
    publish,
    query,
    router_knows,
    tenant_state,
    token,
)
from tests.smtp import SmtpServer

pytestmark = pytest.mark.integration
TOK = token()
TENANT = f"T-office-{TOK}"
BLOCKED = f"Angehoert{TOK}"
OM = f"AH{TOK}"
LKA = {
    "first_name": "",
    "surname": "",
    "authority_name": "Landeskriminalamt Niedersachsen",
    "office_name": "Dezernat 31",
    "street_and_number": "Am Waterlooplatz 11",
    "postcode": "30169",
    "town": "Hannover",
}


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("office-spool")


@pytest.fixture(scope="module")
def processes(artifacts: Path, spool: Path) -> Iterator[list[ServiceProcess]]:
    smtp = SmtpServer().start()
    env = {"MELDESPIEGEL_SMTP_PORT": str(smtp.port), "MELDESPIEGEL_PRINT_SPOOL_DIR": str(spool)}
    procs = [
        ServiceProcess(f"services.{name}", artifacts / f"office-{name}.log", env)
        for name in ("query_router", "protocol_log", "office_worklist", "mail_dispatch")
    ]
    procs.append(
        ServiceProcess(
            "services.register_mirror",
            artifacts / "office-register03.log",
            {"MELDESPIEGEL_REGISTER_STATE": "03"},
        )
    )
    for p in procs:
        p.start()
    yield procs
    stop_all(procs)
    smtp.stop()


@pytest.fixture(scope="module")
async def world(processes: list[ServiceProcess]) -> AsyncIterator[RawProducer]:
    blocked = person(
        OM,
        BLOCKED,
        ["Eva"],
        "19700707",
        auskunftssperre={
            "bis": "2099-12-31",
            "veranlassende_behoerde": LKA["authority_name"],
            "veranlasst_von_sicherheitsbehoerde": True,
            "veranlassende_behoerde_anschrift": LKA,
        },
    )
    async with RawProducer() as producer:
        state = tenant_state(TENANT)
        await publish(producer, Topics.TENANT_STATE.name, state, TENANT)
        d = {
            "delivery_id": f"L-{uuid.uuid4().hex[:12]}",
            "absender": {"gemeindeschluessel": HANNOVER[0], "name": "Stadt Hannover"},
            "art": "aenderung",
            "datensaetze": [blocked],
            "erstellt_am": "2026-12-05T06:00:00+00:00",
        }
        await deliver(producer, d)
        db = await asyncpg.connect(database_url())
        try:
            await eventually(lambda: router_knows(db, [TENANT]), "the router has the tenant")
        finally:
            await db.close()
        await delivery_log({d["delivery_id"]})
        yield producer


def printed(spool: Path, nummer: str) -> list[str]:
    """The texts of the notice letters in the print spool that name the Vorgang."""
    texts = [
        "\n".join(page.extract_text() for page in PdfReader(path).pages)
        for path in spool.glob("*.block_notice_letter.pdf")
    ]
    return [t for t in texts if nummer in t]


async def newest(topic: str, match: Any) -> list[dict[str, Any]]:
    records = await read_all(topic, until=lambda rs: any(match(r.json()) for r in rs))
    return [r.json() for r in records if match(r.json())]


async def test_a_blocked_persons_query_reaches_the_requester_after_the_clerks_answer(
    world: RawProducer, spool: Path, db: asyncpg.Connection
) -> None:
    """§ 34a Abs. 5 Satz 2, § 51 Abs. 2 and 3, § 34 Abs. 5, § 40 BMG."""
    q = query(
        TENANT,
        ags=[HANNOVER[0]],
        kriterien={"familienname": BLOCKED, "vornamen": "Eva", "geburtsdatum": "19700707"},
        angeforderte_daten=["namen", "anschriften"],
    )
    first = (await ask(world, q))[q["query_id"]]
    assert first["ergebnisstatus"] == "03"  # neutral: a block is not told from nobody
    nummer = first["vorgangsnummer"]
    case_id = f"{nummer}/{OM}"
    [opened_case] = await newest(Topics.OFFICE_CASE.name, lambda c: c["case_id"] == case_id)
    assert opened_case["status"] == "open"
    assert opened_case["gemeindeschluessel"] == HANNOVER[0]

    # the letters: the person and the LKA (§ 34 Abs. 5 Satz 1 BMG), printed by mail_dispatch
    await eventually(lambda: len(printed(spool, nummer)) == 2, "both notice letters printed")
    texts = printed(spool, nummer)
    to_person = [t for t in texts if f"Eva {BLOCKED}" in t]
    to_lka = [t for t in texts if "Landeskriminalamt Niedersachsen" in t]
    assert len(to_person) == len(to_lka) == 1
    assert "Hauptstraße 5" in to_person[0]
    assert "30159 Hannover" in to_person[0]
    assert "Am Waterlooplatz 11" in to_lka[0]
    assert "§ 51 Abs. 2 BMG" in to_person[0]

    # the office's list shows it; a clerk of Celle cannot decide it; Hannover's clerk answers
    clerk = ("--operator", f"sb-hannover-{TOK}")
    operator_key(clerk[1], f"meldebehoerde-{HANNOVER[0]}")  # the clerk's certificate
    notices = json.loads(cli_ok(cli("office", "notices", HANNOVER[0], "-o", "json")))
    mine = [(n["empfaenger"], n["letter"]) for n in notices if n["vorgangsnummer"] == nummer]
    assert sorted(mine) == [("betroffene_person", True), ("veranlassende_behoerde", True)]
    listed = json.loads(cli_ok(cli(*clerk, "office", "list", HANNOVER[0], "-o", "json")))
    [row] = [c for c in listed if c["case_id"] == case_id]
    assert (row["status"], row["grund"], row["overdue"]) == ("open", "auskunftssperre", False)
    celle = operator_key(f"sb-celle-{TOK}", "meldebehoerde-03351006")
    command = {
        "command_id": f"O-{uuid.uuid4().hex[:8]}",
        "case_id": case_id,
        "operator_id": f"sb-celle-{TOK}",
        "action": "answer",
        "text": "Angehört.",
    }
    await publish(world, Topics.OFFICE_COMMAND.name, command, case_id, signed_by=celle)
    [refused] = await newest(Topics.OFFICE_COMMAND_REJECTED.name, lambda r: r["case_id"] == case_id)
    assert (refused["reason_code"], refused["operator_id"]) == (
        "OPERATOR_ROLE_NOT_ALLOWED",
        f"sb-celle-{TOK}",
    )
    heard = "Frau Eva wurde angehört; eine Gefahr ist ausgeschlossen (§ 51 Abs. 2 BMG)."
    said = cli_ok(cli(*clerk, "office", "answer", case_id, "--text", heard))
    assert f"{case_id}: released, answer 03-" in said
    cli_refused(
        cli(*clerk, "office", "refuse", case_id, "--text", "Doch nicht."), 1, "CASE_DECIDED"
    )

    # the answer: the same query, under its own Vorgangsnummer, data in the requester's scope
    [second] = await newest(Topics.QUERY_DELIVERED.name, lambda d: d.get("bezugsvorgang") == nummer)
    assert second["query_id"] == q["query_id"]
    assert second["vorgangsnummer"] != nummer
    assert (second["ausgang"], second["ergebnisstatus"]) == ("answered", "01")
    answer = opened(second)
    assert answer["person"]["familienname"] == BLOCKED
    assert "geburtsdatum" not in answer["person"]  # not asked for

    # two § 40 entries: the neutral answer with no hit, the office's answer with its record
    rows = await db.fetch(
        "SELECT vorgangsnummer, entry FROM protocol_log.protokoll WHERE vorgangsnummer = ANY($1)",
        [nummer, second["vorgangsnummer"]],
    )
    entries = {r["vorgangsnummer"]: json.loads(r["entry"]) for r in rows}
    assert entries[nummer]["ergebnisstatus"] == "03"
    assert entries[nummer]["treffer"] == []
    office = entries[second["vorgangsnummer"]]
    assert office["bezugsvorgang"] == nummer
    assert office["ergebnisstatus"] == "01"
    assert office["treffer"] == [{"gemeindeschluessel": HANNOVER[0], "ordnungsmerkmal": OM}]
    assert office["aktenzeichen"] == q["anfragende"]["aktenzeichen"]
    assert second["protokoll"].startswith("operator:")

    # and the case is closed with the outcome
    closed = await newest(
        Topics.OFFICE_CASE.name, lambda c: c["case_id"] == case_id and c["status"] == "answered"
    )
    assert closed[-1]["antwort_vorgangsnummer"] == second["vorgangsnummer"]
    assert closed[-1]["ergebnis"] == "Auskunft erteilt"
