"""A service on FastStream's in-memory broker, with the real PostgreSQL or, given in-memory
stores (`tests/fakes/`), with no database at all: handler tests without Kafka."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from faststream.kafka import TestKafkaBroker
from pydantic import BaseModel

from shared.contract.envelope import Envelope
from shared.contract.topics import TopicSpec
from shared.platform.broker import KafkaMessage
from shared.platform.operator_signatures import COMMAND, OperatorKey, Seal
from shared.platform.runtime import ServiceRuntime
from tests.fakes.messaging import MemoryMessaging


class InMemory:
    """`async with InMemory(service, Topics.X, …) as run: await run.deliver(Topics.Y, body)`;
    `run.bodies(Topics.X)` are the events the service published on X, `run.messages` the raw ones
    (a `.dlq` topic by name)."""

    def __init__(
        self,
        service: ServiceRuntime,
        *watch: TopicSpec | str,
        stores: Sequence[object] | None = None,
    ) -> None:
        self.service = service
        self.stores = stores
        self.messages: dict[str, list[KafkaMessage]] = defaultdict(list)
        for topic in watch:
            self._spy(topic if isinstance(topic, str) else topic.name)
        self._testing = TestKafkaBroker(service.broker)

    def _spy(self, name: str) -> None:
        @self.service.broker.subscriber(name)
        async def spy(msg: KafkaMessage) -> None:
            self.messages[name].append(msg)

    async def __aenter__(self) -> InMemory:
        if self.stores is None:
            await self.service.start_resources()
        else:  # the inbox, the outbox and the stores in memory
            self.service.use_messaging(
                MemoryMessaging(self.service.broker, self.service.name, *self.stores)
            )
        self.broker = await self._testing.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._testing.__aexit__(*exc)
        await self.service.close_resources()

    async def deliver(
        self,
        spec: TopicSpec,
        body: BaseModel | dict[str, Any],
        key: str = "k",
        event_id: str | None = None,
        signed_by: OperatorKey | None = None,
        seal: Seal = COMMAND,
    ) -> Envelope:
        """Publishes `body` as an upstream system would; an operator's command signed with
        `signed_by`'s key, as the CLI signs it."""
        envelope = Envelope.new(source="/tests", type=spec.event_type, correlation_id=None)
        if event_id is not None:  # the same event delivered again
            envelope = replace(envelope, id=event_id)
        raw = (
            body.model_dump_json().encode()
            if isinstance(body, BaseModel)
            else json.dumps(body, ensure_ascii=False).encode()
        )
        headers = envelope.to_headers()
        if signed_by is not None:
            headers |= signed_by.sign(seal, spec.name, key.encode(), headers, raw)
        await self.broker.publish(raw, spec.name, key=key.encode(), headers=headers)
        return envelope

    def bodies(self, spec: TopicSpec) -> list[dict[str, Any]]:
        return [json.loads(m.body) for m in self.messages[spec.name]]
