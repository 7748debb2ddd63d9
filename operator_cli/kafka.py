"""The CLI's Kafka adapter: reading topics to their current end, following them from now on,
publishing like an upstream system, and the consumer groups' committed offsets."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from operator_cli.domain import Abort, NoAnswer, Record, partition_for
from shared.contract.envelope import Envelope, decode_headers
from shared.contract.topics import DLQ_MAX_MESSAGE_BYTES, TopicSpec
from shared.platform.kafka_admin import partitions_of

SOURCE = "/operators/meldespiegel-cli"


class BrokerUnreachable(Abort):
    """The cluster does not answer."""


def _record(r: ConsumerRecord[bytes, bytes]) -> Record:
    return Record(
        r.topic,
        r.partition,
        r.offset,
        r.key.decode("utf-8", "backslashreplace") if r.key is not None else None,
        r.value or b"",
        decode_headers(r.headers or ()),
        r.timestamp,
    )


class Kafka:
    def __init__(self, bootstrap: str, **client_options: Any) -> None:
        self.bootstrap = bootstrap
        self.options = client_options  # the cluster's security (`shared.platform.kafka_security`)
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._cluster: dict[str, list[int]] | None = None

    async def __aenter__(self) -> Kafka:
        self._consumer = await self._new_consumer()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def _new_consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            client_id="meldespiegel-cli",
            max_partition_fetch_bytes=DLQ_MAX_MESSAGE_BYTES,
            fetch_max_bytes=4 * DLQ_MAX_MESSAGE_BYTES,
            fetch_max_wait_ms=100,  # reading to a known end: no reason to wait for more data
            **self.options,
        )
        try:
            await consumer.start()
        except KafkaError as exc:
            await consumer.stop()
            raise BrokerUnreachable(
                f"no Kafka broker answers at {self.bootstrap}, or it refused this client "
                f"({exc.__class__.__name__}: {exc}); check MELDESPIEGEL_KAFKA_BOOTSTRAP "
                "(or --bootstrap) and MELDESPIEGEL_KAFKA_SECURITY_PROTOCOL, …_SASL_*"
            ) from None
        return consumer

    @property
    def consumer(self) -> AIOKafkaConsumer:
        assert self._consumer is not None, "use `async with Kafka(...)`"
        return self._consumer

    # -- metadata ------------------------------------------------------------------------

    async def _layout(self) -> dict[str, list[int]]:
        # the whole cluster's topics and partitions, once: a consumer's own view narrows to what
        # it is assigned, and the CLI reads many topics one after the other
        if self._cluster is None:
            layout: dict[str, list[int]] = {t: [] for t in await self.consumer.topics()}
            for tp in await partitions_of(self.consumer, layout):
                layout[tp.topic].append(tp.partition)
            self._cluster = {t: sorted(ps) for t, ps in layout.items()}
        return self._cluster

    async def topics(self) -> set[str]:
        return set(await self._layout())

    async def partitions(self, topic: str) -> list[int]:
        return (await self._layout()).get(topic, [])

    async def all_partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t in topics for p in await self.partitions(t)]

    async def end_offsets(self, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
        return await self.consumer.end_offsets(parts) if parts else {}

    async def start_offsets(self, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
        return await self.consumer.beginning_offsets(parts) if parts else {}

    # -- reading -------------------------------------------------------------------------

    async def read_partitions(self, parts: list[TopicPartition]) -> list[Record]:
        """Every retained record of `parts` up to the end they have now."""
        ends = {tp: end for tp, end in (await self.end_offsets(parts)).items() if end > 0}
        if not ends:
            return []
        c = self.consumer
        c.assign(list(ends))
        await c.seek_to_beginning(*ends)
        out: list[Record] = []
        pending = dict(ends)
        while pending:
            batch = await c.getmany(*pending, timeout_ms=1000, max_records=5000)
            for tp, records in batch.items():
                out += [_record(r) for r in records if r.offset < ends[tp]]
            for tp in list(pending):
                if await c.position(tp) >= pending[tp]:
                    del pending[tp]
        return out

    async def read(self, *topics: str) -> list[Record]:
        return await self.read_partitions(await self.all_partitions(topics))

    async def read_key(self, spec: TopicSpec | str, key: str) -> list[Record]:
        """The records of one key: only the partition the key is on is read."""
        return await self.read_keys([(spec, key)])

    async def read_keys(self, wanted: Iterable[tuple[TopicSpec | str, str]]) -> list[Record]:
        """The records of several (topic, key) pairs, read in one pass over just the partitions
        the keys are on: one fetch loop instead of one per pair."""
        keys: dict[str, set[str]] = {}
        for spec, key in wanted:
            keys.setdefault(spec if isinstance(spec, str) else spec.name, set()).add(key)
        parts: set[TopicPartition] = set()
        for name, names in keys.items():
            count = len(await self.partitions(name))
            parts |= (
                {TopicPartition(name, partition_for(k, count)) for k in names} if count else set()
            )
        return [s for s in await self.read_partitions(sorted(parts)) if s.key in keys[s.topic]]

    async def record(self, topic: str, partition: int, offset: int) -> Record | None:
        tp = TopicPartition(topic, partition)
        if partition not in await self.partitions(topic):
            return None
        start = (await self.start_offsets([tp]))[tp]
        end = (await self.end_offsets([tp]))[tp]
        if not start <= offset < end:
            return None
        c = self.consumer
        c.assign([tp])
        c.seek(tp, offset)
        for _ in range(30):  # the offset may be a compacted-away gap: the next record is not it
            batch = await c.getmany(tp, timeout_ms=1000, max_records=1)
            for records in batch.values():
                for r in records:
                    return _record(r) if r.offset == offset else None
        raise NoAnswer(f"{topic}/{partition}/{offset} could not be fetched")

    async def follow(self, *topics: str) -> Follower:
        """A reader of `topics` from their current end on; start it before publishing."""
        consumer = await self._new_consumer()
        parts = [TopicPartition(t, p) for t in topics for p in await self.partitions(t)]
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:  # fixes the positions now, not at the first fetch
            await consumer.position(tp)
        return Follower(consumer)

    # -- publishing ----------------------------------------------------------------------

    async def _producer_started(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                enable_idempotence=True,
                acks="all",
                client_id="meldespiegel-cli",
                max_request_size=DLQ_MAX_MESSAGE_BYTES,
                **self.options,
            )
            await self._producer.start()
        return self._producer

    async def publish(
        self,
        spec: TopicSpec,
        body: BaseModel | dict[str, Any],
        correlation_id: str | None = None,
    ) -> Envelope:
        """Publishes an event of `spec` with CloudEvents headers, keyed as the catalogue says."""
        event = body if isinstance(body, BaseModel) else spec.event.model_validate(body)
        key = spec.key_of(event)
        env = Envelope.new(
            source=SOURCE, type=spec.event_type, correlation_id=correlation_id, subject=key
        )
        raw = (
            event.model_dump_json().encode()
            if isinstance(body, BaseModel)
            else json.dumps(body, ensure_ascii=False).encode()
        )
        await self.publish_raw(spec.name, key, raw, env.to_headers())
        return env

    async def publish_raw(
        self, topic: str, key: str | None, value: bytes, headers: dict[str, str]
    ) -> tuple[int, int]:
        producer = await self._producer_started()
        meta = await producer.send_and_wait(
            topic,
            value,
            key=key.encode() if key is not None else None,
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
        return meta.partition, meta.offset

    async def ask(
        self,
        spec: TopicSpec,
        event: BaseModel,
        answered_on: Iterable[str],
        answers: Callable[[Record], bool],
        wait_s: float,
    ) -> Record | None:
        """Publishes `event` and returns the first record on `answered_on` that `answers` it,
        or None after `wait_s` seconds. The answer topics are followed before publishing."""
        follower = await self.follow(*answered_on)
        try:
            await self.publish(spec, event)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            while loop.time() < deadline:
                for s in await follower.next(1.0):
                    if answers(s):
                        return s
            return None
        finally:
            await follower.close()

    # -- consumer groups -----------------------------------------------------------------

    async def group_offsets(self) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offsets of every consumer group, by (topic, partition); the groups are
        asked concurrently."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id="meldespiegel-cli", **self.options
        )
        await admin.start()
        try:
            groups = sorted(g[0] for g in await admin.list_consumer_groups())
            answers = await asyncio.gather(
                *(admin.list_consumer_group_offsets(group) for group in groups)
            )
            return {
                group: {(tp.topic, tp.partition): m.offset for tp, m in offsets.items()}
                for group, offsets in zip(groups, answers, strict=True)
            }
        finally:
            await admin.close()


class Follower:
    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer

    async def next(self, timeout_s: float) -> list[Record]:
        batch = await self.consumer.getmany(timeout_ms=int(timeout_s * 1000))
        return sorted((_record(r) for rs in batch.values() for r in rs), key=lambda s: s.at)

    async def close(self) -> None:
        await self.consumer.stop()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"
