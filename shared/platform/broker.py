"""Broker factory and the consume path every service shares.

- Producer: idempotent, `acks=all`.
- Consumer: no auto-commit; FastStream commits a message's offset after its handler returned, and
  handlers return only after their database transaction committed (see `shared.platform.messaging`).
- Parsing never fails: FastStream's own parser decodes every header as UTF-8 before any of our
  code runs, and a record it cannot parse would be skipped without a dead letter. Our parser keeps
  the raw record and hands FastStream headers it can read; the strict checks come after, in
  `decode_record`, where a failure is a dead letter.
- Decoding (`decode_record`): null value (tombstone), size limit, UTF-8 headers, CloudEvents
  envelope, `ce_type` of the topic, strict JSON with bounded nesting and numbers. Failures are
  *poison*: retrying cannot help, so they go straight to `<topic>.dlq`. Whatever else goes wrong
  while decoding (a `RecursionError`, Python's integer digit limit) is poison too.
- Handler errors: infrastructure errors (database or broker unreachable) are retried for as long as
  it takes, since the message itself is fine; any other error is retried a few times and then
  dead-lettered. A dead letter keeps the original bytes, key and headers (exactly, in
  `dlq_original_headers`, even where they are not UTF-8) plus the error and the original
  topic/partition/offset, so that it can be redriven. The service goes on with the next
  message. If even the dead-letter topic cannot be written, the message is not committed and comes
  again: nothing is lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Annotated, Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaError
from fast_depends.library import CustomField
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage as StreamKafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage
from faststream.middlewares import BaseMiddleware
from pydantic import BaseModel, ValidationError

from shared.contract.deadletter import DeadLetter, exact_headers
from shared.contract.envelope import Envelope, EnvelopeError, correlation_of, decode_headers
from shared.contract.topics import DLQ_MAX_MESSAGE_BYTES, TopicSpec, by_name
from shared.platform import kafka_security, tracing
from shared.platform.logging import event_context, get_logger
from shared.platform.retry import backoff
from shared.platform.settings import Settings

log = get_logger(__name__)
MAX_ERROR_TEXT = 2000


class EventTooLarge(ValueError):
    """The event exceeds `max_event_bytes`."""


class UndecodableEvent(ValueError):
    """The body is not a UTF-8 JSON object."""


class UnknownEventType(ValueError):
    """`ce_type` names no event this topic carries."""


class Tombstone(ValueError):
    """A record without a value on a topic that is not compacted: there it means nothing."""


class UnprovenCommand(ValueError):
    """An operator's command or redrive whose operator is not proven by a valid signature
    (`shared.platform.operator_signatures`); dead-lettered at once with the reason."""


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
    Tombstone,
    EnvelopeError,
    ValidationError,
    UnprovenCommand,
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


class ServiceBroker(KafkaBroker):
    """FastStream's Kafka broker, whose subscribers join the service's consumer group together.
    FastStream starts them one after another, and each waits for its partitions: every consumer
    that joins makes the ones before it rejoin, a rebalance per subscriber."""

    async def start(self) -> None:
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


def make_broker(
    settings: Settings,
    service: str,
    metrics: KafkaPrometheusMiddleware | None = None,
    on_dead_letter: DeadLetterCount | None = None,
) -> KafkaBroker:
    broker = ServiceBroker(
        # FastStream hands a string to aiokafka as one host: a cluster's list is split here
        [server.strip() for server in settings.kafka_bootstrap.split(",") if server.strip()],
        security=kafka_security.security(settings),
        client_id=f"meldespiegel-{service}",
        enable_idempotence=True,
        acks="all",
        linger_ms=settings.kafka_linger_ms,
        # a wave of a batch's events goes out in few requests: with the default 16 KiB a
        # partition's batch fills after a few answers and each further one waits for it to drain;
        # below the brokers' default 1 MiB record-batch limit
        max_batch_size=512 * 1024,
        max_request_size=DLQ_MAX_MESSAGE_BYTES,
        logger=logging.getLogger(f"meldespiegel.{service}.broker"),
        log_level=logging.DEBUG,  # per-message "Received/Processed" lines only when debugging
    )
    provider = tracing.configure(service, settings.tracing)
    if provider is not None:
        # FastStream's OpenTelemetry middleware: a consumed batch is traced with links to its
        # records' traces; a publish (the outbox relay's) is traced within the context the
        # relay restores from the row (`shared.platform.tracing.within`)
        broker.add_middleware(KafkaTelemetryMiddleware(tracer_provider=provider))
    if metrics is not None:
        broker.add_middleware(metrics)
    broker.add_middleware(_dead_letter_middleware(broker, settings, service, on_dead_letter))
    return broker


def subscribe(
    broker: KafkaBroker, spec: TopicSpec, *, group_id: str, settings: Settings
) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """`@subscribe(broker, Topics.X, group_id=…)`: a consumer-group subscriber for one topic."""
    _check_consumable(spec, batched=False)
    return broker.subscriber(
        spec.name,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        parser=_never_failing_parser,
        decoder=_envelope_decoder(spec, spec.max_event_bytes or settings.max_event_bytes),
        title=f"{group_id}:{spec.name}",
        description=spec.description,
        **_membership(settings, spec),
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
    _check_consumable(spec, batched=True)
    return broker.subscriber(
        spec.name,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=settings.batch_max_records,
        batch_timeout_ms=BATCH_POLL_MS,
        parser=_never_failing_parser,
        decoder=_undecoded_batch,
        title=f"{group_id}:{spec.name}",
        description=spec.description,
        **_membership(settings, spec),
    )


class _Message(CustomField):  # type: ignore[misc]
    """The consumed message, taken from FastStream's context in the event loop: FastStream's own
    `Context` field is a plain function, which its dependency injection runs on a worker thread
    at every handler call."""

    def __init__(self) -> None:
        super().__init__(cast=False, required=True)

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        kwargs[self.param_name] = kwargs["context__"].get_local("message")
        return kwargs


# a handler's consumed message, as `faststream.kafka.annotations.KafkaMessage` gives it
KafkaMessage = Annotated[StreamKafkaMessage, _Message()]

# how long an idle batch poll waits for a record; a record that arrives returns it at once
BATCH_POLL_MS = 100
_sleep = asyncio.sleep  # the poll's own sleep, which tests replace to see whether it slept


async def _poll_batch(
    self: BatchSubscriber, consumer: AIOKafkaConsumer
) -> tuple[ConsumerRecord[Any, Any], ...]:
    """FastStream 0.7's batch poll sleeps `batch_timeout_ms` after every empty `getmany`, which
    had already waited that long: a record arriving during that sleep waited for it at every
    hop of the query path. Here the wait is `getmany`'s alone, which returns as soon as a record
    arrives; only a poll that came back empty early sleeps out the rest, so an idle consumer
    never spins."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    batches = await consumer.getmany(timeout_ms=self.batch_timeout_ms, max_records=self.max_records)
    if not batches:
        rest = self.batch_timeout_ms / 1000 - (loop.time() - started)
        if rest > 0.001:  # more than the clock's jitter
            await _sleep(rest)
        return ()
    return tuple(itertools.chain.from_iterable(batches.values()))


