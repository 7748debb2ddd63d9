"""`python -m tools.traces [PORT]`: an OTLP/HTTP trace receiver on 127.0.0.1 (4318 by default) for
following queries without a tracing backend. Start it, then the services with
`MELDESPIEGEL_TRACING=otlp` (`OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT` for another
port); it prints one line per span as the services export them: time, trace id, service, span,
duration. The tests collect spans with its `Collector`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from shared.platform.asgi import (
    BadRequest,
    EmbeddedServer,
    Receive,
    Scope,
    Send,
    read_body,
    respond_bytes,
)

MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    links: tuple[tuple[str, str], ...] = ()  # (trace id, span id) of each linked span

    def line(self) -> str:
        at = datetime.fromtimestamp(self.start_ns / 1e9, UTC).strftime("%H:%M:%S.%f")[:-3]
        ms = (self.end_ns - self.start_ns) / 1e6
        return f"{at}  {self.trace_id}  {self.service:<16} {self.name:<56} {ms:8.1f} ms"


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return (
        getattr(v, kind)
        if kind in ("string_value", "bool_value", "int_value", "double_value")
        else str(v)
    )


def spans_of(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest.FromString(body)
    out = []
    for resource in request.resource_spans:
        service = next(
            (a.value.string_value for a in resource.resource.attributes if a.key == "service.name"),
            "",
        )
        for scope in resource.scope_spans:
            for s in scope.spans:
                out.append(
                    Span(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_id=s.parent_span_id.hex(),
                        name=s.name,
                        service=service,
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                        attributes={a.key: _value(a.value) for a in s.attributes},
                        links=tuple((k.trace_id.hex(), k.span_id.hex()) for k in s.links),
                    )
                )
    return out


@dataclass
class Collector:
    spans: list[Span] = field(default_factory=list)
    echo: bool = False

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in self.spans if s.trace_id == trace_id]

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST" or scope["path"] != "/v1/traces":
            await respond_bytes(send, 404, "text/plain", b"POST /v1/traces (OTLP/HTTP protobuf)\n")
            return
        try:
            received = spans_of(await read_body(receive, MAX_BODY))
        except BadRequest as exc:
            await respond_bytes(send, exc.status, "text/plain", f"{exc}\n".encode())
            return
        except Exception:  # not an OTLP request
            await respond_bytes(send, 400, "text/plain", b"not an OTLP trace export\n")
            return
        self.spans.extend(received)
        if self.echo:
            for s in sorted(received, key=lambda s: s.start_ns):
                print(s.line(), flush=True)
        answer = ExportTraceServiceResponse().SerializeToString()
        await respond_bytes(send, 200, "application/x-protobuf", answer)

    async def serve(self, port: int, host: str = "127.0.0.1") -> EmbeddedServer:
        server = EmbeddedServer(self.app, host, port)
        await server.begin()
        return server


async def main(port: int) -> None:
    server = await Collector(echo=True).serve(port)
    print(f"OTLP/HTTP trace receiver on http://127.0.0.1:{port}/v1/traces", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.end()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tools.traces")
    parser.add_argument("port", nargs="?", type=int, default=4318)
    asyncio.run(main(parser.parse_args().port))
