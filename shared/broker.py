"""Broker factory and the consume path every service shares.

- Producer: idempotent, `acks=all`.
- Consumer: no auto-commit; FastStream commits a message's offset after its handler returned, and
  handlers return only after their database transaction committed (see `shared.messaging`).
- Decoding: size limit, CloudEvents headers, `ce_type` of the topic, strict JSON. Failures are
  *poison*: retrying cannot help, so they go straight to `<topic>.dlq`.
- Handler errors: infrastructure errors (database or broker unreachable) are retried for as long as
  it takes, since the message itself is fine; any other error is retried a few times and then
  dead-lettered. A dead letter keeps the original bytes, key and headers plus the error and the
  original topic/partition/offset, so that it can be redriven. The service goes on with the next
  message. If even the dead-letter topic cannot be written, the message is not committed and comes
  again: nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.message import StreamMessage
from faststream.middlewares import BaseMiddleware
from pydantic import ValidationError

from shared import kafka_security
from shared.envelope import Envelope, EnvelopeError, decode_headers
from shared.logging import event_context, get_logger
from shared.settings import Settings
from shared.topics import DLQ_MAX_MESSAGE_BYTES, TopicSpec, by_name

log = get_logger(__name__)
MAX_ERROR_TEXT = 2000


class EventTooLarge(ValueError):
    """The event exceeds `max_event_bytes`."""


class UndecodableEvent(ValueError):
    """The body is not a UTF-8 JSON object."""


class UnknownEventType(ValueError):
    """`ce_type` names no event this topic carries."""


class HandlerGaveUp(RuntimeError):
    """A handler kept failing; the message is dead-lettered with the last error."""

    def __init__(self, attempts: int, cause: Exception) -> None:
        super().__init__(f"gave up after {attempts} attempts: {type(cause).__name__}: {cause}")
        self.attempts = attempts
        self.cause = cause


POISON: tuple[type[Exception], ...] = (
    EventTooLarge,
    UndecodableEvent,
    UnknownEventType,
    EnvelopeError,
    ValidationError,
)
INFRASTRUCTURE: tuple[type[Exception], ...] = (
    OSError,  # includes ConnectionError and socket timeouts
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    KafkaConnectionError,
    KafkaError,
)


DeadLetterCount = Callable[[str, str], None]  # (original topic, error type)


def make_broker(
    settings: Settings,
    service: str,
    metrics: KafkaPrometheusMiddleware | None = None,
    on_dead_letter: DeadLetterCount | None = None,
) -> KafkaBroker:
    broker = KafkaBroker(
        settings.kafka_bootstrap,
        security=kafka_security.security(settings),
        client_id=f"meldespiegel-{service}",
        enable_idempotence=True,
        acks="all",
        max_request_size=DLQ_MAX_MESSAGE_BYTES,
        logger=logging.getLogger(f"meldespiegel.{service}.broker"),
        log_level=logging.DEBUG,  # per-message "Received/Processed" lines only when debugging
    )
    if metrics is not None:
        broker.add_middleware(metrics)
    broker.add_middleware(_dead_letter_middleware(broker, settings, service, on_dead_letter))
    return broker


def subscribe(
    broker: KafkaBroker, spec: TopicSpec, *, group_id: str, settings: Settings
) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """`@subscribe(broker, Topics.X, group_id=…)`: a consumer-group subscriber for one topic."""
    if not spec.consumed:
        raise ValueError(f"{spec.name} is not marked consumed in the catalogue: it has no .dlq")
    return broker.subscriber(
        spec.name,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_envelope_decoder(spec, spec.max_event_bytes or settings.max_event_bytes),
        title=f"{group_id}:{spec.name}",
        description=spec.description,
    )


def subscribe_batch(
    broker: KafkaBroker,
    spec: TopicSpec,
    *,
    group_id: str,
    settings: Settings,
) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """A consumer-group subscriber that hands over what the broker has, up to
    `batch_max_records` records at a time, undecoded: `ServiceRuntime.consume_batch` decodes
    each record itself, so that one poisoned record cannot take its batch with it. The offsets
    are committed once the batch's handler returned."""
    if not spec.consumed:
        raise ValueError(f"{spec.name} is not marked consumed in the catalogue: it has no .dlq")
    return broker.subscriber(
        spec.name,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=10,  # an idle poll waits (and then sleeps) this long; data returns at once
        decoder=_undecoded_batch,
        title=f"{group_id}:{spec.name}",
        description=spec.description,
    )


async def _undecoded_batch(msg: StreamMessage[Any]) -> Any:
    return list(msg.raw_message)


def envelope_of(msg: StreamMessage[Any]) -> Envelope:
    return Envelope.from_headers(msg.headers)


