"""The CLI's Kafka adapter over the platform's one client (`shared.platform.kafka_client`):
events published as an upstream system would, the catalogue's topics named by their spec, a
cluster that does not answer reported as such, and publish-then-wait for an answer."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from pydantic import BaseModel

from operator_cli.domain import Abort
from shared.contract.envelope import Envelope, correlation_of
from shared.contract.topics import TopicSpec
from shared.platform.kafka_client import KafkaClient, Record
from shared.platform.operator_signatures import COMMAND, REDRIVE, OperatorKey

SOURCE = "/operators/meldespiegel-cli"


class BrokerUnreachable(Abort):
    """The cluster does not answer."""


def _name(spec: TopicSpec | str) -> str:
    return spec if isinstance(spec, str) else spec.name


class Kafka(KafkaClient):
    def __init__(
        self,
        bootstrap: str,
        signing: Callable[[], OperatorKey] | None = None,
        *,
        timeout_s: float = 10.0,
        connecting: Callable[[str], AbstractContextManager[Any]] = lambda _: nullcontext(),
        **client_options: Any,
    ) -> None:
        super().__init__(bootstrap, client_id="meldespiegel-cli", **client_options)
        self._existing: set[str] | None = None
        self._signing = signing  # the operator's key, loaded when a command is first signed
        self.timeout_s = timeout_s
        self._connecting = connecting  # shows that the command waits (a spinner on a terminal)

    def operator_key(self) -> OperatorKey:
        if self._signing is None:
            raise Abort("no operator key to sign commands with")
        return self._signing()

    async def __aenter__(self) -> Kafka:
        """Connects, or gives up after `timeout_s`: a broker that accepts the connection but never
        answers would otherwise hold the command for aiokafka's 40 s request timeout."""
        try:
            with self._connecting(f"connecting to {self.bootstrap} …"):
                async with asyncio.timeout(self.timeout_s):
                    self._existing = await super().topics()
        except TimeoutError:
            raise BrokerUnreachable(
                f"no answer from a Kafka broker at {self.bootstrap} within {self.timeout_s:g} s: "
                "something accepts the connection there but does not answer (not Kafka, a TLS "
                "listener, or overloaded); check MELDESPIEGEL_KAFKA_BOOTSTRAP (or --bootstrap), "
                "or wait longer with --timeout"
            ) from None
        except KafkaError as exc:
            raise BrokerUnreachable(
                f"no Kafka broker answers at {self.bootstrap}, or it refused this client "
                f"({exc.__class__.__name__}: {exc}); check MELDESPIEGEL_KAFKA_BOOTSTRAP "
                "(or --bootstrap) and MELDESPIEGEL_KAFKA_SECURITY_PROTOCOL, …_SASL_*"
            ) from None
        return self

    async def topics(self) -> set[str]:
        if self._existing is None:
            self._existing = await super().topics()
        return self._existing

    async def offsets(
        self, topics: Iterable[str]
    ) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        """The first and the next offset of every partition of `topics`."""
        async with self.reader(topics) as consumer:
            parts = sorted(consumer.assignment())
            if not parts:
                return {}, {}
            return await consumer.beginning_offsets(parts), await consumer.end_offsets(parts)

    async def read_key(self, spec: TopicSpec | str, key: str) -> list[Record]:
        """The records of one key: only the partition the key is on is read."""
        return await self.read_keys([(spec, key)])

    async def read_keys(
        self,
        wanted: Iterable[tuple[TopicSpec | str, str]],
        *,
        any_partition: Collection[TopicSpec | str] = (),
    ) -> list[Record]:
        return await super().read_keys(
            ((_name(spec), key) for spec, key in wanted),
            any_partition={_name(spec) for spec in any_partition},
        )

    async def publish_event(
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
        headers = env.to_headers()
        if spec.operator_command:  # the consumer verifies who gave it
            headers |= self.operator_key().sign(COMMAND, spec.name, key.encode(), headers, raw)
        await self.publish(spec.name, raw, key, headers)
        return env

    async def publish_redrive(
        self, topic: str, value: bytes, key: str | None, headers: dict[str, str]
    ) -> None:
        """A dead letter sent back, signed by the operator who sends it (the original command's
        own signature, if it has one, travels on unchanged)."""
        raw_key = key.encode() if key is not None else None
        signed = headers | self.operator_key().sign(REDRIVE, topic, raw_key, headers, value)
        await self.publish(topic, value, key, signed)

    async def ask(
        self,
        spec: TopicSpec,
        event: BaseModel,
        answered_on: Iterable[str],
        answers: Callable[[Record], bool],
        wait_s: float,
    ) -> Record | None:
        """Publishes `event` and returns the first record on `answered_on` that `answers` it and
        was caused by it (it carries the event's correlation id: an earlier answer about the same
        application or command is never taken for this one), or None after `wait_s` seconds.
        The answer topics are followed before publishing."""
        follower = await self.follow(*answered_on)
        try:
            sent = await self.publish_event(spec, event)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait_s
            while loop.time() < deadline:
                for s in await follower.next(1.0):
                    if correlation_of(s.headers) == sent.correlation and answers(s):
                        return s
            return None
        finally:
            await follower.close()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}"
