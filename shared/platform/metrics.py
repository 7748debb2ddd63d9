"""Prometheus metrics of one service, and the HTTP endpoint that serves them.

- FastStream's Kafka middleware: messages received, processed (with status), their duration,
  messages in process, publishes (prefix `meldespiegel_`, label `app_name` = the service);
- `meldespiegel_consumer_lag{topic,partition,group}`: records not yet consumed, per assigned
  partition, refreshed periodically;
- `meldespiegel_dead_letters_total{topic,error_type}`: events this service dead-lettered.

`GET /metrics` answers in the Prometheus text format (prometheus_client's ASGI app), `GET /health`
200 while the service is consuming (503 otherwise), for probes (FastStream's ASGI handler); both
under uvicorn on `MELDESPIEGEL_METRICS_PORT` (0: off).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.asgi.response import JSONResponse
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge, make_asgi_app

from shared.platform.asgi import EmbeddedServer
from shared.platform.logging import get_logger

log = get_logger(__name__)


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

    def asgi(self) -> ASGIApp:
        """`/metrics` is prometheus_client's ASGI app on this registry, `/health` a FastStream
        ASGI handler; anything else is a 404."""

        async def health(scope: Scope) -> AsgiResponse:
            ok = self.healthy()
            return JSONResponse({"status": "ok" if ok else "starting"}, 200 if ok else 503)

        routes: dict[str, ASGIApp] = {
            "/metrics": make_asgi_app(self.registry),
            "/health": get(health, include_in_schema=False),
        }

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return  # lifespan: nothing to start
            route = routes.get(scope["path"])
            if route is None:
                await AsgiResponse(b"/metrics or /health\n", 404)(scope, receive, send)
                return
            await route(scope, receive, send)

        return app

    async def serve(self, host: str, port: int) -> EmbeddedServer:
        """The endpoint under uvicorn, as a task of the running service."""
        server = EmbeddedServer(self.asgi(), host, port)
        await server.begin()
        log.info("metrics endpoint listening", host=host, port=port)
        return server
