"""The dashboard's reading loop and its page without Kafka: records handed to the loop as a
consumer would fetch them are folded into the read model (an unreadable one counted, not
fatal), positions and lag are kept, a checkpoint with them is published, and `/state`,
`/events` and `/health` serve what was read."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka import TopicPartition

from services.dashboard.app import DashboardService, DashboardSettings
from shared.contract.events.betrieb import DashboardCheckpoint
from shared.contract.topics import Topics
from tests.helpers import eventually

METRICS = Topics.PROTOCOL_METRICS.name


@dataclass
class Fetched:
    topic: str
    partition: int
    offset: int
    value: bytes | None


class Consumer:
    """Hands out the given records in one fetch, then nothing; a partition's end is its last."""

    def __init__(self, records: list[Fetched]) -> None:
        self.records = records
        self.positions: dict[TopicPartition, int] = {}

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[Fetched]]:
        batch: dict[TopicPartition, list[Fetched]] = {}
        for r in self.records:
            tp = TopicPartition(r.topic, r.partition)
            batch.setdefault(tp, []).append(r)
            self.positions[tp] = r.offset + 1
        self.records = []
        await asyncio.sleep(0.01)
        return batch

    async def end_offsets(self, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.positions.get(tp, 0) + (1 if tp.partition == 1 else 0) for tp in parts}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions.get(tp, 0)


class Client:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, value: bytes, *_: Any) -> tuple[int, int]:
        self.published.append((topic, value))
        return 0, len(self.published)


def metrics(minute: str, total: int) -> bytes:
    return json.dumps({
        "tenant_id": "T-1", "minute": minute, "total": total,
        "counts": {"eindeutig": total - 1, "abgelehnt": 1},
        "latency_ms_p50": 30.0, "latency_ms_p95": 70.0, "latency_ms_p99": 90.0,
        "latency_ms_max": 95.0,
    }).encode()  # fmt: skip


async def test_the_loop_folds_counts_unreadable_keeps_positions_and_checkpoints() -> None:
    dashboard = DashboardService(DashboardSettings(dashboard_checkpoint_seconds=0))
    consumer, client = Consumer([
        Fetched(METRICS, 0, 0, metrics("2026-11-30T09:00:00+00:00", 12)),
        Fetched(METRICS, 0, 1, b"{not json"),
        Fetched(METRICS, 1, 0, metrics("2026-11-30T09:01:00+00:00", 8)),
    ]), Client()  # fmt: skip
    positions: dict[str, int] = {}
    parts = [TopicPartition(METRICS, 0), TopicPartition(METRICS, 1)]
    loop = asyncio.create_task(
        dashboard._follow(consumer, client, parts, positions)  # type: ignore[arg-type]
    )
    await eventually(
        lambda: len(positions) == 2 and client.published, "the records folded and checkpointed"
    )
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop

    state = dashboard.state.snapshot()
    assert state["queries_total"] == 20
    assert [m["total"] for m in state["minutes"]] == [12, 8]
    assert state["unreadable"] == {METRICS: 1}
    assert state["behind"] == 1  # partition 1 has one record still to read
    assert positions == {f"{METRICS}/0": 2, f"{METRICS}/1": 1}
    checkpoint = DashboardCheckpoint.model_validate_json(client.published[-1][1])
    assert client.published[-1][0] == Topics.DASHBOARD_CHECKPOINT.name
    assert checkpoint.positions == positions


async def test_the_page_serves_what_was_read() -> None:
    dashboard = DashboardService()
    dashboard.state.apply(METRICS, json.loads(metrics("2026-11-30T09:00:00+00:00", 5)))
    transport = httpx.ASGITransport(app=dashboard)
    async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as http:
        state = (await http.get("/state")).json()
        assert state["queries_total"] == 5
        health = await http.get("/health")
        assert (health.status_code, health.json()["status"]) == (503, "starting")  # not reading
        dashboard.reading = True
        assert (await http.get("/health")).status_code == 200
        page = await http.get("/")
        assert page.headers["content-type"].startswith("text/html")
        assert (await http.post("/state")).status_code == 405
