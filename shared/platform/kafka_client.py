"""One way to read and write topics outside the services' consumer groups: the operator CLI,
the dashboard, the demo feeds, the benchmarks and the tests use it. Public aiokafka APIs only.

- `read`: every retained record of some topics, from the beginning to the end they have now.
- `read_keys`: the records of some keys, reading only the partitions the keys are on.
- `read_until`: from the beginning until a condition holds (a test waiting for an effect).
- `record`: one record by its position.
- `follow`: records from now on (start it before publishing what it waits for).
- `publish`: bytes with a key and headers, idempotent, `acks=all`.
- `send`: the same without waiting, for load generators that keep many records in flight.

A reader subscribes without a consumer group: the client then fetches the topics' metadata and
assigns itself every partition, which is how it learns the partitions through the public API,
and commits nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2
from aiokafka.structs import RecordMetadata

from shared.contract.envelope import decode_headers
from shared.contract.topics import DLQ_MAX_MESSAGE_BYTES
from shared.platform.broker import json_or_none

Headers = Mapping[str, str] | Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True)
class Record:
    """One record read from a topic, its headers decoded (see `raw_headers` for the bytes)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: dict[str, str]
    timestamp_ms: int
    raw_headers: tuple[tuple[str, bytes | None], ...] = ()
    raw_key: bytes | None = None

    def json(self) -> Any:
        return json.loads(self.value)

    @property
    def body(self) -> dict[str, Any]:
        """The JSON object, or {} for a record that is not one (see `readable`)."""
        return json_or_none(self.value) or {}

    @property
    def readable(self) -> bool:
        return json_or_none(self.value) is not None

    @property
    def at(self) -> datetime:
        """The event's own time (`ce_time`), or the broker's if it has none that can be ordered."""
        raw = self.headers.get("ce_time")
        if raw:
            try:
                at = datetime.fromisoformat(raw)
            except ValueError:
                at = None
            if at is not None and at.tzinfo is not None:
                return at
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def ref(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


def record_of(r: ConsumerRecord[bytes, bytes]) -> Record:
    return Record(
        r.topic,
        r.partition,
        r.offset,
        r.key.decode("utf-8", "backslashreplace") if r.key is not None else None,
        r.value or b"",
        decode_headers(r.headers or ()),
        r.timestamp,
        tuple(r.headers or ()),
        r.key,
    )


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives `key` (murmur2, as every producer here)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class KafkaClient:
    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "meldespiegel",
        assignment_timeout_s: float = 15.0,
        linger_ms: int = 0,
        **options: Any,  # the cluster's security (`shared.platform.kafka_security`)
    ) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.options = options
        self.assignment_timeout_s = assignment_timeout_s
        self.linger_ms = linger_ms  # > 0 batches a load generator's records
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> KafkaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    # -- metadata ------------------------------------------------------------------------

    def _consumer(self, *topics: str) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",  # what a service would see, nothing aborted
            max_partition_fetch_bytes=DLQ_MAX_MESSAGE_BYTES,
            fetch_max_bytes=4 * DLQ_MAX_MESSAGE_BYTES,
            fetch_max_wait_ms=100,  # reading to a known end: no reason to wait for more data
            **self.options,
        )

    async def topics(self) -> set[str]:
        """Every topic the cluster has."""
        consumer = self._consumer()
        try:
            await consumer.start()
            return set(await consumer.topics())
        finally:  # also when a caller's timeout cancelled the start
            await consumer.stop()

    @asynccontextmanager
    async def reader(self, topics: Iterable[str]) -> AsyncIterator[AIOKafkaConsumer]:
        """A consumer assigned every partition of those of `topics` the cluster has (none if it
        has none of them), positions not yet set."""
        consumer = self._consumer()
        await consumer.start()
        try:
            await self._assign_all(consumer, topics)
            yield consumer
        finally:
            await consumer.stop()

    async def _assign_all(
        self, consumer: AIOKafkaConsumer, topics: Iterable[str], *, subscribed: bool = False
    ) -> None:
        """Subscribes without a group to those of `topics` the cluster has (unless the consumer
        was made with them) and waits until it has assigned itself all their partitions."""
        present = sorted(set(topics) & await consumer.topics())
        if not present:
            return
        if not subscribed:
            consumer.subscribe(present)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.assignment_timeout_s
        while {tp.topic for tp in consumer.assignment()} < set(present):
            if loop.time() > deadline:
                raise TimeoutError(f"no partitions assigned for {present}")
            await asyncio.sleep(0.005)

    async def partitions(self, *topics: str) -> list[TopicPartition]:
        async with self.reader(topics) as consumer:
            return sorted(consumer.assignment())

    async def end_offsets(self, *topics: str) -> dict[TopicPartition, int]:
        async with self.reader(topics) as consumer:
            parts = sorted(consumer.assignment())
            return await consumer.end_offsets(parts) if parts else {}

    # -- reading -------------------------------------------------------------------------

    @staticmethod
    async def _to_ends(consumer: AIOKafkaConsumer, parts: Iterable[TopicPartition]) -> list[Record]:
        parts = list(parts)
        ends = {tp: end for tp, end in (await consumer.end_offsets(parts)).items() if end > 0}
        if not ends:
            return []
        await consumer.seek_to_beginning(*ends)
        out: list[Record] = []
        pending = dict(ends)
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=5000)
            for tp, records in batch.items():
                out += [record_of(r) for r in records if r.offset < ends[tp]]
            for tp in list(pending):
                if await consumer.position(tp) >= pending[tp]:
                    del pending[tp]
        return out

    async def read(self, *topics: str) -> list[Record]:
        """Every retained record of `topics` up to the end they have now."""
        async with self.reader(topics) as consumer:
            return await self._to_ends(consumer, consumer.assignment())

    async def read_keys(
        self, wanted: Iterable[tuple[str, str]], *, any_partition: Collection[str] = ()
    ) -> list[Record]:
        """The records of some (topic, key) pairs, in one pass over just their partitions: the
        key's murmur2 partition, as the services produce, or every partition of the topics in
        `any_partition`, which other producers write (kcat's default partitioner is CRC32)."""
        keys: dict[str, set[str]] = {}
        for topic, key in wanted:
            keys.setdefault(topic, set()).add(key)
        async with self.reader(keys) as consumer:
            counts: dict[str, int] = {}
            for tp in consumer.assignment():
                counts[tp.topic] = counts.get(tp.topic, 0) + 1
            parts = {
                TopicPartition(topic, partition)
                for topic, names in keys.items()
                if topic in counts
                for partition in (
                    range(counts[topic])
                    if topic in any_partition
                    else {partition_for(k, counts[topic]) for k in names}
                )
            }
            records = await self._to_ends(consumer, sorted(parts))
        return [r for r in records if r.key in keys[r.topic]]

    async def read_until(
        self, topic: str, until: Callable[[list[Record]], bool], deadline_s: float
    ) -> list[Record]:
        """From the beginning until `until(records)` holds; TimeoutError after the deadline."""
        async with self.reader([topic]) as consumer:
            parts = sorted(consumer.assignment())
            if parts:
                await consumer.seek_to_beginning(*parts)
            loop = asyncio.get_running_loop()
            end = loop.time() + deadline_s
            records: list[Record] = []
            while not until(records):
                if loop.time() > end:
                    raise TimeoutError(f"{topic}: {len(records)} records read, condition unmet")
                batch = await consumer.getmany(timeout_ms=200)
                for rs in batch.values():
                    records += [record_of(r) for r in rs]
            return records

    async def record(self, topic: str, partition: int, offset: int) -> Record | None:
        """The record at this position, or None if there is none (expired, compacted away)."""
        tp = TopicPartition(topic, partition)
        async with self.reader([topic]) as consumer:
            if tp not in consumer.assignment():
                return None
            start = (await consumer.beginning_offsets([tp]))[tp]
            end = (await consumer.end_offsets([tp]))[tp]
            if not start <= offset < end:
                return None
            consumer.seek(tp, offset)
            for _ in range(30):  # a compacted-away gap: the next record is not the one asked for
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
                for records in batch.values():
                    for r in records:
                        return record_of(r) if r.offset == offset else None
        return None

    async def follow(self, *topics: str, from_beginning: bool = False) -> Follower:
        """A reader of `topics` from their current end on (start it before publishing), or from
        their beginning on."""
        consumer = self._consumer(*topics)  # subscribed before it starts: no offset is missed
        await consumer.start()
        try:
            await self._assign_all(consumer, topics, subscribed=True)
        except BaseException:
            await consumer.stop()
            raise
        parts = sorted(consumer.assignment())
        if not parts:
            return Follower(consumer, {})
        if from_beginning:
            await consumer.seek_to_beginning(*parts)
            return Follower(consumer, {tp: await consumer.position(tp) for tp in parts})
        # "from now on" is every offset at or after the end marks asked for now, by a request of
        # their own: the consumer's position is not enough, since a metadata change may reassign
        # the partitions and reset them to the beginning before the first fetch, and a record
        # fetched ahead of the seek would then pass for a new one (an older answer taken for
        # the one awaited)
        ends = await consumer.end_offsets(parts)
        await consumer.seek_to_end(*parts)
        return Follower(consumer, dict(ends))

    # -- publishing ----------------------------------------------------------------------

    async def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                enable_idempotence=True,
                acks="all",
                max_request_size=DLQ_MAX_MESSAGE_BYTES,
                linger_ms=self.linger_ms,
                **self.options,
            )
            await producer.start()
            self._producer = producer
        return self._producer

    async def send(
        self,
        topic: str,
        value: bytes | None,
        key: str | bytes | None = None,
        headers: Headers = (),
    ) -> asyncio.Future[RecordMetadata]:
        """Hands the record to the producer's batch and returns at once; the future resolves to
        the broker's acknowledgement (its partition, offset and CreateTime `timestamp`)."""
        raw_headers = (
            [(k, v.encode()) for k, v in headers.items()]
            if isinstance(headers, Mapping)
            else list(headers)
        )
        return await (await self.producer()).send(
            topic,
            value,
            key=key.encode() if isinstance(key, str) else key,
            headers=raw_headers,
        )

    async def publish(
        self,
        topic: str,
        value: bytes | None,
        key: str | bytes | None = None,
        headers: Headers = (),
    ) -> tuple[int, int]:
        """Publishes and waits for the broker's acknowledgement; (partition, offset)."""
        meta = await (await self.send(topic, value, key, headers))
        return meta.partition, meta.offset

    # -- consumer groups -----------------------------------------------------------------

    async def group_offsets(
        self, groups: Iterable[str] | None = None
    ) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offsets of the consumer groups (all of them if none are named), by (topic,
        partition); the groups are asked concurrently."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id=self.client_id, **self.options
        )
        await admin.start()
        try:
            names = (
                sorted(groups)
                if groups is not None
                else sorted(g[0] for g in await admin.list_consumer_groups())
            )
            answers = await asyncio.gather(
                *(admin.list_consumer_group_offsets(group) for group in names)
            )
            return {
                group: {(tp.topic, tp.partition): m.offset for tp, m in offsets.items()}
                for group, offsets in zip(names, answers, strict=True)
            }
        finally:
            await admin.close()

    async def skip_to_end(self, group: str) -> int:
        """Moves a consumer group that has no running member to the current end of every
        partition it has committed before (what `kafka-consumer-groups --reset-offsets
        --to-latest` does); returns how many records it skipped."""
        committed = (await self.group_offsets([group]))[group]
        parts = [TopicPartition(topic, partition) for topic, partition in committed]
        if not parts:
            return 0
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            group_id=group,
            enable_auto_commit=False,
            **self.options,
        )
        await consumer.start()
        try:
            consumer.assign(parts)
            ends = await consumer.end_offsets(parts)
            await consumer.commit(dict(ends))
        finally:
            await consumer.stop()
        return sum(max(0, ends[tp] - committed[(tp.topic, tp.partition)]) for tp in parts)


class Follower:
    def __init__(self, consumer: AIOKafkaConsumer, start: dict[TopicPartition, int]) -> None:
        self.consumer = consumer
        self.start = start

    async def next(self, timeout_s: float) -> list[Record]:
        batch = await self.consumer.getmany(timeout_ms=int(timeout_s * 1000))
        fresh = (r for tp, rs in batch.items() for r in rs if r.offset >= self.start.get(tp, 0))
        return sorted((record_of(r) for r in fresh), key=lambda s: s.at)

    async def close(self) -> None:
        await self.consumer.stop()
