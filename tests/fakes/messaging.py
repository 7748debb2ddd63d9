"""The inbox and outbox in memory: what `shared.platform.messaging.Messaging` promises, without a
database. An event's effect runs once per event id; what it produced is published after it
"committed", in order; an effect that fails leaves the fake stores as they were before it (their
tables are copied before and put back), as a rolled-back transaction would."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker

from shared.contract.envelope import Envelope, correlation_of
from shared.platform.messaging import (
    BatchEffect,
    BatchItem,
    Consumed,
    Effect,
    OutboxRow,
    Outgoing,
    ValueEffect,
    outbox_row,
)

T = TypeVar("T")


class _NoPool:
    async def close(self) -> None:
        return None


class MemoryMessaging:
    def __init__(self, broker: KafkaBroker, service: str, *stores: object) -> None:
        self.broker = broker
        self.source = f"/meldespiegel/{service}"
        self.stores = stores
        self.inbox: set[str] = set()
        for store in stores:  # a store that forgets handled events needs this inbox
            bind = getattr(store, "bind", None)
            if bind is not None:
                bind(self)
        self.published: list[OutboxRow] = []
        self.pool = _NoPool()

    async def _transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        # a fake's tables are its dataclass fields; anything else (a reference to this inbox)
        # is wiring and stays as it is
        saved = [
            {f.name: copy.deepcopy(getattr(s, f.name)) for f in dataclasses.fields(s)}  # type: ignore[arg-type]
            for s in self.stores
        ]
        inbox = set(self.inbox)
        try:
            return await work()
        except BaseException:
            for store, state in zip(self.stores, saved, strict=True):
                for name, value in state.items():
                    setattr(store, name, value)
            self.inbox.clear()  # in place: a store may hold this very set
            self.inbox.update(inbox)
            raise

    def _stage(self, outgoing: Sequence[Outgoing], cause: Envelope | None) -> list[OutboxRow]:
        return [outbox_row(out, self.source, cause) for out in outgoing]

    async def _publish(self, rows: Sequence[OutboxRow]) -> None:
        for row in rows:
            await self.broker.publish(
                row.payload.encode("utf-8"),
                row.topic,
                key=row.key.encode("utf-8"),
                headers=row.headers,
                correlation_id=correlation_of(row.headers),
            )
            self.published.append(row)

    async def process_once(self, consumed: Consumed, effect: Effect) -> bool:
        event_id = consumed.envelope.id
        if event_id in self.inbox:
            return False

        async def work() -> list[OutboxRow]:
            rows = self._stage(await effect(None), consumed.envelope)  # type: ignore[arg-type]
            self.inbox.add(event_id)
            return rows

        await self._publish(await self._transaction(work))
        return True

    async def process_batch(self, items: Sequence[BatchItem], effect: BatchEffect) -> bool:
        async def work() -> list[OutboxRow]:
            todo: list[BatchItem] = []
            fresh: set[str] = set()
            for item in items:
                event_id = item.consumed.envelope.id
                if event_id in self.inbox or event_id in fresh:
                    continue
                fresh.add(event_id)
                todo.append(item)
            rows: list[OutboxRow] = []
            if todo:
                outgoing = await effect(None, todo)  # type: ignore[arg-type]
                if len(outgoing) != len(todo):
                    raise RuntimeError("a batch effect must answer each of its events")
                for item, outs in zip(todo, outgoing, strict=True):
                    rows += self._stage(outs, item.consumed.envelope)
            self.inbox |= fresh
            return rows

        try:
            rows = await self._transaction(work)
        except Exception:
            return False  # the caller splits the batch, as with the database
        await self._publish(rows)
        return True

    async def produce(self, effect: Effect) -> list[Envelope]:
        async def no_value(conn: Any) -> tuple[None, Sequence[Outgoing]]:
            return None, await effect(conn)

        _, envelopes = await self.run(no_value)
        return envelopes

    async def run(self, effect: ValueEffect[T]) -> tuple[T, list[Envelope]]:
        async def work() -> tuple[T, list[OutboxRow]]:
            value, outgoing = await effect(None)  # type: ignore[arg-type]
            return value, self._stage(outgoing, None)

        value, rows = await self._transaction(work)
        await self._publish(rows)
        return value, [row.envelope for row in rows]

    async def relay_pending(self, older_than_seconds: float = 0.0) -> int:
        return 0  # published at once: nothing is left over

    async def forget_published(self, older_than_seconds: float) -> int:
        return 0
