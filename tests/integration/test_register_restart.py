"""A register killed with SIGKILL in the middle of a burst of 2,000 queries and restarted after
an outage of several seconds. The register joins its group as a static member
(`MELDESPIEGEL_INSTANCE_ID`, group.instance.id): its partitions wait for it instead of
going through a rebalance, and the restarted process takes them back at once. The router's
deadline leaves room for the outage and the backlog, so that no query ends with 16
TECHNISCHER_FEHLER, and every query is answered once.

It runs the register of Hessen (06), which no other test runs: a static member that stopped
keeps its partitions waiting for the session timeout, which would delay another module's
register of the same state."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.helpers import (
    RawProducer,
    ServiceProcess,
    database_url,
    eventually,
    skip_backlog,
    stop_all,
)
from tests.retrieval import ReleasedAnswers, burst, tenant_with_one_person, token

pytestmark = pytest.mark.integration
N = 2000
OUTAGE_S = 8.0
TOK = token()
WIESBADEN = ("06414000", "Wiesbaden", "65183")


@pytest.fixture(scope="module")
def path(artifacts: Path) -> Iterator[dict[str, ServiceProcess]]:
    procs = {
        "router": ServiceProcess("services.query_router", artifacts / "router-restart.log"),
        "register": ServiceProcess(
            "services.register_mirror",
            artifacts / "register-restart.log",
            {
                "MELDESPIEGEL_REGISTER_STATE": "06",
                "MELDESPIEGEL_INSTANCE_ID": "register_06-restart-test",
                # the register logs each answer at debug level, not per event at info
                "MELDESPIEGEL_LOG_LEVEL": "DEBUG",
            },
        ),
        "protocol": ServiceProcess("services.protocol_log", artifacts / "protocol-restart.log"),
    }
    skip_backlog("query_router", "register_mirror_06", "protocol_log")
    for p in procs.values():
        p.start()
    yield procs
    stop_all(list(procs.values()))


async def test_a_register_restarted_mid_burst_causes_no_technical_error(
    path: dict[str, ServiceProcess],
) -> None:
    tenant = f"T-restart-{TOK}"
    answers = ReleasedAnswers(tenant)
    task = asyncio.create_task(answers.run())
    db = await asyncpg.connect(database_url())
    try:
        async with RawProducer() as producer:
            await tenant_with_one_person(producer, db, tenant, WIESBADEN, f"W{TOK}", f"Wagner{TOK}")
            await asyncio.wait_for(answers.ready.wait(), 30)
            answered = path["register"].log_text().count('"request answered"')  # log appends
            queries = await burst(producer, tenant, WIESBADEN, f"Wagner{TOK}", N)
        # killed once the register itself has answered a quarter: released answers lag behind
        # the register's, so counting those could let the whole burst be answered before the kill
        await eventually(
            lambda: path["register"].log_text().count('"request answered"') >= answered + N // 4,
            "the register answered a quarter",
        )
        path["register"].kill()
        killed_at, answered_at_kill = time.monotonic(), len(answers.codes)
        await asyncio.sleep(OUTAGE_S)
        path["register"].start()
        restarted_at = time.monotonic()
        await eventually(lambda: len(answers.codes) >= N, f"all {N} answers", 240)

        wanted = {q["query_id"] for q in queries}
        assert set(answers.codes) == wanted
        codes = Counter(answers.codes.values())
        after_restart = [t for t in answers.at.values() if t > restarted_at]
        back_in = min(after_restart) - restarted_at if after_restart else float("nan")
        print(
            f"\n[register restart] SIGKILL after {answered_at_kill} of {N} answers, "
            f"down {restarted_at - killed_at:.1f} s; first answer {back_in:.1f} s after the "
            f"restart; all answered {max(answers.at.values()) - restarted_at:.1f} s after it; "
            f"outcomes {dict(codes)}"
        )
        assert codes["16"] == 0, f"{codes['16']} technical errors"
        # each query answered exactly once: one protocol entry each
        entries = await db.fetchval(
            "SELECT count(*) FROM protocol_log.protokoll WHERE tenant_id = $1", tenant
        )
        assert entries == N
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await db.close()
