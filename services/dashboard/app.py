"""The dashboard service: a read model of the log, metrics and review topics, served as a live
page (server-sent events) to operators.

The page's state is a fold of what the topics hold. Every `dashboard_checkpoint_seconds` the
fold and the next offset of each partition go to the compacted `min.dashboard.checkpoint.v1`; a
restart takes the newest checkpoint and reads on from its offsets (from the earliest retained
record if there is none, or if it cannot be read). A record the page cannot read is skipped and
counted (`unreadable` in /state), never retried, so no record can stop the page. `behind` says
how many records are still to be read. Dead-letter sizes are the retained records of every
`.dlq` topic, polled.

GET /         the page
GET /events   the state as server-sent events, on every change
GET /state    the state as JSON
GET /health   200 while the topics are being read (with how far behind), 503 before
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from importlib import resources

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import Field

from services.dashboard.domain import WATCHED, Dashboard
from shared.contract.envelope import Envelope
from shared.contract.events.betrieb import DashboardCheckpoint
from shared.contract.topics import CATALOGUE, Topics
from shared.platform.asgi import Receive, Scope, Send, respond_bytes
from shared.platform.broker import json_or_none
from shared.platform.kafka_client import KafkaClient
from shared.platform.kafka_security import client_options
from shared.platform.logging import get_logger
from shared.platform.settings import Settings

log = get_logger(__name__)
SERVICE = "dashboard"


class DashboardSettings(Settings):
    dashboard_host: str = Field("127.0.0.1", description="where the page listens")
    dashboard_port: int = Field(8090, description="port of the page, /events, /state, /health")
    dashboard_dlq_seconds: float = Field(5.0, description="how often dead-letter sizes are read")
    dashboard_checkpoint_seconds: float = Field(
        30.0, description="how often the read model and positions are checkpointed"
    )
    dashboard_reader: str = Field(
        "dashboard", description="the checkpoint's key; one per dashboard that reads on its own"
    )


PATHS = ("/", "/state", "/health", "/events")


class DashboardService:
    def __init__(self, settings: DashboardSettings | None = None) -> None:
        self.settings = settings or DashboardSettings()
        self.state = Dashboard()
        self.changed = asyncio.Condition()
        self.reading = False
        self._tasks: list[asyncio.Task[None]] = []
        self.page = resources.files("services.dashboard").joinpath("page.html").read_bytes()

    # -- reading the topics --------------------------------------------------------------------

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._read_topics()),
            asyncio.create_task(self._read_dead_letters()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def _client(self) -> KafkaClient:
        return KafkaClient(
            self.settings.kafka_bootstrap,
            client_id=f"meldespiegel-{SERVICE}",
            **client_options(self.settings),
        )

    async def _read_topics(self) -> None:
        while True:
            try:
                async with self._client() as client:
                    positions = await self._restore(client)
                    async with client.reader(WATCHED) as consumer:
                        partitions = sorted(consumer.assignment())
                        starts = await consumer.beginning_offsets(partitions)
                        for tp in partitions:
                            at = positions.get(_ref(tp))
                            start = starts[tp]
                            consumer.seek(tp, at if at is not None and at >= start else start)
                        self.reading = True
                        try:
                            await self._follow(consumer, client, partitions, positions)
                        finally:
                            self.reading = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker away: read again once it is back
                log.warning("reading the topics failed, retrying", error=repr(exc))
                await asyncio.sleep(5)

    async def _follow(
        self,
        consumer: AIOKafkaConsumer,
        client: KafkaClient,
        partitions: list[TopicPartition],
        positions: dict[str, int],
    ) -> None:
        loop = asyncio.get_running_loop()
        next_checkpoint = next_lag = loop.time()
        saved = notified = self.state.version
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=500, max_records=1000)
                for records in batch.values():
                    for r in records:
                        self.state.apply(r.topic, json_or_none(r.value))
                        positions[_ref(TopicPartition(r.topic, r.partition))] = r.offset + 1
                now = loop.time()
                if now >= next_lag:
                    self.state.set_behind(await _behind(consumer, partitions))
                    next_lag = now + 2.0
                if self.state.version != notified:
                    notified = self.state.version
                    await self._notify()
                if now >= next_checkpoint and self.state.version != saved:
                    saved = self.state.version
                    await self._checkpoint(client, positions)
                    next_checkpoint = now + self.settings.dashboard_checkpoint_seconds
        finally:
            if self.state.version != saved:  # at shutdown: what was read since the last one
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._checkpoint(client, positions), 5)

    async def _restore(self, client: KafkaClient) -> dict[str, int]:
        """The newest readable checkpoint of this reader: the fold goes into `self.state`, the
        positions are returned. No checkpoint, or none readable: an empty fold, no positions."""
        newest: DashboardCheckpoint | None = None
        for r in await client.read(Topics.DASHBOARD_CHECKPOINT.name):
            try:
                found = DashboardCheckpoint.model_validate(json_or_none(r.value))
            except Exception:
                continue  # not a checkpoint: read on
            if found.reader == self.settings.dashboard_reader:
                newest = found
        if newest is not None:
            try:
                self.state = Dashboard.restored(newest.state)
                log.info("read model restored", written_at=newest.written_at.isoformat())
                return dict(newest.positions)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("checkpoint not usable, reading from the beginning", error=repr(exc))
        self.state = Dashboard()
        return {}

    async def _checkpoint(self, client: KafkaClient, positions: dict[str, int]) -> None:
        spec = Topics.DASHBOARD_CHECKPOINT
        event = DashboardCheckpoint(
            reader=self.settings.dashboard_reader,
            positions=positions,
            state=self.state.checkpoint(),
            written_at=datetime.now(UTC),
        )
        envelope = Envelope.new(
            source=f"/meldespiegel/{SERVICE}", type=spec.event_type, correlation_id=None
        )
        await client.publish(
            spec.name, event.model_dump_json().encode(), spec.key_of(event), envelope.to_headers()
        )

    async def _read_dead_letters(self) -> None:
        dlqs = [spec.dlq for spec in CATALOGUE if spec.consumed]
        while True:
            try:
                async with self._client().reader(dlqs) as consumer:
                    partitions = sorted(consumer.assignment())
                    while True:
                        starts = await consumer.beginning_offsets(partitions)
                        ends = await consumer.end_offsets(partitions)
                        sizes: dict[str, int] = {}
                        for tp in partitions:
                            sizes[tp.topic] = sizes.get(tp.topic, 0) + ends[tp] - starts[tp]
                        before = self.state.version
                        self.state.set_dead_letters({t: n for t, n in sizes.items() if n})
                        if self.state.version != before:
                            await self._notify()
                        await asyncio.sleep(self.settings.dashboard_dlq_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reading dead-letter sizes failed, retrying", error=repr(exc))
                await asyncio.sleep(5)

    # -- serving the page ----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path not in PATHS:
            await respond_bytes(send, 404, "text/plain", b"not found\n")
        elif scope["method"] != "GET":
            await respond_bytes(send, 405, "text/plain", b"GET only\n")
        elif path == "/":
            await respond_bytes(send, 200, "text/html; charset=utf-8", self.page)
        elif path == "/state":
            body = json.dumps(self.state.snapshot(), ensure_ascii=False).encode()
            await respond_bytes(send, 200, "application/json", body)
        elif path == "/health":
            ok = self.reading
            status = {"status": "ok" if ok else "starting", "behind": self.state.behind}
            await respond_bytes(
                send, 200 if ok else 503, "application/json", json.dumps(status).encode()
            )
        else:
            await self._stream(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _stream(self, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        gone = asyncio.create_task(_disconnected(receive))
        sent = -1
        try:
            while not gone.done():
                if self.state.version != sent:
                    sent = self.state.version
                    data = json.dumps(self.state.snapshot(), ensure_ascii=False)
                    await send(
                        {
                            "type": "http.response.body",
                            "body": f"data: {data}\n\n".encode(),
                            "more_body": True,
                        }
                    )
                async with self.changed:
                    with contextlib.suppress(TimeoutError):
                        # a comment every 15 s keeps proxies from closing an idle stream
                        await asyncio.wait_for(self.changed.wait(), 15)
                if self.state.version == sent and not gone.done():
                    await send(
                        {"type": "http.response.body", "body": b": idle\n\n", "more_body": True}
                    )
        except OSError:
            pass  # the browser went away
        finally:
            gone.cancel()


async def _behind(
    consumer: AIOKafkaConsumer,
    parts: list[TopicPartition],
    ends: dict[TopicPartition, int] | None = None,
) -> int:
    """Records between the consumer's positions and the ends (now, or as given)."""
    ends = ends or await consumer.end_offsets(parts)
    return sum([max(0, ends[tp] - await consumer.position(tp)) for tp in parts])


def _ref(tp: TopicPartition) -> str:
    return f"{tp.topic}/{tp.partition}"


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
