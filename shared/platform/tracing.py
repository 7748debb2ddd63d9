"""OpenTelemetry tracing across the hops, so that one query (or application) is followed from the
front end's request to the released answer in any OpenTelemetry backend.

- FastStream's Kafka telemetry middleware traces each consumed batch (linked to the traces of its
  records) and each publish.
- Every event a service publishes gets a span of its own in its cause's trace: a child of the
  `traceparent` the consumed event carried, from the start of its batch to its outbox row. Its
  W3C trace context goes into the outbox row's `traceparent` header, so the trace survives the
  outbox: the relay publishes within that context, even after a restart, and the next hop
  continues it.
- `MELDESPIEGEL_TRACING=otlp` exports over OTLP/HTTP to where the standard variables say
  (`OTEL_EXPORTER_OTLP_ENDPOINT`, default http://localhost:4318); `off` (the default) records
  nothing and passes a consumed event's `traceparent` on unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry import context, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.contract.envelope import TRACE_HEADER, traceparent_of

_PROPAGATOR = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None


def configure(service: str, exporter: str) -> TracerProvider | None:
    """The tracer provider of this process, exporting as `exporter` says ("otlp" or "off")."""
    global _provider
    if exporter == "off":
        return None
    if exporter != "otlp":
        raise ValueError(f"MELDESPIEGEL_TRACING: otlp or off, not {exporter!r}")
    if _provider is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        _provider = TracerProvider(
            resource=Resource.create({"service.name": service, "service.namespace": "meldespiegel"})
        )
        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
    return _provider


def shutdown() -> None:
    """Exports what is still buffered (at the service's stop)."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def hop(
    cause: str | None, name: str, attributes: Mapping[str, str], started_ns: int | None = None
) -> str | None:
    """The traceparent of an event this service publishes: its own span, a child of the cause's
    trace context (a new trace without one), from `started_ns` to now. Without tracing, the
    cause's traceparent as it came."""
    if _provider is None:
        return cause
    parent = _PROPAGATOR.extract({TRACE_HEADER: cause}) if cause else context.Context()
    span = _provider.get_tracer("meldespiegel").start_span(
        name, context=parent, attributes=dict(attributes), start_time=started_ns
    )
    span.end()
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get(TRACE_HEADER)


@contextlib.contextmanager
def within(headers: Mapping[str, str]) -> Iterator[None]:
    """Runs the block (a publish) in the trace context the headers carry, so that the publish's
    spans belong to the event's trace, whenever the outbox relays it."""
    traceparent = traceparent_of(headers)
    if _provider is None or traceparent is None:
        yield
        return
    token = context.attach(_PROPAGATOR.extract({TRACE_HEADER: traceparent}))
    try:
        yield
    finally:
        context.detach(token)
