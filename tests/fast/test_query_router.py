"""query_router's handlers on FastStream's TestKafkaBroker with the in-memory store: tenant states
in, queries authorised and routed to their state's register, refusals with their reason, the
registers' answers handed on, a register that does not answer in time, the sweep of closed
Vorgänge (§ 40 BMG keeps the query, the router does not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.query_router.app import QueryRouter, RouterSettings
from shared.contract.topics import Topics
from tests.fakes.query_router import MemoryRouterStore
from tests.inmemory import InMemory
from tests.retrieval import HANNOVER, KOELN, MUENCHEN, query, tenant_state

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KRITERIEN = {"familienname": "Weißmüller", "vornamen": "Jördis", "geburtsdatum": "19800101"}
WATCH = (
    Topics.register_request("03"),
    Topics.register_request("09"),
    Topics.register_request("05"),
    Topics.QUERY_ANSWERED,
    Topics.QUERY_REJECTED,
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def router(store: MemoryRouterStore, clock: Clock) -> InMemory:
    service = QueryRouter(RouterSettings(register_timeout_seconds=30), clock=clock)
    service.store = lambda conn: store
    return InMemory(service, *WATCH, stores=[store])


async def ask(run: InMemory, body: dict[str, Any]) -> None:
    await run.deliver(Topics.QUERY_REQUESTED, body, key=body["query_id"])


async def test_an_authorised_query_goes_to_its_states_register_once() -> None:
    store, clock = MemoryRouterStore(), Clock()
    async with router(store, clock) as run:
        await run.deliver(Topics.TENANT_STATE, tenant_state("T1"), key="T1")
        q = query("T1", ags=[HANNOVER[0]], kriterien=KRITERIEN)
        await ask(run, q)
        await ask(run, q)  # delivered again as a new event: taken on once
        await ask(run, query("T1", ags=[MUENCHEN[0]], kriterien=KRITERIEN))
    [to_03] = run.bodies(Topics.register_request("03"))
    [to_09] = run.bodies(Topics.register_request("09"))
    assert to_03["vorgangsnummer"].startswith("03-")
    assert to_03["anfragende"]["kennung"] == "sachbearbeitung"
    assert to_09["gemeindeschluessel"] == [MUENCHEN[0]]
    assert run.bodies(Topics.QUERY_REJECTED) == []
    assert len(store.vorgaenge) == 2


async def test_refusals_carry_their_reason_and_keep_no_query() -> None:
    store, clock = MemoryRouterStore(), Clock()
    async with router(store, clock) as run:
        await run.deliver(Topics.TENANT_STATE, tenant_state("T1", status="suspended"), key="T1")
        await ask(run, query("T1", ags=[HANNOVER[0]], kriterien=KRITERIEN))
        await ask(run, query("T-unknown", ags=[HANNOVER[0]], kriterien=KRITERIEN))
    reasons = [r["nichterstellung"]["grund"] for r in run.bodies(Topics.QUERY_REJECTED)]
    assert reasons == ["MANDANT_GESPERRT", "MANDANT_UNBEKANNT"]
    assert all(row.vorgang is None for row in store.vorgaenge.values())  # nothing but keys


async def test_an_older_tenant_state_arriving_late_changes_nothing() -> None:
    store, clock = MemoryRouterStore(), Clock()
    async with router(store, clock) as run:
        await run.deliver(Topics.TENANT_STATE, tenant_state("T1", version=2), key="T1")
        await run.deliver(
            Topics.TENANT_STATE, tenant_state("T1", status="suspended", version=1), key="T1"
        )
        await ask(run, query("T1", ags=[HANNOVER[0]], kriterien=KRITERIEN))
    assert store.tenants_by_id["T1"].version == 2
    assert len(run.bodies(Topics.register_request("03"))) == 1


async def test_a_register_that_does_not_answer_gives_the_technical_error_then_closes() -> None:
    store, clock = MemoryRouterStore(), Clock()
    async with router(store, clock) as run:
        await run.deliver(Topics.TENANT_STATE, tenant_state("T1"), key="T1")
        await ask(run, query("T1", ags=[KOELN], kriterien=KRITERIEN))
        clock.now = START + timedelta(seconds=29)
        await run.service.expire()
        assert run.bodies(Topics.QUERY_REJECTED) == []  # not yet
        clock.now = START + timedelta(seconds=31)
        await run.service.expire()
        await run.service.expire()  # once
        clock.now = START + timedelta(days=8)
        await run.service.forget()
    [timed_out] = run.bodies(Topics.QUERY_REJECTED)
    assert timed_out["nichterstellung"]["code"] == "16"
    assert store.vorgaenge == {}  # the closed Vorgang swept after its keeping time
