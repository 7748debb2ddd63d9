"""protocol_log on FastStream's in-memory broker: an answer is logged in its chain before it is
released (§ 40 BMG), once under redelivery; a commissioned authority's entries go to a chain of
their own; a self-logging authority gets its entry handed over and the operator keeps none
(§ 40 Abs. 3); the chains are signed and verify; the evaluation rule on one person fires; the
minute's metrics are published once. Each test runs twice: with the in-memory store and with the
real PostgreSQL store (marked integration)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.protocol_log import service as protocol
from services.protocol_log.api import routes
from services.protocol_log.app import ProtocolLog, ProtocolSettings
from shared.contract.events.account import OperatorRole
from shared.contract.topics import Topics
from tests import identities
from tests.fakes.protocol_log import MemoryProtocolStore
from tests.helpers import database_url
from tests.inmemory import InMemory
from tests.retrieval import answered

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
WATCH = (
    Topics.QUERY_DELIVERED,
    Topics.GATEWAY_RELEASED,
    Topics.PROTOCOL_SELF_LOGGING,
    Topics.PROTOCOL_ALERTS,
    Topics.PROTOCOL_METRICS,
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def log(request: pytest.FixtureRequest) -> tuple[InMemory, Clock]:
    clock = Clock()
    settings = {"alert_same_subject": 3}
    if request.param == "postgres":
        service = ProtocolLog(
            ProtocolSettings(database_url=database_url(), **settings), clock=clock
        )
        return InMemory(service, *WATCH), clock
    store = MemoryProtocolStore()
    service = ProtocolLog(ProtocolSettings(**settings), clock=clock)
    service.store = lambda conn: store
    return InMemory(service, *WATCH, stores=[store]), clock


async def test_logged_then_released_per_chain_signed_evaluated_and_counted(
    log: tuple[InMemory, Clock],
) -> None:
    run, clock = log
    tenant = f"T-{uuid.uuid4().hex[:8]}"
    subject = f"P-{uuid.uuid4().hex[:8]}"
    async with run:
        first = answered(START, tenant=tenant, treffer=subject)
        envelope = await run.deliver(Topics.QUERY_ANSWERED, first, key=first.vorgangsnummer)
        await run.deliver(
            Topics.QUERY_ANSWERED, first, key=first.vorgangsnummer, event_id=envelope.id
        )  # the same event again: logged and released once
        for _ in range(2):  # the same person twice more: the rule's third retrieval
            again = answered(START, tenant=tenant, treffer=subject)
            await run.deliver(Topics.QUERY_ANSWERED, again, key=again.vorgangsnummer)
        commissioned = answered(START, tenant=tenant, protokollierung="commissioned")
        await run.deliver(Topics.QUERY_ANSWERED, commissioned, key=commissioned.vorgangsnummer)
        self_logged = answered(START, tenant=tenant, protokollierung="self")
        await run.deliver(Topics.QUERY_ANSWERED, self_logged, key=self_logged.vorgangsnummer)

        await run.service.checkpoint()
        clock.now = START + timedelta(minutes=2)
        await run.service.publish_metrics()
        await run.service.publish_metrics()  # a minute is published once

        async def verified() -> dict[str, list[str]]:
            async def effect(conn: object) -> tuple[dict[str, list[str]], list[object]]:
                store = run.service.store(conn)
                return await protocol.verify(store, run.service.signature_ok), []

            findings, _ = await run.service.messaging.run(effect)  # type: ignore[arg-type]
            return findings

        findings = await verified()

    delivered = {d["vorgangsnummer"]: d for d in run.bodies(Topics.QUERY_DELIVERED)}
    assert len(run.bodies(Topics.QUERY_DELIVERED)) == 5 == len(delivered)
    assert delivered[first.vorgangsnummer]["protokoll"].startswith("operator:")
    assert delivered[commissioned.vorgangsnummer]["protokoll"].startswith(f"tenant:{tenant}:")
    assert delivered[self_logged.vorgangsnummer]["protokoll"] == "self"
    [handed_over] = run.bodies(Topics.PROTOCOL_SELF_LOGGING)
    assert handed_over["vorgangsnummer"] == self_logged.vorgangsnummer
    assert any(a["rule"] == "repeated_subject" for a in run.bodies(Topics.PROTOCOL_ALERTS))
    mine = [m for m in run.bodies(Topics.PROTOCOL_METRICS) if m["tenant_id"] == tenant]
    assert [m["total"] for m in mine] == [5]
    assert findings["operator"] == [] and findings[f"tenant:{tenant}"] == []  # noqa: PT018


async def test_another_states_answer_is_released_to_its_gateway_after_its_entry(
    log: tuple[InMemory, Clock],
) -> None:
    """§ 39 Abs. 3, § 40 BMG: logged for the tenant Land NN like every retrieval, then released
    to land_gateway (sealed for that state's front end: nothing for this state's)."""
    run, _ = log
    land = f"L09-{uuid.uuid4().hex[:8]}"
    async with run:
        event = answered(START, tenant=land)
        forwarded = event.query.model_copy(
            update={"antwortschluessel": "7f" * 32, "antwortkontext": "09-20261205-X"}
        )
        event = event.model_copy(update={"query": forwarded})
        await run.deliver(Topics.QUERY_ANSWERED, event, key=event.vorgangsnummer)
    assert run.bodies(Topics.QUERY_DELIVERED) == []
    [released] = run.bodies(Topics.GATEWAY_RELEASED)
    assert released["vorgangsnummer"] == event.vorgangsnummer
    assert released["protokoll"].startswith("operator:")


async def test_the_read_api_names_the_reader_from_the_token_alone(
    log: tuple[InMemory, Clock],
) -> None:
    """§ 40 Abs. 5 Satz 3 BMG: an authority evaluates its own retrievals, never another's; the
    read is logged with the reader the token proves, whatever the body claims."""
    run, clock = log
    a, b = f"T-{uuid.uuid4().hex[:8]}", f"T-{uuid.uuid4().hex[:8]}"
    async with run:
        own = answered(START, tenant=a, protokollierung="commissioned")
        operator_kept = answered(START, tenant=a)
        other = answered(START, tenant=b, protokollierung="commissioned")
        for event in (own, operator_kept, other):
            await run.deliver(Topics.QUERY_ANSWERED, event, key=event.vorgangsnummer)
        api = httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=run.service.app.as_asgi(asgi_routes=routes(run.service))
            ),
            base_url="http://protocol-log",
        )
        token_a, _ = identities.tenant_user(a, clock.now)
        read = {"purpose": "datenschutzkontrolle"}

        async def post(token: str | None, body: dict) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return await api.post("/protocol/read", json=body, headers=headers)

        mine = await post(token_a, read)
        assert mine.status_code == 200
        assert {e["vorgangsnummer"] for e in mine.json()["entries"]} == {
            own.vorgangsnummer,
            operator_kept.vorgangsnummer,
        }
        assert (await post(token_a, read | {"tenant_id": b})).status_code == 403
        # a reader named in the body is no longer heard at all
        claimed = await post(token_a, read | {"reader": f"tenant:{b}"})
        assert claimed.status_code == 400
        assert (await post(None, read)).status_code == 401
        forged = token_a[:-4] + ("AAAA" if not token_a.endswith("AAAA") else "BBBB")
        assert (await post(forged, read)).status_code == 401
        user_token, _ = identities.tenant_user(a, clock.now, admin=False)
        assert (await post(user_token, read)).status_code == 403
        evaluator, _ = identities.tenant_user(a, clock.now, admin=False, auswertung=True)
        assert (await post(evaluator, read)).status_code == 200

        csv_answer = await post(token_a, read | {"format": "csv", "kennung": "sachbearbeitung"})
        assert csv_answer.headers["content-type"].startswith("text/csv")
        header, *rows = csv_answer.text.splitlines()
        assert header.startswith("chain,seq,vorgangsnummer,tenant_id,kennung")
        assert sorted(r.split(",")[2] for r in rows) == sorted(
            [own.vorgangsnummer, operator_kept.vorgangsnummer]
        )
        nobody = await post(token_a, read | {"kennung": "somebody-else"})
        assert nobody.json()["entries"] == []

        dsb, _ = identities.operator(OperatorRole.DATENSCHUTZ, clock.now, "dsb")
        operator_view = await post(dsb, read)
        assert {e["vorgangsnummer"] for e in operator_view.json()["entries"]} >= {
            operator_kept.vorgangsnummer
        }
        assert own.vorgangsnummer not in {
            e["vorgangsnummer"] for e in operator_view.json()["entries"]
        }  # the commissioned chain is the authority's
        verify_as_tenant = await api.get(
            "/protocol/verify", headers={"Authorization": f"Bearer {token_a}"}
        )
        assert verify_as_tenant.status_code == 403
        verify_as_dsb = await api.get(
            "/protocol/verify", headers={"Authorization": f"Bearer {dsb}"}
        )
        assert verify_as_dsb.status_code == 200

        readers = await _read_log(run)
        assert f"tenant:{a}/admin.{a[:8]}" in readers
        assert "operator:dsb" in readers
        assert not any(b in r for r in readers)


async def _read_log(run: InMemory) -> list[str]:
    stores = run.stores or []
    if stores:
        return [r[0] for r in stores[0].read_log]
    async with run.service.messaging.pool.acquire() as conn:
        return [r["reader"] for r in await conn.fetch("SELECT reader FROM read_log")]
