"""Creates the catalogue's topics, and a `.dlq` companion for every consumed one, idempotently.

`python -m shared.platform.kafka_admin ensure` is run by the stack scripts; running it again
changes nothing except to add partitions a topic lacks (Kafka cannot take partitions away).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.contract.topics import CATALOGUE, DAY_MS, DLQ_MAX_MESSAGE_BYTES, TopicSpec
from shared.platform import kafka_security
from shared.platform.settings import get_settings

DLQ_RETENTION_MS = 365 * DAY_MS  # dead letters wait for an operator; they must not expire first


@dataclass(frozen=True)
class Wanted:
    name: str
    partitions: int
    configs: dict[str, str]


def wanted_topics(specs: Sequence[TopicSpec] = CATALOGUE) -> list[Wanted]:
    topics: list[Wanted] = []
    for spec in specs:
        topics.append(Wanted(spec.name, spec.partitions, spec.configs()))
        if spec.consumed:
            topics.append(
                Wanted(
                    spec.dlq,
                    1,  # low volume; one partition keeps dead letters in arrival order
                    {
                        "cleanup.policy": "delete",
                        "retention.ms": str(DLQ_RETENTION_MS),
                        "max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES),
                    },
                )
            )
    return topics


async def ensure_topics(
    bootstrap: str,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
    specs: Sequence[TopicSpec] = CATALOGUE,
    **client_options: Any,
) -> dict[str, str]:
    """Returns what happened to each topic (the catalogue's, or `specs`): created, partitions
    added, or unchanged. The replication is the environment's (one broker locally, three in a
    cluster); `client_options` are the cluster's security options
    (`shared.platform.kafka_security`)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="meldespiegel-admin", **client_options
    )
    await admin.start()
    outcome: dict[str, str] = {}
    try:
        existing = set(await admin.list_topics())
        wanted = wanted_topics(specs)
        missing = [w for w in wanted if w.name not in existing]
        if missing:
            # another process may create them meanwhile
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            w.name,
                            w.partitions,
                            replication_factor,
                            topic_configs={
                                **w.configs,
                                "min.insync.replicas": str(min_insync_replicas),
                            },
                        )
                        for w in missing
                    ]
                )
            outcome.update({w.name: "created" for w in missing})
        present = [w for w in wanted if w.name in existing]
        if present:
            described = await admin.describe_topics([w.name for w in present])
            counts = {t["topic"]: len(t["partitions"]) for t in described}
            grow = {
                w.name: NewPartitions(w.partitions)
                for w in present
                if counts.get(w.name, w.partitions) < w.partitions
            }
            if grow:
                await admin.create_partitions(grow)
            for w in present:
                outcome[w.name] = "partitions added" if w.name in grow else "unchanged"
    finally:
        await admin.close()
    return outcome


def main(argv: list[str]) -> int:
    if argv[:1] != ["ensure"]:
        print("usage: python -m shared.platform.kafka_admin ensure", file=sys.stderr)
        return 2
    settings = get_settings()
    outcome = asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap,
            settings.kafka_replication_factor,
            settings.kafka_min_insync_replicas,
            **kafka_security.client_options(settings),
        )
    )
    changed = {k: v for k, v in outcome.items() if v != "unchanged"}
    print(
        f"[topics] {len(outcome)} topics in the catalogue, {len(changed)} changed"
        + "".join(f"\n  {name}: {what}" for name, what in sorted(changed.items())),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
