"""The retrieval path end to end against a register of a million persons, next to a baseline
measured in the same run.

    bench/run query_path [PERSONS] [FULL_SPEED_QUERIES] [RATES] [SECONDS_PER_RATE]
    bench/run query_path 1000000 10000 50,100,500 15

- Register: PERSONS synthetic persons loaded into register 03 (COPY, indexes built after).
- Path: Personensuche queries (name, first name, birth date of generated persons) published to
  `min.query.requested.v1`; measured until each one's answer is released on
  `min.query.delivered.v1` with its durable protocol entry (query_router → register_mirror →
  query_router → protocol_log: four consuming hops).
- Baseline: four pass-through processes chained over scratch topics: the same hops and guarantees
  (idempotent producer, acks=all, commit after the produces are acknowledged), no work, built
  as a careful engineer would: batched consumption, pipelined produces, one commit per batch.
- Offered load: FULL_SPEED_QUERIES at once, then each rate in RATES for SECONDS_PER_RATE.
- CPU: each process's user and system milliseconds per event in each measurement, from /proc.

Latency is the answer's broker CreateTime minus the query's. Figures go to stdout.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.intake_throughput import (
    Result,
    drain,
    group_ready,
    headers,
    pass_through,
    positioned_reader,
    send_all,
)
from services.register_mirror.generator import Generator, load, loaded_line
from shared.contract.topics import Topics
from shared.platform.db import create_pool
from shared.platform.kafka_client import KafkaClient
from shared.platform.settings import get_settings
from tests.retrieval import query, tenant_state

BOOTSTRAP = get_settings().kafka_bootstrap
TENANT = "T-bench"
HOPS = 4


# the processes whose CPU time a measurement reports, by what their command line contains
PROCESSES = {
    "query_router": "services.query_router",
    "register": "services.register_mirror",
    "protocol_log": "services.protocol_log",
    "baseline hops": "bench.query_path\0passthrough",
    "kafka": "kafka.Kafka",
    "postgres": "postgres",
}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """Each process's group and its user and system CPU seconds so far, from /proc."""
    used: dict[int, tuple[str, float]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode("utf-8", "replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        for name, marker in PROCESSES.items():
            if marker in cmdline:
                used[int(proc.name)] = (name, (int(fields[11]) + int(fields[12])) / TICK)
                break
    return used


def cpu_between(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds each group used in between, per process: one that ended meanwhile (a
    PostgreSQL backend) drops out rather than counting negative."""
    used = dict.fromkeys(PROCESSES, 0.0)
    for pid, (name, seconds) in after.items():
        used[name] += seconds - before.get(pid, (name, 0.0))[1]
    return used


async def measure(
    name: str,
    in_topic: str,
    out_topic: str,
    bodies: list[tuple[str, bytes]],
    event_type: str,
    rate: float | None,
) -> Result:
    reader = await positioned_reader([out_topic])
    before = cpu_seconds()
    t0 = time.monotonic()
    sent = await send_all(in_topic, bodies, event_type, rate)
    received = await drain(reader, set(sent))
    seconds = time.monotonic() - t0
    after = cpu_seconds()
    if len(received) < len(sent):
        print(f"  ({name}: only {len(received)}/{len(sent)} answers arrived)")
    used = cpu_between(before, after)
    CPU[name] = {k: used[k] * 1000 / max(1, len(received)) for k in used}
    return Result(name, len(received), seconds, [received[k] - sent[k] for k in received])


CPU: dict[str, dict[str, float]] = {}  # per measurement: CPU milliseconds per event and process


def queries(persons: list[tuple[str, object]], count: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(count):
        ags, p = persons[i % len(persons)]
        body = query(
            TENANT,
            ags=[ags],
            kriterien={
                "familienname": p.familienname,  # type: ignore[attr-defined]
                "vornamen": p.vornamen[0],  # type: ignore[attr-defined]
                "geburtsdatum": p.geburtsdatum,  # type: ignore[attr-defined]
            },
        )
        body["requested_at"] = datetime.now(UTC).isoformat()
        out.append((body["query_id"], json.dumps(body).encode()))
    return out


def start_baseline(topics: list[str]) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "bench.query_path", "passthrough", a, b, f"bench-hop-{i}"]
        )
        for i, (a, b) in enumerate(itertools.pairwise(topics))
    ]


async def main(persons: int, full_speed: int, rates: list[float], per_rate: float) -> None:
    settings = get_settings()
    print(f"query path on {BOOTSTRAP}; register 03 with {persons:,} persons")
    pool = await create_pool(
        settings.database_url, "register_mirror_03", "services.register_mirror"
    )
    t = time.monotonic()
    loaded = await load(pool, "03", persons, seed=1)
    print(f"register: {loaded_line(loaded, time.monotonic() - t)}")
    await pool.close()
    known = [
        x for x in Generator("03", seed=1).persons(min(persons, 50_000)) if not x[1].auskunftssperre
    ]

    async with KafkaClient(BOOTSTRAP) as client:
        await client.publish(
            Topics.TENANT_STATE.name,
            json.dumps(tenant_state(TENANT)).encode(),
            TENANT,
            headers(Topics.TENANT_STATE.event_type),
        )
    db = await asyncpg.connect(settings.database_url)
    for _ in range(300):
        if await db.fetchval(
            "SELECT count(*) FROM query_router.mandanten WHERE tenant_id = $1", TENANT
        ):
            break
        await asyncio.sleep(0.2)
    await db.close()
    for group in ("query_router", "register_mirror_03", "protocol_log"):
        await group_ready(group)
    # warm-up: the first queries pay for connections and caches
    await measure(
        "warm-up",
        Topics.QUERY_REQUESTED.name,
        Topics.QUERY_DELIVERED.name,
        queries(known, 200),
        Topics.QUERY_REQUESTED.event_type,
        None,
    )

    scratch = [f"bench.hop{i}.{uuid.uuid4().hex[:6]}" for i in range(HOPS + 1)]
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    await admin.create_topics([NewTopic(s, 6, 1) for s in scratch])
    hops = start_baseline(scratch)
    try:
        for i in range(HOPS):
            await group_ready(f"bench-hop-{i}")
        loads: list[tuple[str, float | None, int]] = [("full speed", None, full_speed)]
        loads += [(f"{r:g}/s", r, int(r * per_rate)) for r in rates]
        results: list[Result] = []
        for offered, rate, count in loads:
            batch = queries(known, count)
            results.append(
                await measure(f"baseline {offered}", scratch[0], scratch[-1], batch, "bench", rate)
            )
            results.append(
                await measure(
                    f"queries  {offered}",
                    Topics.QUERY_REQUESTED.name,
                    Topics.QUERY_DELIVERED.name,
                    queries(known, count),
                    Topics.QUERY_REQUESTED.event_type,
                    rate,
                )
            )
    finally:
        for h in hops:
            h.terminate()
        await admin.delete_topics(scratch)
        await admin.close()
    print(f"{HOPS} consuming hops each; latency = released CreateTime - requested CreateTime")
    for r in results:
        print(r.line())
    for base, path in zip(results[::2], results[1::2], strict=True):
        ratio = (path.count / path.seconds) / (base.count / base.seconds)
        print(f"{path.name}: {ratio:.1%} of the baseline's throughput")
    print("CPU ms per event (user + system, from /proc), by process:")
    print(f"{'':<20} " + " ".join(f"{k:>13}" for k in PROCESSES) + f" {'total':>8}")
    for r in results:
        used = CPU[r.name]
        print(
            f"{r.name:<20} "
            + " ".join(f"{used[k]:>13.2f}" for k in PROCESSES)
            + f" {sum(used.values()):>8.2f}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "passthrough":
        asyncio.run(pass_through(*sys.argv[2:5]))
    else:
        args = sys.argv[1:]
        asyncio.run(
            main(
                int(args[0]) if args else 1_000_000,
                int(args[1]) if len(args) > 1 else 3000,
                [float(r) for r in (args[2] if len(args) > 2 else "100,250,500").split(",")],
                float(args[3]) if len(args) > 3 else 20.0,
            )
        )