BatchSubscriber.get_msg = _poll_batch  # type: ignore[method-assign]


def _membership(settings: Settings, spec: TopicSpec) -> dict[str, Any]:
    """Static membership when the process has a stable name: one member per topic, since each
    subscriber is a consumer of its own. The members of a group learn of a rebalance (a
    replica starting or stopping) with their next heartbeat (`kafka_heartbeat_interval_ms`)."""
    membership: dict[str, Any] = {
        "heartbeat_interval_ms": settings.kafka_heartbeat_interval_ms,
        "session_timeout_ms": settings.kafka_session_timeout_ms,
    }
    if settings.instance_id:
        membership["group_instance_id"] = f"{settings.instance_id}:{spec.name}"
        membership["session_timeout_ms"] = settings.kafka_static_session_timeout_ms
    return membership


def _check_consumable(spec: TopicSpec, *, batched: bool) -> None:
    if not spec.consumed:
        raise ValueError(f"{spec.name} is not marked consumed in the catalogue: it has no .dlq")
    if spec.batched != batched:
        mode = "in batches" if spec.batched else "one by one"
        raise ValueError(f"the catalogue says {spec.name} is consumed {mode}")


async def _undecoded_batch(msg: StreamMessage[Any]) -> Any:
    return list(msg.raw_message)


def envelope_of(msg: StreamMessage[Any]) -> Envelope:
    return Envelope.from_headers(msg.headers)


# no field of the contract needs more: 19 digits hold every 64-bit integer
MAX_INTEGER_DIGITS = 19
RawHeaders = Iterable[tuple[str, bytes | None]]


