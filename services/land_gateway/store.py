"""land_gateway's tables (schema `land_gateway`): the queries sent to other states, and other
states' queries taken on here, each only until its answer went its way (then as keys only, to
recognise a repeat, until the sweep)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import asyncpg

from services.land_gateway.domain import Eingang


class Gateways(Protocol):
    """What land_gateway keeps (the fast tier's fake is `tests/fakes/land_gateway.py`)."""

    async def sent(self, rows: Sequence[tuple[str, str, str]], now: datetime) -> None: ...
    async def take_sent(self, vorgangsnummer: str, now: datetime) -> str | None: ...
    async def receive(self, eingang: Eingang, now: datetime) -> bool: ...
    async def take_received(self, query_id: str, now: datetime) -> Eingang | None: ...
    async def forget(self, before: datetime) -> int: ...


class GatewayStore:
    """Works inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def sent(self, rows: Sequence[tuple[str, str, str]], now: datetime) -> None:
        """(Vorgangsnummer, query id, Land) of each query sent to another state."""
        await self.conn.executemany(
            """INSERT INTO ausgang (vorgangsnummer, query_id, land, sent_at)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
            [(*r, now) for r in rows],
        )

    async def take_sent(self, vorgangsnummer: str, now: datetime) -> str | None:
        """The query id of a query sent and not yet answered, now answered; None otherwise."""
        value: str | None = await self.conn.fetchval(
            """UPDATE ausgang SET answered_at = $2
               WHERE vorgangsnummer = $1 AND answered_at IS NULL RETURNING query_id""",
            vorgangsnummer,
            now,
        )
        return value

    async def receive(self, eingang: Eingang, now: datetime) -> bool:
        """Takes another state's query on; False if it was taken on before."""
        status = await self.conn.execute(
            """INSERT INTO eingang (query_id, land, bezug, freie_suche, received_at)
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
            eingang.query_id,
            eingang.land,
            eingang.bezug,
            eingang.freie_suche,
            now,
        )
        return status.endswith(" 1")

    async def take_received(self, query_id: str, now: datetime) -> Eingang | None:
        """Another state's query still waiting for its answer, now answered; None if there is
        none (unknown, or answered before)."""
        r = await self.conn.fetchrow(
            """UPDATE eingang SET answered_at = $2
               WHERE query_id = $1 AND answered_at IS NULL
               RETURNING query_id, land, bezug, freie_suche""",
            query_id,
            now,
        )
        return Eingang(r["query_id"], r["land"], r["bezug"], r["freie_suche"]) if r else None

    async def forget(self, before: datetime) -> int:
        """Deletes what was answered before `before`."""
        deleted = 0
        for table in ("ausgang", "eingang"):
            status = await self.conn.execute(
                f"DELETE FROM {table} WHERE answered_at < $1",
                before,
            )
            deleted += int(status.split()[-1])
        return deleted
