"""The contract, generated from the code: an AsyncAPI 3.0 document (by FastStream) of every topic
with its payload, who writes it and which services consume it, a JSON Schema per event type
(pydantic), and an OpenAPI 3.1 document per HTTP API (`shared.platform.openapi`).

    python -m tools.contract write   # docs/asyncapi.json, docs/events/<ce_type>.schema.json,
                                     # docs/openapi/<api>.json
    python -m tools.contract check   # exit 1 if the committed documents are stale

Consumers are read from the brokers of the services `tools/registry.py` lists, each built as it
runs, so a subscriber added to a service shows up here without anyone writing it down.
Evolution of `v1` topics is additive only (see `docs/architecture.md`); the stored samples in
`tests/contract/samples/` must keep validating.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification.asyncapi import AsyncAPI
from pydantic import BaseModel

from shared.contract.envelope import (
    CONTENT_TYPE,
    CORRELATION_HEADER,
    REQUIRED_HEADERS,
    SPECVERSION,
    TRACE_HEADER,
)
from shared.contract.topics import CATALOGUE, TopicSpec, by_name
from shared.platform.openapi import document
from shared.platform.runtime import ServiceRuntime
from tools import generated
from tools.registry import PROCESSES

ROOT = generated.ROOT
ASYNCAPI = ROOT / "docs" / "asyncapi.json"
OPENAPI = ROOT / "docs" / "openapi"
# the HTTP APIs: the module that declares each (its API), and its document's name
APIS = {
    "authentication": "services.provisioning.api",
    "protocol": "services.protocol_log.api",
    "portal": "services.portal.api",
}
EVENTS = ROOT / "docs" / "events"
VERSION = "1"


def services() -> list[ServiceRuntime]:
    """Every service process of the registry as it is configured to run (brokers built, nothing
    connected), each with its own environment: one register per state, the offices' registers."""
    built = []
    for process in PROCESSES:
        if process.app is None:
            continue  # reads topics without a consumer group of its own (the dashboard)
        module, name = process.app.split(":")
        with _environment(process.env):
            built.append(getattr(importlib.import_module(module), name)())
    return built


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def consumers() -> dict[str, list[str]]:
    """Topic name -> the services (consumer groups) subscribed to it."""
    found: dict[str, list[str]] = defaultdict(list)
    for service in services():
        for subscriber in service.broker.subscribers:
            for topic in subscriber.topic_names:
                found[topic].append(service.name)
    return {topic: sorted(names) for topic, names in found.items()}


def _typed_handler(model: type[BaseModel]) -> Callable[..., Awaitable[None]]:
    async def handler(event: BaseModel) -> None:
        """Documentation only."""

    handler.__annotations__["event"] = model  # the payload schema FastStream documents
    return handler


def _describe(spec: TopicSpec, readers: list[str]) -> str:
    return (
        f"{spec.description} Key: `{spec.key}`. CloudEvents type `{spec.event_type}` in the "
        f"`ce_type` header. Written by {spec.writer}; read by "
        f"{', '.join(readers) if readers else 'operators and dashboards'}."
        + (f" Errors: `{spec.dlq}`." if spec.consumed else "")
    )


def asyncapi() -> dict[str, Any]:
    readers = consumers()
    broker = KafkaBroker("kafka:9092", description="the operator's Kafka cluster")
    for spec in CATALOGUE:
        who = readers.get(spec.name, [])
        broker.publisher(
            spec.name,
            schema=spec.event,
            title=f"{spec.name}:send",
            description=_describe(spec, who),
        )
        for group in who:
            broker.subscriber(
                spec.name,
                group_id=group,
                title=f"{spec.name}:receive:{group}",
                description=f"{group} consumes {spec.name} in its own consumer group.",
            )(_typed_handler(spec.event))
    document = AsyncAPI(
        broker,
        title="meldespiegel",
        version=VERSION,
        description="Events of the Melderegisterdatenspiegel's back office: access "
        "applications, accounts, secure mail, retrieval and its § 40 BMG protocol. Every event "
        "is JSON with CloudEvents 1.0 attributes as Kafka headers (binary mode).",
    ).to_specification()
    result: dict[str, Any] = json.loads(document.to_json())
    for name, message in result["components"]["messages"].items():
        _envelope(message, by_name(name.split(":", 1)[0]))
    return result


def _envelope(message: dict[str, Any], spec: TopicSpec) -> None:
    """What FastStream does not know: the CloudEvents headers every record carries, and its key."""
    message["headers"] = {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in Kafka's binary content mode",
        "required": list(REQUIRED_HEADERS),
        "properties": {
            "ce_id": {"type": "string", "description": "the event's id: a redelivery keeps it"},
            "ce_source": {"type": "string", "description": "who published the event"},
            "ce_type": {"type": "string", "const": spec.event_type},
            "ce_specversion": {"type": "string", "const": SPECVERSION},
            "ce_time": {"type": "string", "format": "date-time"},
            "ce_subject": {"type": "string", "description": "what the event is about"},
            CORRELATION_HEADER: {
                "type": "string",
                "description": "ties the events of one case together (extension attribute)",
            },
            "content-type": {"type": "string", "const": CONTENT_TYPE},
            TRACE_HEADER: {
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "W3C Trace Context of the event's trace (OpenTelemetry); "
                "optional, a malformed one is ignored",
            },
        },
    }
    message["correlationId"] = {"location": f"$message.header#/{CORRELATION_HEADER}"}
    message["bindings"] = {
        "kafka": {
            "bindingVersion": "0.5.0",
            "key": {
                "type": "string",
                "description": f"the event's `{spec.key}`; records of one key keep their order "
                "(murmur2 partitioner, as Java clients and `kcat -X partitioner=murmur2_random`)",
            },
        }
    }


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, one per event type."""
    by_type: dict[str, list[TopicSpec]] = defaultdict(list)
    for spec in CATALOGUE:
        by_type[spec.event_type].append(spec)
    out = {}
    for event_type, specs in sorted(by_type.items()):
        schema = specs[0].event.model_json_schema()
        out[f"{event_type}.schema.json"] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"urn:meldespiegel:event:{event_type}",
            "x-ce-type": event_type,
            "x-topics": [s.name for s in specs],
            "x-key": specs[0].key,
            **schema,
        }
    return out


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def rendered() -> dict[Path, str]:
    files = {ASYNCAPI: _text(asyncapi())}
    files |= {EVENTS / name: _text(schema) for name, schema in json_schemas().items()}
    files |= {
        OPENAPI / f"{name}.json": _text(document(importlib.import_module(module).API))
        for name, module in APIS.items()
    }
    return files


def stale() -> list[str]:
    """Documents that differ from what the code generates, or that the code no longer makes."""
    return generated.stale(rendered(), owned=EVENTS)


if __name__ == "__main__":
    raise SystemExit(generated.main("tools.contract", rendered, owned=EVENTS))
