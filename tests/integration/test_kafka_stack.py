"""What meldespiegel relies on from the broker, proven against the real one: topic administration
from the catalogue, the idempotent producer with acks=all, consumer groups with manual commit."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared.contract.topics import DLQ_MAX_MESSAGE_BYTES, Topics
from shared.platform.db import migrate
from shared.platform.kafka_admin import DLQ_RETENTION_MS, ensure_topics
from tests.helpers import ROOT, bootstrap, database_url

pytestmark = pytest.mark.integration


async def test_ensure_topics_is_idempotent_and_applies_the_catalogue() -> None:
    again = await ensure_topics(bootstrap())
    assert set(again.values()) == {"unchanged"}

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap())
    await admin.start()
    try:
        spec = Topics.APPLICATION_SUBMITTED
        [described] = await admin.describe_topics([spec.name])
        assert len(described["partitions"]) == spec.partitions
        responses = await admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, spec.name),
                ConfigResource(ConfigResourceType.TOPIC, spec.dlq),
            ]
        )
    finally:
        await admin.close()
    configs = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}
        for response in responses
        for resource in response.resources
    }
    assert configs[spec.name]["retention.ms"] == str(spec.retention_ms)
    assert configs[spec.name]["cleanup.policy"] == "delete"
    assert configs[spec.dlq]["max.message.bytes"] == str(DLQ_MAX_MESSAGE_BYTES)
    assert configs[spec.dlq]["retention.ms"] == str(DLQ_RETENTION_MS)


async def test_idempotent_producer_and_group_resuming_after_manual_commit() -> None:
    topic = Topics.APPLICATION_REFUSED.name  # any catalogue topic; keys keep this test's records
    key = f"compat-{uuid.uuid4().hex[:8]}".encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap(), enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, f"{i}".encode(), key=key)
    finally:
        await producer.stop()

    group = f"compat-{uuid.uuid4().hex[:8]}"

    async def consume(count: int, commit: bool) -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap(),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        seen: list[bytes] = []
        try:
            async for msg in consumer:
                if msg.key != key:
                    if commit:
                        await consumer.commit()
                    continue
                seen.append(msg.value)
                if commit:
                    await consumer.commit()
                if len(seen) == count:
                    break
        finally:
            await consumer.stop()
        return seen

    assert await consume(3, commit=True) == [b"0", b"1", b"2"]
    # a new member of the group resumes after the last committed offset
    assert await consume(2, commit=False) == [b"3", b"4"]
    # nothing committed in the second run: the same two come again
    assert await consume(2, commit=True) == [b"3", b"4"]


async def test_migrations_are_recorded_and_not_applied_twice() -> None:
    conn = await asyncpg.connect(database_url())
    try:
        await migrate(conn, "intake", "services.intake")  # applies whatever is pending
        assert await migrate(conn, "intake", "services.intake") == []
        names = await conn.fetch("SELECT name FROM intake.schema_migrations ORDER BY name")
        on_disk = sorted(
            [f"shared/{p.name}" for p in (ROOT / "shared/platform/migrations").glob("*.sql")]
            + [
                f"services.intake/{p.name}"
                for p in (ROOT / "services/intake/migrations").glob("*.sql")
            ]
        )
        assert [r["name"] for r in names] == on_disk
    finally:
        await conn.close()
