"""One query followed across every hop in OpenTelemetry: the front end sends it with its own W3C
`traceparent`; query_router, the register (Saarland, 10, which no other test runs) and
protocol_log each add a span for what they publish, as a child of what they consumed, and the
trace context travels in the outbox rows' headers, so the released answer belongs to the same
trace. FastStream's middleware traces each consumed batch and publish, linked to or nested in the
query's spans. The spans go over OTLP/HTTP to a receiver on loopback (`tools.traces`)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.contract.topics import Topics
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    database_url,
    eventually,
    headers_for,
    read_all,
    skip_backlog,
    stop_all,
)
from tests.retrieval import query, tenant_with_one_person, token
from tests.smtp import free_port
from tools.traces import Collector

pytestmark = pytest.mark.integration
TOK = token()
SAARBRUECKEN = ("10041100", "Saarbrücken", "66111")
PORT = free_port()


@pytest.fixture(scope="module")
async def collector() -> AsyncIterator[Collector]:
    found = Collector()
    server = await found.serve(PORT)
    yield found
    await server.end()


@pytest.fixture(scope="module")
def path(artifacts: Path, collector: Collector) -> Iterator[dict[str, ServiceProcess]]:
    traced = {
        "MELDESPIEGEL_TRACING": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{PORT}",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export within a fraction of a second
    }
    procs = {
        "router": ServiceProcess("services.query_router", artifacts / "router-traced.log", traced),
        "register": ServiceProcess(
            "services.register_mirror",
            artifacts / "register-traced.log",
            traced | {"MELDESPIEGEL_REGISTER_STATE": "10"},
        ),
        "protocol": ServiceProcess(
            "services.protocol_log", artifacts / "protocol-traced.log", traced
        ),
    }
    skip_backlog("query_router", "register_mirror_10", "protocol_log")
    for p in procs.values():
        p.start()
    yield procs
    stop_all(list(procs.values()))


async def test_one_query_is_one_trace_from_the_front_end_to_the_released_answer(
    path: dict[str, ServiceProcess], collector: Collector
) -> None:
    tenant = f"T-traced-{TOK}"
    db = await asyncpg.connect(database_url())
    try:
        async with RawProducer() as producer:
            await tenant_with_one_person(
                producer, db, tenant, SAARBRUECKEN, f"S{TOK}", f"Becker{TOK}"
            )
            trace_id, front_span = secrets.token_hex(16), secrets.token_hex(8)
            q = query(
                tenant,
                ags=[SAARBRUECKEN[0]],
                kriterien={"familienname": f"Becker{TOK}", "vornamen": "Ida",
                           "geburtsdatum": "19850505"},
            )  # fmt: skip
            headers = headers_for(Topics.QUERY_REQUESTED.event_type)
            headers.append(("traceparent", f"00-{trace_id}-{front_span}-01".encode()))
            await producer.send(Topics.QUERY_REQUESTED.name, q, key=q["query_id"], headers=headers)
    finally:
        await db.close()
    [released] = [
        r
        for r in await read_all(
            Topics.QUERY_DELIVERED.name, until=lambda rs: any(r.key == q["query_id"] for r in rs)
        )
        if r.key == q["query_id"]
    ]
    assert released.json()["ausgang"] == "answered"
    # the released answer carries the query's trace on to whoever reads it
    assert released.headers["traceparent"].split("-")[1] == trace_id

    released_span = released.headers["traceparent"].split("-")[2]

    def batches() -> list:
        return [
            s
            for s in collector.spans
            if s.service == "query_router" and s.name == "min.register.response.v1 create"
        ]

    def complete() -> list | None:
        """The trace once every process has exported what it recorded (each on its own
        schedule): every hop, every parent, the released answer's span, the linked batch."""
        spans = collector.trace(trace_id)
        ids = {s.span_id for s in spans} | {front_span}
        in_trace = {(trace_id, i) for i in ids}
        whole = (
            {"query_router", "register_mirror_10", "protocol_log"} <= {s.service for s in spans}
            and all(s.parent_id in ids for s in spans)
            and released_span in ids
            and any(in_trace & set(b.links) for b in batches())
        )
        return spans if whole else None

    spans = await eventually(complete, "the query's whole trace from every hop", seconds=30)
    ids = {s.span_id for s in spans} | {front_span}
    # one connected tree under the front end's span: no hop started a trace of its own
    assert all(s.parent_id in ids for s in spans), [(s.name, s.parent_id) for s in spans]
    names = {s.name for s in spans}
    assert "query_router → min.register.request.10.v1" in names
    assert "protocol_log → min.query.delivered.v1" in names
    # the released answer's context: FastStream's span of the relay's publish, within
    # protocol_log's span for the answer
    [delivered] = [s for s in spans if s.name == "protocol_log → min.query.delivered.v1"]
    [created] = [s for s in spans if s.span_id == released_span]
    assert created.parent_id == delivered.span_id
    # FastStream's middleware traced the batch in which the router took the register's answer
    # (its span for the batch), linked to the register's publish in the query's trace: it links
    # the records that carry its `correlation_id` header, as the services' own events do
    in_trace = {(trace_id, s.span_id) for s in spans}
    assert any(in_trace & set(b.links) for b in batches()), [b.links for b in batches()]
