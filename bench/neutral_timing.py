"""Can a requester tell a blocked person from nobody by the time the answer takes (§ 34a Abs. 5
BMG)? Latency distributions of the neutral answers, next to the baseline measured in the same run.

    bench/run neutral_timing [QUERIES_PER_CASE] [RATE]

The services of the retrieval path run (query_router, register_mirror 03, protocol_log). Queries
of four cases are sent interleaved in random order at RATE per second (default 40), so that all
cases meet the same load:

- baseline: "nobody" (no person of that name);
- "blocked": one person with an Auskunftssperre;
- "mixed": one open and one blocked person of the same name and birth;
- "unique" (an open person, answer 01), for comparison only.

Latency is the released answer's broker CreateTime minus the query's. Printed per case: p50, p90,
p99, mean, and the two-sample Kolmogorov-Smirnov distance to the baseline with the critical value
at a 1 % level (a distance below it: the samples do not tell the cases apart). Nothing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import statistics
import sys
import uuid
from datetime import UTC, datetime

import asyncpg

from bench.intake_throughput import drain, group_ready, headers, positioned_reader, send_all
from shared.contract.topics import Topics
from shared.platform.kafka_client import KafkaClient
from shared.platform.settings import get_settings
from tests.retrieval import HANNOVER, delivery, person, query, tenant_state

BOOTSTRAP = get_settings().kafka_bootstrap
TENANT = f"T-timing-{uuid.uuid4().hex[:6]}"
TOK = uuid.uuid4().hex[:6].upper()
BLOCK = {"auskunftssperre": {"bis": "2099-12-31"}}
CASES = {
    "nobody": f"Niemand{TOK}",
    "blocked": f"Gesperrt{TOK}",
    "mixed": f"Gemischt{TOK}",
    "unique": f"Offen{TOK}",
}


async def setup(client: KafkaClient, db: asyncpg.Connection) -> None:
    records = [
        person(f"B{TOK}", CASES["blocked"], ["Ida"], "19850505", **BLOCK),
        person(f"M1{TOK}", CASES["mixed"], ["Ida"], "19850505", strasse="Lindenallee"),
        person(f"M2{TOK}", CASES["mixed"], ["Ida"], "19850505", strasse="Am Walde", **BLOCK),
        person(f"U{TOK}", CASES["unique"], ["Ida"], "19850505"),
    ]
    d = delivery(HANNOVER, records)
    for topic, body, key in (
        (Topics.TENANT_STATE, tenant_state(TENANT), TENANT),
        (Topics.REGISTER_DELIVERY, d, HANNOVER[0]),
    ):
        await client.publish(topic.name, json.dumps(body).encode(), key, headers(topic.event_type))
    for _ in range(600):
        try:
            ready = await db.fetchval(
                """SELECT (SELECT count(*) FROM query_router.mandanten WHERE tenant_id = $1)
                        + (SELECT count(*) FROM register_mirror_03.personen
                           WHERE ordnungsmerkmal = ANY($2))""",
                TENANT,
                [r["ordnungsmerkmal"] for r in records],
            )
        except asyncpg.UndefinedTableError:
            ready = 0
        if ready == 1 + len(records):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("tenant or persons did not arrive")


def body(case: str) -> tuple[str, bytes]:
    q = query(
        TENANT,
        ags=[HANNOVER[0]],
        kriterien={"familienname": CASES[case], "vornamen": "Ida", "geburtsdatum": "19850505"},
    )
    q["requested_at"] = datetime.now(UTC).isoformat()
    return q["query_id"], json.dumps(q).encode()


def ks(a: list[float], b: list[float]) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest gap between the two CDFs."""
    xs = sorted(set(a) | set(b))
    sa, sb = sorted(a), sorted(b)
    gap, i, j = 0.0, 0, 0
    for x in xs:
        while i < len(sa) and sa[i] <= x:
            i += 1
        while j < len(sb) and sb[j] <= x:
            j += 1
        gap = max(gap, abs(i / len(sa) - j / len(sb)))
    return gap


def line(name: str, lat: list[float], base: list[float]) -> str:
    s = sorted(lat)
    p = lambda q: s[min(len(s) - 1, int(q * len(s)))]  # noqa: E731
    n, m = len(lat), len(base)
    critical = 1.628 * math.sqrt((n + m) / (n * m))  # α = 0.01
    return (
        f"{name:<8} n={n:>5}  p50 {p(0.5):>6.1f} ms  p90 {p(0.9):>6.1f} ms  "
        f"p99 {p(0.99):>6.1f} ms  "
        f"mean {statistics.fmean(lat):>6.1f} ms  KS to baseline {ks(lat, base):.3f} "
        f"(critical {critical:.3f})"
    )


async def main(per_case: int, rate: float) -> None:
    settings = get_settings()
    db = await asyncpg.connect(settings.database_url)
    try:
        async with KafkaClient(BOOTSTRAP) as client:
            await setup(client, db)
        for group in ("query_router", "register_mirror_03", "protocol_log"):
            await group_ready(group)
        plan = [case for case in CASES for _ in range(per_case)]
        random.shuffle(plan)
        warm = [body("unique") for _ in range(100)]
        reader = await positioned_reader([Topics.QUERY_DELIVERED.name])
        await send_all(Topics.QUERY_REQUESTED.name, warm, Topics.QUERY_REQUESTED.event_type)
        await drain(reader, {k for k, _ in warm})
        reader = await positioned_reader([Topics.QUERY_DELIVERED.name])
        bodies = []
        case_of: dict[str, str] = {}
        for case in plan:
            key, value = body(case)
            case_of[key] = case
            bodies.append((key, value))
        sent = await send_all(
            Topics.QUERY_REQUESTED.name, bodies, Topics.QUERY_REQUESTED.event_type, rate
        )
        received = await drain(reader, set(sent))
    finally:
        await db.close()
    lat: dict[str, list[float]] = {case: [] for case in CASES}
    for key, ts in received.items():
        lat[case_of[key]].append(float(ts - sent[key]))
    print(f"neutral answers' timing: {per_case} queries per case, interleaved at {rate:g}/s")
    for case in CASES:
        print(line("baseline" if case == "nobody" else case, lat[case], lat["nobody"]))


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 500,
            float(sys.argv[2]) if len(sys.argv) > 2 else 40.0,
        )
    )
