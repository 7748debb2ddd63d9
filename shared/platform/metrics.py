"""Prometheus metrics of one service, and the small HTTP endpoint that serves them.

- FastStream's Kafka middleware: messages received, processed (with status), their duration,
  messages in process, publishes (prefix `meldespiegel_`, label `app_name` = the service);
- `meldespiegel_consumer_lag{topic,partition,group}`: records not yet consumed, per assigned
  partition, refreshed periodically;
- `meldespiegel_dead_letters_total{topic,error_type}`: events this service dead-lettered.

`GET /metrics` answers in the Prometheus text format, `GET /health` 200 while the service is
consuming (503 otherwise), for probes. The port is `MELDESPIEGEL_METRICS_PORT` (0: off).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from shared.platform.logging import get_logger

log = get_logger(__name__)
MAX_REQUEST = 8192


class Metrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.faststream = KafkaPrometheusMiddleware(
            registry=self.registry, app_name=service, metrics_prefix="meldespiegel"
        )
        self.lag = Gauge(
            "meldespiegel_consumer_lag",
            "Records on the partition not yet consumed by the service's group",
            ["topic", "partition", "group"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "meldespiegel_dead_letters",
            "Events the service put on a dead-letter topic",
            ["topic", "error_type"],
            registry=self.registry,
        )
        self.healthy: Callable[[], bool] = lambda: False

    def dead_lettered(self, topic: str, error_type: str) -> None:
        self.dead_letters.labels(topic, error_type).inc()

    async def update_lag(self, broker: KafkaBroker, group: str) -> None:
        for subscriber in broker.subscribers:
            consumer: Any = getattr(subscriber, "consumer", None)
            if consumer is None:
                continue
            for tp in consumer.assignment():
                highwater = consumer.highwater(tp)
                if highwater is None:
                    continue  # nothing fetched from the partition yet
                with contextlib.suppress(Exception):  # a partition revoked meanwhile
                    position = await consumer.position(tp)
                    self.lag.labels(tp.topic, str(tp.partition), group).set(
                        max(0, highwater - position)
                    )

    async def serve(self, host: str, port: int) -> asyncio.Server:
        server = await asyncio.start_server(self._handle, host, port)
        log.info("metrics endpoint listening", host=host, port=port)
        return server

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            method, path, *_ = head[:MAX_REQUEST].decode("latin-1").split(" ", 2)
            if method != "GET":
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path.split("?")[0] == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
            elif path.split("?")[0] == "/health":
                ok = self.healthy()
                status = "200 OK" if ok else "503 Service Unavailable"
                ctype, body = (
                    "application/json",
                    b'{"status": "%s"}\n' % (b"ok" if ok else b"starting"),
                )
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"/metrics or /health\n"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode("latin-1")
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass  # a client that does not speak HTTP gets nothing
        finally:
            writer.close()
