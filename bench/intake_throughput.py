"""intake throughput and latency on the local stack, next to a baseline measured in the same run.

    bench/run intake_throughput [N]

- intake: N applications (4 in 5 complete) published at full speed to
  `min.application.submitted.v1`; measured until N outcomes are on the outcome topics.
- baseline: the same hop with no work between two scratch topics, as a careful engineer would
  build it: batched consumption, pipelined idempotent acks=all produces, one commit per batch.

Latency is each outcome's broker timestamp (CreateTime, set when it was produced) minus its
input's, so both sides read the same clock. Figures go to stdout; nothing is asserted.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from shared.contract.envelope import Envelope
from shared.contract.topics import Topics
from shared.platform.kafka_client import Follower, KafkaClient
from shared.platform.settings import get_settings
from tests.helpers import application

BOOTSTRAP = get_settings().kafka_bootstrap
PARTITIONS = Topics.APPLICATION_SUBMITTED.partitions


@dataclass
class Result:
    name: str
    count: int
    seconds: float
    latencies_ms: list[float]

    def line(self) -> str:
        lat = sorted(self.latencies_ms)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
        return (
            f"{self.name:<20} {self.count:>6} events  {self.count / self.seconds:>8.1f}/s  "
            f"p50 {p(0.50):>7.1f} ms  p99 {p(0.99):>7.1f} ms  "
            f"mean {statistics.fmean(lat):>7.1f} ms"
        )


def headers(event_type: str) -> list[tuple[str, bytes]]:
    env = Envelope.new(source="/bench", type=event_type, correlation_id=None)
    return [(k, v.encode()) for k, v in env.to_headers().items()]


async def send_all(
    topic: str,
    bodies: list[tuple[str, bytes]],
    event_type: str,
    rate: float | None = None,
) -> dict[str, int]:
    """Publishes at `rate` per second (None: as fast as the producer allows), many records in
    flight; returns key -> CreateTime (ms)."""
    async with KafkaClient(BOOTSTRAP, linger_ms=5) as client:
        futures = []
        start = time.monotonic()
        for i, (key, value) in enumerate(bodies):
            if rate:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            futures.append((key, await client.send(topic, value, key, headers(event_type))))
        return {key: (await future).timestamp for key, future in futures}


async def group_ready(group_id: str, seconds: float = 60.0) -> None:
    """Waits until the consumer group has joined (Stable, with members): a group still joining
    would count its join time as latency."""
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                responses = await admin.describe_consumer_groups([group_id])
            except KafkaError:  # no coordinator yet on a fresh broker: not joined yet
                responses = []
            for response in responses:
                for group in response.groups:
                    state, members = group[2], group[5]
                    if state == "Stable" and members:
                        return
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    raise TimeoutError(f"consumer group {group_id} did not join within {seconds:g} s")


async def positioned_reader(topics: list[str]) -> Follower:
    """A reader at the current end of `topics`, positions resolved: nothing produced after
    this returns is missed."""
    return await KafkaClient(BOOTSTRAP, assignment_timeout_s=30).follow(*topics)


async def drain(follower: Follower, keys: set[str], seconds: float = 600) -> dict[str, int]:
    """Reads until every key arrived or `seconds` passed; returns key -> CreateTime (ms) of those
    that arrived (the caller reports any missing)."""
    seen: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    try:
        while len(seen) < len(keys) and time.monotonic() < deadline:
            for r in await follower.next(0.2):
                if r.key in keys:
                    seen.setdefault(r.key, r.timestamp_ms)
    finally:
        await follower.close()
    return seen


async def measure(
    name: str,
    in_topic: str,
    out_topics: list[str],
    bodies: list[tuple[str, bytes]],
    event_type: str,
) -> Result:
    reader = await positioned_reader(out_topics)
    t0 = time.monotonic()
    sent = await send_all(in_topic, bodies, event_type)
    received = await drain(reader, set(sent))
    seconds = time.monotonic() - t0
    if len(received) < len(sent):
        raise TimeoutError(f"{name}: only {len(received)}/{len(sent)} outcomes arrived")
    return Result(name, len(bodies), seconds, [received[k] - sent[k] for k in sent])


async def pass_through(
    in_topic: str, out_topic: str, group: str, stop: asyncio.Event | None = None
) -> None:
    """One baseline hop as a careful engineer would build it, with the services' guarantees and
    no work: batched consumption (`getmany`), every record of a batch produced pipelined
    (idempotent, acks=all), all acknowledged, then one commit per batch. A consumer-group member
    like the services, so the bare library, not the platform's client (which reads outside
    groups)."""
    consumer = AIOKafkaConsumer(
        in_topic,
        bootstrap_servers=BOOTSTRAP,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, enable_idempotence=True, acks="all", linger_ms=2
    )
    await consumer.start()
    await producer.start()
    try:
        while stop is None or not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            pending = [
                await producer.send(out_topic, r.value, key=r.key)
                for records in batch.values()
                for r in records
            ]
            if pending:
                await asyncio.gather(*pending)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


async def main(n: int) -> None:
    bodies = []
    for i in range(n):
        body: dict[str, Any] = application(f"B-{uuid.uuid4().hex[:12]}")
        if i % 5 == 0:
            body["access_type"] = None
        bodies.append((body["application_id"], json.dumps(body).encode()))

    scratch_in, scratch_out = (
        f"bench.in.{uuid.uuid4().hex[:6]}",
        f"bench.out.{uuid.uuid4().hex[:6]}",
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (scratch_in, scratch_out)])
    stop = asyncio.Event()
    baseline_service = asyncio.create_task(
        pass_through(scratch_in, scratch_out, "bench-baseline", stop)
    )
    await group_ready("bench-baseline")
    baseline = await measure("baseline", scratch_in, [scratch_out], bodies, "bench")
    stop.set()
    await baseline_service
    await admin.delete_topics([scratch_in, scratch_out])
    await admin.close()

    await group_ready("intake")
    intake = await measure(
        "intake",
        Topics.APPLICATION_SUBMITTED.name,
        [Topics.APPLICATION_ACCEPTED.name, Topics.APPLICATION_INCOMPLETE.name],
        [(k, v) for k, v in bodies],
        Topics.APPLICATION_SUBMITTED.event_type,
    )
    print(f"intake throughput, {n} applications at full speed, Kafka {BOOTSTRAP}")
    print(baseline.line())
    print(intake.line())
    ratio = (intake.count / intake.seconds) / (baseline.count / baseline.seconds)
    print(f"intake / baseline throughput: {ratio:.2f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
