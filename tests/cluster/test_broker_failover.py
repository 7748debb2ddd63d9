"""On a three-broker Kafka cluster (`deploy/local/stack.sh up --profile cluster`: topics with
3 replicas and min.insync.replicas=2) with every service of the query path and of the access
path running as two replicas with static group membership: a burst of queries and applications,
one broker killed with SIGKILL in the middle of it and started again, and one replica of each
service killed too. Then counted: queries and applications lost or answered twice, answers
released without their § 40 BMG entry (all must be none), technical errors (code 16) during the
outage, and how long until every answer was out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.contract.topics import Topics
from tests.helpers import (
    AUTOMATIC_DECISIONS,
    ROOT,
    RawProducer,
    ServiceProcess,
    application,
    database_url,
    eventually,
    headers_for,
    read_to_end,
    stop_all,
)
from tests.retrieval import ReleasedAnswers, burst, tenant_with_one_person, token
from tests.smtp import SmtpServer, free_port

pytestmark = pytest.mark.integration
QUERIES = 1500
APPLICATIONS = 60
OUTAGE_S = 6.0
TOK = token()
HANNOVER = ("03241001", "Hannover", "30159")
STACK = ["bash", str(ROOT / "deploy" / "local" / "stack.sh")]
KILLED_BROKER = 2


def _env_file(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(.*)$", path.read_text("utf-8"), re.MULTILINE))


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    """The cluster profile's stack, and this process's environment pointed at it meanwhile."""
    subprocess.run([*STACK, "up", "--profile", "cluster"], check=True, timeout=600)
    env = _env_file(ROOT / ".local" / "stack-cluster.env")
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        yield env
    finally:
        os.environ.clear()
        os.environ.update(saved)
        subprocess.run([*STACK, "down", "--profile", "cluster"], check=True, timeout=300)


SERVICES = {
    "query_router": ("services.query_router", {}),
    "register_03": ("services.register_mirror", {"MELDESPIEGEL_REGISTER_STATE": "03"}),
    "protocol_log": ("services.protocol_log", {}),
    "intake": ("services.intake", {}),
    "legal_review": ("services.legal_review", AUTOMATIC_DECISIONS),
    "provisioning": ("services.provisioning", {}),
    "mail_dispatch": ("services.mail_dispatch", {}),
}


@pytest.fixture(scope="module")
def replicas(
    cluster: dict[str, str], artifacts: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, list[ServiceProcess]]]:
    smtp = SmtpServer().start()
    spool = tmp_path_factory.mktemp("spool")
    procs: dict[str, list[ServiceProcess]] = {}
    for name, (module, extra) in SERVICES.items():
        procs[name] = [
            ServiceProcess(
                module,
                artifacts / f"cluster-{name}-{replica}.log",
                {
                    **extra,
                    "MELDESPIEGEL_INSTANCE_ID": f"{name}-{replica}",
                    # each replica its own API ports (provisioning's, protocol_log's)
                    "MELDESPIEGEL_HTTP_PORT": str(free_port()),
                    "MELDESPIEGEL_PROTOCOL_API_PORT": str(free_port()),
                    "MELDESPIEGEL_SMTP_PORT": str(smtp.port),
                    "MELDESPIEGEL_PRINT_SPOOL_DIR": str(spool),
                },
            ).start()
            for replica in ("a", "b")
        ]
    every = [p for ps in procs.values() for p in ps]

    def started() -> bool:
        for p in every:
            assert p.alive(), f"{p.log_path.name} exited:\n{p.log_text()[-3000:]}"
        return all(p.started() for p in every)

    try:
        asyncio.run(eventually(started, "every replica started", 180))
        yield procs
    finally:
        stop_all([p for p in every if p.alive()])
        smtp.stop()


def _broker_pid(n: int) -> int:
    return int((ROOT / ".local" / "kafka-cluster" / f"node-{n}" / "kafka.pid").read_text())


def kill_broker(n: int) -> None:
    os.killpg(_broker_pid(n), signal.SIGKILL)  # the JVM runs in a session of its own


def start_broker(n: int) -> None:
    subprocess.run(
        [*STACK, "node-start", "--profile", "cluster"],
        env={**os.environ, "NODE": str(n)},
        check=True,
        timeout=120,
    )


async def provisioned(ids: set[str]) -> dict[str, set[str]]:
    """Per application: the ids of the events that provisioned a tenant for it."""
    found: dict[str, set[str]] = defaultdict(set)
    for r in await read_to_end(Topics.ACCOUNT_PROVISIONED.name):
        body = r.json()
        if body.get("application_id") in ids:
            found[body["application_id"]].add(r.headers["ce_id"])
    return found


async def test_a_broker_and_a_replica_of_each_service_killed_mid_burst_lose_nothing(
    replicas: dict[str, list[ServiceProcess]],
) -> None:
    tenant = f"T-cluster-{TOK}"
    answers = ReleasedAnswers(tenant)
    follower = asyncio.create_task(answers.run())
    db = await asyncpg.connect(database_url())
    try:
        async with RawProducer() as producer:
            await tenant_with_one_person(producer, db, tenant, HANNOVER, f"C{TOK}", f"Kern{TOK}")
            await asyncio.wait_for(answers.ready.wait(), 30)
            bodies = [application(f"CL-{TOK}-{i:03d}") for i in range(APPLICATIONS)]
            for body in bodies:
                await producer.send(
                    Topics.APPLICATION_SUBMITTED.name,
                    body,
                    key=body["application_id"],
                    headers=headers_for(),
                )
            # the kill lands while the burst is still being published and answered
            publishing = asyncio.create_task(
                burst(producer, tenant, HANNOVER, f"Kern{TOK}", QUERIES)
            )
            await eventually(lambda: len(answers.codes) >= QUERIES // 10, "a tenth answered", 120)
            kill_broker(KILLED_BROKER)
            killed_at, answered_at_kill = time.monotonic(), len(answers.codes)
            for replica in replicas.values():
                replica[0].kill()
            await asyncio.sleep(OUTAGE_S)
            await asyncio.to_thread(start_broker, KILLED_BROKER)
            for replica in replicas.values():
                replica[0].start()
            restarted_at = time.monotonic()
            queries = await publishing
        await eventually(lambda: len(answers.codes) >= QUERIES, f"all {QUERIES} answers", 300)
        wanted_apps = {b["application_id"] for b in bodies}
        done = await eventually(
            lambda: _all_provisioned(wanted_apps), "every application provisioned", 300
        )

        wanted = {q["query_id"] for q in queries}
        lost = len(wanted - set(answers.codes))
        doubled = sum(1 for q in wanted if len(answers.events[q]) > 1)
        vorgaenge = {v for vs in answers.vorgaenge.values() for v in vs}
        logged = {
            r["vorgangsnummer"]
            for r in await db.fetch(
                "SELECT vorgangsnummer FROM protocol_log.protokoll WHERE tenant_id = $1", tenant
            )
        }
        unlogged = len(vorgaenge - logged)
        entries = await db.fetchval(
            "SELECT count(*) FROM protocol_log.protokoll WHERE tenant_id = $1", tenant
        )
        codes = Counter(answers.codes.values())
        apps_lost = len(wanted_apps - set(done))
        apps_doubled = sum(1 for events in done.values() if len(events) > 1)
        print(
            f"\n[cluster failover] broker {KILLED_BROKER} and one replica of each of "
            f"{len(replicas)} services killed after {answered_at_kill} of {QUERIES} answers, "
            f"down {restarted_at - killed_at:.1f} s; every answer out "
            f"{max(answers.at.values()) - restarted_at:.1f} s after the restart; "
            f"lost {lost}, answered twice {doubled}, released without § 40 entry {unlogged}; "
            f"technical errors (16) {codes['16']} ({codes['16'] / QUERIES:.1%}); "
            f"applications: {APPLICATIONS} sent, lost {apps_lost}, provisioned twice "
            f"{apps_doubled}; outcomes {dict(codes)}"
        )
        assert lost == 0
        assert doubled == 0
        assert unlogged == 0
        assert entries == QUERIES  # one § 40 entry per query, none twice
        assert apps_lost == 0
        assert apps_doubled == 0
        assert codes["16"] == 0, f"{codes['16']} technical errors"
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
        await db.close()


async def _all_provisioned(wanted: set[str]) -> dict[str, set[str]] | None:
    found = await provisioned(wanted)
    return found if set(found) >= wanted else None
