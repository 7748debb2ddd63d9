"""A service's Prometheus endpoint on the real broker: FastStream's message metrics, consumer lag
and dead letters, and the health probe."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from shared.contract.topics import Topics
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    eventually,
    headers_for,
    skipped_backlog,
    stop_all,
)
from tests.retrieval import HANNOVER, publish, query, token
from tests.smtp import free_port

pytestmark = pytest.mark.integration


async def test_metrics_and_health_of_a_running_service(artifacts: Path) -> None:
    port = free_port()
    await skipped_backlog("query_router")
    router = ServiceProcess(
        "services.query_router",
        artifacts / "router-metrics.log",
        # the lag is refreshed every second here, so that the test need not wait 15 s for it
        {"MELDESPIEGEL_METRICS_PORT": str(port), "MELDESPIEGEL_CONSUMER_LAG_SECONDS": "1"},
    ).start()
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:

            async def healthy() -> bool:
                try:
                    return (await http.get("/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(healthy, "the router reports healthy")
            async with RawProducer() as producer:
                q = query(f"T-unknown-{token()}", ags=[HANNOVER[0]])
                await publish(producer, Topics.QUERY_REQUESTED.name, q, q["query_id"])
                await producer.send(
                    Topics.QUERY_REQUESTED.name,
                    b"\xff not json",
                    key=f"poison-{token()}",
                    headers=headers_for(Topics.QUERY_REQUESTED.event_type),
                )

            def value(text: str, pattern: str) -> float:
                m = re.search(pattern + r" ([0-9.e+]+)$", text, re.MULTILINE)
                return float(m.group(1)) if m else 0.0

            async def scraped() -> str | None:
                text = (await http.get("/metrics")).text
                dead = value(
                    text,
                    r'meldespiegel_dead_letters_total\{error_type="UndecodableEvent",'
                    r'topic="min.query.requested.v1"\}',
                )
                return text if dead >= 1 and "meldespiegel_consumer_lag{" in text else None

            text = await eventually(scraped, "dead letter and lag in the metrics", 60)
            assert re.search(
                r'meldespiegel_received_messages_total\{app_name="query_router".*'
                r'handler="min.query.requested.v1"',
                text,
            )
            assert (
                'meldespiegel_consumer_lag{group="query_router",partition="0",topic="min.query.requested.v1"}'
                in text
            )
            assert (await http.get("/nothing")).status_code == 404
    finally:
        stop_all([router])