def strict_headers(raw: RawHeaders | None) -> dict[str, str]:
    """The record's headers as text; raises UndecodableEvent for a null value, a value that is not
    UTF-8, or a header given twice (which of the two would count is not ours to guess)."""
    headers: dict[str, str] = {}
    for name, value in raw or ():
        if value is None:
            raise UndecodableEvent(f"header {name!r} has a null value")
        if name in headers:
            raise UndecodableEvent(f"header {name!r} is given more than once")
        try:
            headers[name] = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UndecodableEvent(f"header {name!r} is not UTF-8: {exc}") from exc
    return headers


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise UndecodableEvent(f"a number has {digits} digits, at most {MAX_INTEGER_DIGITS}")
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UndecodableEvent(f"the number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise UndecodableEvent(f"{name} is not JSON")


def strict_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object: UTF-8, numbers in range, no NaN/Infinity."""
    try:
        decoded = json.loads(
            body.decode("utf-8"),
            parse_int=_integer,
            parse_float=_finite,
            parse_constant=_no_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UndecodableEvent(f"body is not UTF-8 JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise UndecodableEvent(f"body is JSON {type(decoded).__name__}, not an object")
    return decoded


def json_or_none(value: bytes | None) -> dict[str, Any] | None:
    """For readers that only look at a topic (the dashboard, the CLI, the demo feeds): the body as
    a JSON object, or None for anything that is not one (they skip and count it). Never raises."""
    if value is None:
        return None
    try:
        return strict_json(value)
    except Exception:  # RecursionError and the like: whatever it is, it is not readable
        return None


def decode_record(
    spec: TopicSpec, record: ConsumerRecord[Any, Any], max_bytes: int
) -> tuple[Envelope, dict[str, Any]]:
    """Checks value, size, headers, envelope, `ce_type` and JSON of a consumed record; returns its
    envelope and JSON object. Raises POISON only: whatever else fails while decoding a record
    (nesting deeper than Python's recursion limit, say) is the record's fault as well."""
    try:
        if record.value is None:
            raise Tombstone(
                f"a record without a value (tombstone) means nothing on {spec.name}, "
                "which is not compacted"
                if not spec.compacted
                else "a tombstone is handled by the subscriber of a compacted topic"
            )
        body: bytes = record.value
        if len(body) > max_bytes:
            raise EventTooLarge(f"event has {len(body)} bytes, the limit is {max_bytes}")
        envelope = Envelope.from_headers(strict_headers(record.headers))
        if envelope.type != spec.event_type:
            raise UnknownEventType(
                f"ce_type {envelope.type!r} is not carried by {spec.name} "
                f"(expected {spec.event_type!r})"
            )
        return envelope, strict_json(body)
    except POISON:
        raise
    except Exception as exc:  # RecursionError from deep nesting, or whatever else a record provokes
        raise UndecodableEvent(f"cannot be decoded: {type(exc).__name__}: {exc}") from exc


def decode_event(
    spec: TopicSpec, record: ConsumerRecord[Any, Any], max_bytes: int
) -> tuple[Envelope, BaseModel]:
    """`decode_record`, then the topic's event schema; raises POISON only."""
    envelope, decoded = decode_record(spec, record, max_bytes)
    try:
        return envelope, spec.event.model_validate(decoded)
    except ValidationError:
        raise
    except Exception as exc:  # a validator deep in pydantic hitting a limit of its own
        raise UndecodableEvent(f"cannot be validated: {type(exc).__name__}: {exc}") from exc


def is_tombstone(spec: TopicSpec, record: ConsumerRecord[Any, Any]) -> bool:
    """A deletion on a compacted topic: a keyed record without a value."""
    return spec.compacted and record.value is None and record.key is not None


def _readable(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    try:
        for _, value in record.headers or ():
            value.decode("utf-8")  # a null value raises AttributeError
        return record
    except (AttributeError, UnicodeDecodeError):
        lenient = tuple((k, v.encode("utf-8")) for k, v in decode_headers(record.headers).items())
        return dataclasses.replace(record, headers=lenient)


async def _never_failing_parser(
    raw: ConsumerRecord[Any, Any] | Sequence[ConsumerRecord[Any, Any]],
    original: Callable[[Any], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's parser, given headers it can decode; the message keeps the raw record(s), so
    `decode_record` and the dead letter see the original bytes."""
    # a batch is a tuple of records from aiokafka (a list from FastStream's test broker)
    batch = isinstance(raw, tuple | list)
    readable = tuple(map(_readable, raw)) if batch else _readable(raw)
    message = await original(readable)
    message.raw_message = raw
    return message


def _envelope_decoder(spec: TopicSpec, max_bytes: int) -> Callable[..., Awaitable[Any]]:
    async def decode(msg: StreamMessage[Any]) -> Any:
        if is_tombstone(spec, msg.raw_message):
            return None
        return decode_record(spec, msg.raw_message, max_bytes)[1]

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


def retry_delay(settings: Settings, attempt: int) -> float:
    return backoff(settings.retry_backoff_seconds, attempt, settings.retry_backoff_max_seconds)


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
                correlation_id=correlation_of(msg.headers),
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
                        delay = retry_delay(settings, attempt)
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
        **DeadLetter(
            error_type=error_type,
            error=error_text[:MAX_ERROR_TEXT],
            original_topic=record.topic,
            service=service,
            failed_at=datetime.now(UTC),
            original_partition=record.partition,
            original_offset=record.offset,
            original_timestamp=record.timestamp,
            original_headers=exact_headers(record.headers),
            original_value_null=record.value is None,
        ).headers(),
    }
    with event_context(
        event_id=headers.get("ce_id"),
        event_type=headers.get("ce_type"),
        correlation_id=correlation_of(headers),
    ):
        await broker.publish(
            record.value or b"",
            dlq_topic,
            key=record.key,
            headers=dead_headers,
            correlation_id=correlation_of(headers) or headers.get("ce_id"),
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
    "Tombstone",
    "UndecodableEvent",
    "UnknownEventType",
    "UnprovenCommand",
    "decode_event",
    "decode_record",
    "envelope_of",
    "is_tombstone",
    "json_or_none",
    "make_broker",
    "publish_dead_letter",
    "retry_delay",
    "schema_violations",
    "strict_headers",
    "strict_json",
    "subscribe",
    "subscribe_batch",
]
