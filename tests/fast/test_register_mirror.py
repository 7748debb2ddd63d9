"""A register on FastStream's in-memory broker: a municipality's delivery applied and logged, then
Personensuche, phonetic search, the hit list with Identifikationsmerkmale and the follow-up by
one, the neutral answer for a blocked person (§ 34a Abs. 5 BMG) with its hand-over, and the
freie Suche with a wildcard. Each test runs twice: with the in-memory store (whose searches
evaluate the store's SQL conditions in Python) and with the real PostgreSQL store (marked
integration), so that both give the same answers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from services.register_mirror.app import RegisterMirror, RegisterSettings
from shared.contract.topics import Topics
from shared.platform.pki import ANSWER_KEY
from shared.platform.sealed import load_private_key, open_sealed
from shared.platform.settings import get_settings
from tests.fakes.register_mirror import MemoryRegisterStore
from tests.helpers import database_url
from tests.inmemory import InMemory
from tests.retrieval import HANNOVER, delivery, person, query, token

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WATCH = (
    Topics.REGISTER_RESPONSE,
    Topics.REGISTER_DELIVERY_LOG,
    Topics.REGISTER_HANDOVER,
    Topics.REGISTER_BLOCK_NOTICE,
)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def register(request: pytest.FixtureRequest) -> InMemory:
    if request.param == "postgres":
        settings = RegisterSettings(database_url=database_url())
        return InMemory(RegisterMirror(settings, clock=lambda: NOW), *WATCH)
    store = MemoryRegisterStore()
    service = RegisterMirror(RegisterSettings(), clock=lambda: NOW)
    service.store = lambda conn: store
    return InMemory(service, *WATCH, stores=[store])


def register_request(**search: Any) -> dict[str, Any]:
    merkmal = search.pop("identifikationsmerkmal", None)
    body = query("T1", **search) | {
        "vorgangsnummer": f"03-{uuid.uuid4().hex[:20].upper()}",
        "zugangsart": "einfache_behoerdenauskunft",
        "datenumfang": "bmg_34_1_satz_1",
    }
    return body | ({"identifikationsmerkmal": merkmal} if merkmal else {})


async def answer(run: InMemory, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The register's response to one request, and the answer opened as the front end would."""
    await run.deliver(Topics.register_request("03"), body, key=body["vorgangsnummer"])
    [response] = [
        r for r in run.bodies(Topics.REGISTER_RESPONSE)
        if r["vorgangsnummer"] == body["vorgangsnummer"]
    ]  # fmt: skip
    key = load_private_key((get_settings().pki_dir / ANSWER_KEY).read_bytes())
    opened = json.loads(open_sealed(key, response["antwort"], body["vorgangsnummer"].encode()))
    return response, opened


async def test_searches_on_a_delivered_register(register: InMemory) -> None:
    tok = token()
    unique, twin, blocked = f"Weißmüller{tok}", f"Zwilling{tok}", f"Gesperrt{tok}"
    records = [
        person(f"OM-U-{tok}", unique, ["Johanna", "Maria"], "19800101"),
        person(f"OM-T1-{tok}", twin, ["Anna"], "19900202"),
        person(f"OM-T2-{tok}", twin, ["Anna"], "19900202", strasse="Am Walde"),
        person(f"OM-B-{tok}", blocked, ["Bernd"], "19700303",
               auskunftssperre={"bis": "2099-12-31"}),
    ]  # fmt: skip
    async with register as run:
        d = delivery(HANNOVER, records)
        await run.deliver(Topics.REGISTER_DELIVERY, d, key=HANNOVER[0])
        [logged] = run.bodies(Topics.REGISTER_DELIVERY_LOG)
        assert (logged["status"], logged["anzahl_datensaetze"]) == ("applied", 4)

        name = {"vornamen": "Johanna", "geburtsdatum": "19800101"}
        r, a = await answer(run, register_request(
            ags=[HANNOVER[0]], kriterien={"familienname": unique} | name))  # fmt: skip
        assert (r["ergebnisstatus"], a["person"]["familienname"]) == ("01", unique)
        assert r["treffer"] == [{"gemeindeschluessel": HANNOVER[0],
                                 "ordnungsmerkmal": f"OM-U-{tok}"}]  # fmt: skip

        # Kölner Phonetik: Weiszmüller sounds like Weißmüller
        r, _ = await answer(run, register_request(
            ags=[HANNOVER[0]], kriterien={"familienname": f"Weiszmüller{tok}"} | name,
            phonetisch=True))  # fmt: skip
        assert r["ergebnisstatus"] == "01"

        r, a = await answer(run, register_request(ags=[HANNOVER[0]], kriterien={
            "familienname": twin, "vornamen": "Anna", "geburtsdatum": "19900202"}))  # fmt: skip
        assert (r["ergebnisstatus"], r["anzahl"]) == ("02", 2)
        merkmal = a["trefferliste"][0]["identifikationsmerkmal"]
        r, a = await answer(run, register_request(
            ags=[HANNOVER[0]], identifikationsmerkmal=merkmal))  # fmt: skip
        assert r["ergebnisstatus"] == "01"
        assert a["person"]["familienname"] == twin

        r, a = await answer(run, register_request(ags=[HANNOVER[0]], kriterien={
            "familienname": blocked, "vornamen": "Bernd", "geburtsdatum": "19700303"}))  # fmt: skip
        assert (r["ergebnisstatus"], r["treffer"], r["anzahl"]) == ("03", [], 0)
        [handover] = run.bodies(Topics.REGISTER_HANDOVER)
        assert handover["ordnungsmerkmal"] == f"OM-B-{tok}"

        r, a = await answer(run, register_request(
            ags=[HANNOVER[0]], suchart="freie_suche",
            kriterien={"familienname": f"Zwill*{tok}", "geburtsdatum": "19900202"}))  # fmt: skip
        assert (r["ergebnisstatus"], r["anzahl"]) == ("04", 2)
        assert sorted(t["ordnungsmerkmal"] for t in r["treffer"]) == [f"OM-T1-{tok}",
                                                                      f"OM-T2-{tok}"]  # fmt: skip