def decode_event(spec: TopicSpec, headers: Mapping[str, str], body: bytes, max_bytes: int) -> Any:
    """Checks size, envelope, `ce_type` and JSON; returns the JSON object. Raises POISON."""
    if len(body) > max_bytes:
        raise EventTooLarge(f"event has {len(body)} bytes, the limit is {max_bytes}")
    envelope = Envelope.from_headers(headers)
    if envelope.type != spec.event_type:
        raise UnknownEventType(
            f"ce_type {envelope.type!r} is not carried by {spec.name} "
            f"(expected {spec.event_type!r})"
        )
    try:
        decoded = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UndecodableEvent(f"body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise UndecodableEvent(f"body is JSON {type(decoded).__name__}, not an object")
    return decoded


def _envelope_decoder(spec: TopicSpec, max_bytes: int) -> Callable[..., Awaitable[Any]]:
    async def decode(msg: StreamMessage[Any]) -> Any:
        return decode_event(spec, msg.headers, msg.body or b"", max_bytes)

    return decode


def schema_violations(exc: ValidationError) -> str:
    """A pydantic error as one line a sender can act on: each field and what is wrong with it."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in exc.errors()
    )
    return f"{exc.error_count()} schema violation(s): {problems}"


def _describe(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, HandlerGaveUp):
        return f"HandlerGaveUp:{type(exc.cause).__name__}", str(exc)
    if isinstance(exc, ValidationError):
        return "ValidationError", schema_violations(exc)
    return type(exc).__name__, str(exc)


def _backoff(settings: Settings, attempt: int) -> float:
    # the exponent is capped: an outage may last thousands of attempts
    factor = 2 ** min(attempt - 1, 20)
    return min(settings.retry_backoff_seconds * factor, settings.retry_backoff_max_seconds)


def _dead_letter_middleware(
    broker: KafkaBroker, settings: Settings, service: str, on_dead_letter: DeadLetterCount | None
) -> type[BaseMiddleware]:
    class DeadLetterMiddleware(BaseMiddleware):
        async def consume_scope(
            self, call_next: Callable[[StreamMessage[Any]], Awaitable[Any]], msg: StreamMessage[Any]
        ) -> Any:
            attempt = 0
            with event_context(
                event_id=msg.headers.get("ce_id"),
                event_type=msg.headers.get("ce_type"),
                correlation_id=msg.headers.get("correlation_id"),
            ):
                while True:
                    attempt += 1
                    try:
                        return await call_next(msg)
                    except POISON:
                        raise
                    except Exception as exc:
                        # an outage is not the message's fault: wait it out, however long
                        outage = isinstance(exc, INFRASTRUCTURE)
                        if not outage and attempt >= settings.handler_max_attempts:
                            raise HandlerGaveUp(attempt, exc) from exc
                        delay = _backoff(settings, attempt)
                        log.warning(
                            "infrastructure unavailable, retrying"
                            if outage
                            else "handler failed, retrying",
                            error=repr(exc),
                            attempt=attempt,
                            retry_in_s=delay,
                        )
                        await asyncio.sleep(delay)

        async def after_processed(
            self,
            exc_type: type[BaseException] | None = None,
            exc_val: BaseException | None = None,
            exc_tb: TracebackType | None = None,
        ) -> bool | None:
            if exc_val is None or not isinstance(exc_val, Exception):
                return False  # success, or cancellation at shutdown: not committed, comes again
            record = self.msg
            if isinstance(record, tuple):
                # a batch handler lets only outages escape; anything else is a defect: the batch
                # is not committed and comes again, its finished events recognised by the inbox
                log.error(
                    "batch handler failed; the batch will be redelivered", error=repr(exc_val)
                )
                return False
            return await publish_dead_letter(broker, record, exc_val, service, on_dead_letter)

    return DeadLetterMiddleware


async def publish_dead_letter(
    broker: KafkaBroker,
    record: ConsumerRecord[Any, Any],
    exc: Exception,
    service: str,
    on_dead_letter: DeadLetterCount | None = None,
) -> bool:
    """Publishes `record` to its topic's `.dlq` with the error and its original position;
    False (not committed, comes again) if the topic has no dead-letter companion. Raises if the
    dead-letter topic cannot be written."""
    headers = decode_headers(record.headers or ())
    error_type, error_text = _describe(exc)
    try:
        dlq_topic = by_name(record.topic).dlq
    except KeyError:
        log.error(
            "no dead-letter topic for this topic; not committed",
            topic=record.topic,
            error_type=error_type,
            error=error_text[:300],
        )
        return False
    dead_headers = {
        **headers,
        "dlq_error_type": error_type,
        "dlq_error": error_text[:MAX_ERROR_TEXT],
        "dlq_original_topic": record.topic,
        "dlq_original_partition": str(record.partition),
        "dlq_original_offset": str(record.offset),
        "dlq_original_timestamp": str(record.timestamp),
        "dlq_service": service,
        "dlq_failed_at": datetime.now(UTC).isoformat(),
    }
    with event_context(
        event_id=headers.get("ce_id"),
        event_type=headers.get("ce_type"),
        correlation_id=headers.get("correlation_id"),
    ):
        await broker.publish(
            record.value or b"",
            dlq_topic,
            key=record.key,
            headers=dead_headers,
            correlation_id=headers.get("correlation_id") or headers.get("ce_id"),
        )
        log.error(
            "event dead-lettered",
            dlq_topic=dlq_topic,
            error_type=error_type,
            error=error_text[:300],
            partition=record.partition,
            offset=record.offset,
        )
    if on_dead_letter is not None:
        on_dead_letter(record.topic, error_type)
    return True


__all__ = [
    "INFRASTRUCTURE",
    "POISON",
    "EnvelopeError",
    "EventTooLarge",
    "HandlerGaveUp",
    "UndecodableEvent",
    "UnknownEventType",
    "decode_event",
    "envelope_of",
    "make_broker",
    "publish_dead_letter",
    "schema_violations",
    "subscribe",
    "subscribe_batch",
]
