"""Nothing outside the § 40 log keeps who asked for whom longer than the query needs (§ 40 Abs. 5
BMG; Art. 5 Abs. 1 lit. c, e DSGVO), and for a self-logging security authority the operator keeps
no copy at all (§ 40 Abs. 3 BMG).

The services run with a one-second sweep: published outbox rows (they carry criteria, Kennungen
and sealed answers) go after a second, a closed Vorgang keeps only its keys, and the register's
Identifikationsmerkmale go after their 48 hours. Then a search of every table of every schema
for the query's distinctive name finds only the § 40 entry, and for the self-logging authority
nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from services.register_mirror.app import service_name
from services.register_mirror.store import RegisterStore
from shared.contract.topics import Topics
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    database_url,
    eventually,
    stop_all,
)
from tests.retrieval import (
    HANNOVER,
    ask,
    deliver,
    delivery,
    delivery_log,
    person,
    publish,
    query,
    router_knows,
    tables_containing,
    tenant_state,
    token,
)

pytestmark = pytest.mark.integration
TOK = token()
PLAIN, SELF = f"T-min-plain-{TOK}", f"T-min-self-{TOK}"
ASKED = f"Unverwechselbar{TOK}"  # asked for by the plain authority
ASKED_SELF = f"Selbstprotokoll{TOK}"  # asked for by the self-logging authority
TWIN = f"Zwillingsmin{TOK}"
SWEEP = {
    "MELDESPIEGEL_PERSONAL_DATA_SWEEP_SECONDS": "1",
    "MELDESPIEGEL_PUBLISHED_OUTBOX_KEEP_SECONDS": "1",
}


@pytest.fixture(scope="module")
def services(artifacts: Path) -> Iterator[None]:
    procs = [
        ServiceProcess("services.query_router", artifacts / "router-minimisation.log", SWEEP),
        ServiceProcess("services.protocol_log", artifacts / "protocol-minimisation.log", SWEEP),
        ServiceProcess(
            "services.register_mirror",
            artifacts / "register03-minimisation.log",
            SWEEP | {"MELDESPIEGEL_REGISTER_STATE": "03"},
        ),
    ]
    for p in procs:
        p.start()
    yield
    stop_all(procs)


@pytest.fixture
async def db() -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url())
    yield conn
    await conn.close()


async def test_after_the_sweep_only_the_40_entry_knows_who_asked_for_whom(
    services: None, db: asyncpg.Connection
) -> None:
    d = delivery(
        HANNOVER,
        [
            person(f"A{TOK}", ASKED, ["Ida"], "19850505"),
            person(f"S{TOK}", ASKED_SELF, ["Ida"], "19850505"),
            person(f"Z1{TOK}", TWIN, ["Ida"], "19850505", strasse="Lindenallee"),
            person(f"Z2{TOK}", TWIN, ["Ida"], "19850505", strasse="Am Walde"),
        ],
    )
    async with RawProducer() as producer:
        states = [
            tenant_state(PLAIN),
            tenant_state(SELF, role="sicherheitsbehoerde", logging="eigenprotokollierung"),
        ]
        for state in states:
            await publish(producer, Topics.TENANT_STATE.name, state, state["tenant_id"])
        await deliver(producer, d)
        await delivery_log({d["delivery_id"]})
        await eventually(lambda: router_knows(db, [PLAIN, SELF]), "the router knows the tenants")
        kriterien = {"vornamen": "Ida", "geburtsdatum": "19850505"}
        plain = query(PLAIN, ags=[HANNOVER[0]], kriterien=kriterien | {"familienname": ASKED})
        own = query(SELF, ags=[HANNOVER[0]], kriterien=kriterien | {"familienname": ASKED_SELF})
        twins = query(PLAIN, ags=[HANNOVER[0]], kriterien=kriterien | {"familienname": TWIN})
        answers = await ask(producer, plain, own, twins)
    assert answers[plain["query_id"]]["ergebnisstatus"] == "01"
    assert answers[own["query_id"]]["protokoll"] == "self"
    assert answers[twins["query_id"]]["ergebnisstatus"] == "02"

    found: dict[str, list[str]] = {}

    def the_log(table: str) -> bool:  # the § 40 log, its day partitions included
        return table.startswith('"protocol_log"."protokoll')

    async def swept() -> bool:
        found[ASKED] = await tables_containing(db, ASKED)
        found[ASKED_SELF] = await tables_containing(db, ASKED_SELF)
        asked, own = found[ASKED], found[ASKED_SELF]
        return bool(asked) and all(the_log(t) for t in asked) and own == []

    try:
        await eventually(swept, "only the § 40 entry names a person asked for")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still found in {found}") from None
    # the log entry is there, with the Kennung and the criteria (§ 40 Abs. 1)
    entry = json.loads(
        await db.fetchval(
            "SELECT entry FROM protocol_log.protokoll WHERE vorgangsnummer = $1",
            answers[plain["query_id"]]["vorgangsnummer"],
        )
    )
    assert entry["kriterien"]["familienname"] == ASKED
    assert entry["kennung"] == "sachbearbeitung"
    # the router keeps the closed Vorgang's keys only, to recognise a query delivered again
    closed = await db.fetchrow(
        "SELECT query, status FROM query_router.vorgaenge WHERE query_id = $1", plain["query_id"]
    )
    assert (closed["query"], closed["status"]) == (None, "answered")

    # Identifikationsmerkmale: issued for the hit list, gone after their 48 hours (BMeldDAV § 9)
    nummer = answers[twins["query_id"]]["vorgangsnummer"]
    schema = service_name("03")
    conn = await asyncpg.connect(database_url(), server_settings={"search_path": schema})
    try:
        until = await conn.fetchval(
            "SELECT max(valid_until) FROM identifikationsmerkmale WHERE vorgangsnummer = $1",
            nummer,
        )
        assert until is not None
        store = RegisterStore(conn)
        mine = "SELECT count(*) FROM identifikationsmerkmale WHERE vorgangsnummer = $1"
        await store.forget_merkmale(until - timedelta(seconds=1))
        assert await conn.fetchval(mine, nummer) == 2  # still valid: kept
        await store.forget_merkmale(until + timedelta(seconds=1))
        assert await conn.fetchval(mine, nummer) == 0
    finally:
        await conn.close()
