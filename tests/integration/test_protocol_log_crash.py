"""protocol_log killed with SIGKILL in the middle of a burst of queries. Afterwards every query
has exactly one protocol entry and one released answer, and a watcher that checked each released
answer the moment it appeared never saw one whose entry was missing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.contract.topics import Topics
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    database_url,
    eventually,
    read_to_end,
    skip_backlog,
    stop_all,
)
from tests.retrieval import HANNOVER, burst, follow_released, tenant_with_one_person, token

pytestmark = pytest.mark.integration
N = 300
TOK = token()


@pytest.fixture(scope="module")
def path_processes(artifacts: Path) -> Iterator[dict[str, ServiceProcess]]:
    procs = {
        "router": ServiceProcess("services.query_router", artifacts / "router-crash.log"),
        "register": ServiceProcess("services.register_mirror", artifacts / "register-crash.log"),
        "protocol": ServiceProcess("services.protocol_log", artifacts / "protocol-crash.log"),
    }
    skip_backlog("query_router", "register_mirror_03", "protocol_log")
    for p in procs.values():
        p.start()
    yield procs
    stop_all(list(procs.values()))


class Watcher:
    """Reads released answers as they appear and checks at once that each has its entry."""

    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db
        self.seen: dict[str, set[str]] = {}  # query id -> event ids of its releases
        self.missing: list[str] = []
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def run(self) -> None:
        await follow_released(self.ready, f"T-crash-{TOK}", self.check)

    async def check(self, released: dict[str, Any], headers: dict[str, str]) -> None:
        entry = await self.db.fetchval(
            "SELECT count(*) FROM protocol_log.protokoll WHERE vorgangsnummer = $1",
            released["vorgangsnummer"],
        )
        if entry != 1:
            self.missing.append(released["vorgangsnummer"])
        self.seen.setdefault(released["query_id"], set()).add(headers["ce_id"])


async def test_sigkill_during_a_burst(path_processes: dict[str, ServiceProcess]) -> None:
    tenant = f"T-crash-{TOK}"
    db = await asyncpg.connect(database_url())
    watcher = Watcher(db)
    try:
        async with RawProducer() as producer:
            await tenant_with_one_person(producer, db, tenant, HANNOVER, f"K{TOK}", f"Kranich{TOK}")
            watcher.task = asyncio.create_task(watcher.run())
            await asyncio.wait_for(watcher.ready.wait(), 30)
            queries = await burst(producer, tenant, HANNOVER, f"Kranich{TOK}", N)
        # killed once protocol_log itself has logged a sixth (the released answers the watcher
        # reads lag behind); it logs in batches, so the kill may land after the whole burst is
        # logged but not yet released: the restarted process must then release from its outbox
        count = await asyncpg.connect(database_url())  # the watcher's connection is busy
        try:
            logged = "SELECT count(*) FROM protocol_log.protokoll WHERE tenant_id = $1"
            deadline = asyncio.get_running_loop().time() + 90
            while await count.fetchval(logged, tenant) < N // 6:
                assert asyncio.get_running_loop().time() < deadline, "nothing logged in 90 s"
                await asyncio.sleep(0.005)
            path_processes["protocol"].kill()
            logged_at_kill = await count.fetchval(logged, tenant)
        finally:
            await count.close()
        released_at_kill = len(watcher.seen)
        path_processes["protocol"].start()
        await eventually(lambda: len(watcher.seen) >= N, f"all {N} answers released", 180)
        await eventually(path_processes["protocol"].started, "the restarted protocol_log is up")
        wanted = {q["query_id"] for q in queries}
        assert set(watcher.seen) == wanted
        assert watcher.missing == []
        # everything on the topic now: a release republished after the crash carries the same
        # event id, so each query has exactly one release
        releases: dict[str, set[str]] = {}
        for r in await read_to_end(Topics.QUERY_DELIVERED.name):
            if r.key in wanted:
                releases.setdefault(r.key, set()).add(r.headers["ce_id"])
        assert set(releases) == wanted
        assert all(len(ids) == 1 for ids in releases.values())
        entries = await db.fetchval(
            "SELECT count(*) FROM protocol_log.protokoll WHERE tenant_id = $1", tenant
        )
        assert entries == N
        print(
            f"\n[crash] killed after {logged_at_kill} entries and {released_at_kill} releases "
            f"seen of {N}; {entries} entries"
        )
    finally:
        if watcher.task:
            watcher.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher.task
        await db.close()
