"""The dashboard against records it cannot read and across a restart (real broker): a record
nested past the recursion limit or not UTF-8 is skipped and counted while the page stays healthy,
and a restart takes the newest checkpoint and reads on from its positions, including what arrived
while the dashboard was down."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.dashboard.domain import Dashboard
from shared.contract.events.betrieb import DashboardCheckpoint
from shared.contract.topics import Topics
from tests.helpers import RawProducer, ServiceProcess, eventually, read_all, stop_all
from tests.retrieval import publish
from tests.smtp import free_port

pytestmark = pytest.mark.integration
DECIDED = Topics.REVIEW_DECIDED.name


def pending(application_id: str) -> dict[str, Any]:
    return {
        "application_id": application_id,
        "authority_name": "Zweckverband Leine",
        "needed": [{"code": "OTHER_PUBLIC_BODY", "text": "…", "provisions": []}],
        "pending_since": "2099-12-31T20:00:00+00:00",
    }


async def state(port: int) -> dict[str, Any] | None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        try:
            if (await http.get("/health")).status_code != 200:
                return None
            return (await http.get("/state")).json()
        except httpx.TransportError:
            return None


def shows(port: int, application_id: str) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    """The page's state once it lists `application_id` as pending and has read everything."""

    async def check() -> dict[str, Any] | None:
        s = await state(port)
        ids = {p["application_id"] for p in (s or {}).get("pending_reviews", [])}
        return s if s and application_id in ids and s["behind"] == 0 else None

    return check


async def test_unreadable_records_are_skipped_and_a_restart_reads_on_from_the_checkpoint(
    artifacts: Path,
) -> None:
    run = uuid.uuid4().hex[:8]
    reader = f"dashboard-test-{run}"
    port = free_port()
    env = {
        "MELDESPIEGEL_DASHBOARD_PORT": str(port),
        "MELDESPIEGEL_DASHBOARD_READER": reader,
        "MELDESPIEGEL_DASHBOARD_CHECKPOINT_SECONDS": "1",
    }
    log = artifacts / f"dashboard-checkpoint-{run}.log"
    first, second = f"DASH-A-{run}", f"DASH-B-{run}"
    async with RawProducer() as producer:
        depth = 50_000
        await producer.send(DECIDED, b'{"a": ' + b"[" * depth + b"]" * depth + b"}", key=run)
        await producer.send(DECIDED, b"\xff\xfe not text", key=run)
        await publish(producer, Topics.REVIEW_PENDING_MANUAL.name, pending(first), first)

    dashboard = ServiceProcess("services.dashboard", log, env).start()
    try:
        before = await eventually(shows(port, first), "the page read past both unreadable records")
        assert before["unreadable"].get(DECIDED, 0) >= 2

        def mine(records: list[Any]) -> bool:
            return any(r.key == reader for r in records)

        await read_all(Topics.DASHBOARD_CHECKPOINT.name, until=mine)
    finally:
        stop_all([dashboard])

    # the newest checkpoint of this reader holds a usable fold and how far it had read
    checkpoints = [
        r for r in await read_all(Topics.DASHBOARD_CHECKPOINT.name, until=mine) if r.key == reader
    ]
    newest = DashboardCheckpoint.model_validate(json.loads(checkpoints[-1].value))
    assert first in Dashboard.restored(newest.state).pending
    assert any(ref.startswith(Topics.REVIEW_PENDING_MANUAL.name) for ref in newest.positions)
    assert any(ref.startswith(DECIDED) for ref in newest.positions)  # read past the poison

    async with RawProducer() as producer:  # while the dashboard is down
        await publish(producer, Topics.REVIEW_PENDING_MANUAL.name, pending(second), second)

    dashboard = ServiceProcess("services.dashboard", log, env).start()
    try:
        after = await eventually(shows(port, second), "the page read on after the restart")
        assert first in {p["application_id"] for p in after["pending_reviews"]}
        # restored, not read again from the beginning: the skipped records are not counted twice
        assert after["unreadable"].get(DECIDED, 0) == before["unreadable"].get(DECIDED, 0)
        assert "read model restored" in log.read_text()
    finally:
        stop_all([dashboard])
