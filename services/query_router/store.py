"""query_router's tables: the tenants as last published, and the open and closed Vorgänge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from shared.contract.events.abruf import QueryRequested
from shared.contract.events.account import TenantState


@dataclass(frozen=True)
class Vorgang:
    """A query the router took on; `query` only while it waits for its register."""

    vorgangsnummer: str
    query: QueryRequested
    zugangsart: str | None
    protokollierung: str
    status: str
    land: str | None
    routed_at: datetime
    verfahren_verantwortlich: str | None = None


def _vorgang(r: asyncpg.Record) -> Vorgang:
    return Vorgang(
        r["vorgangsnummer"],
        QueryRequested.model_validate_json(r["query"]),
        r["zugangsart"],
        r["protokollierung"],
        r["status"],
        r["land"],
        r["routed_at"],
        r["verfahren_verantwortlich"],
    )


class Routing(Protocol):
    """What query_router keeps: the tenants as last published and the Vorgänge (the fast
    tier's fake is `tests/fakes/query_router.py`)."""

    async def save_tenant(self, state: TenantState) -> bool: ...
    async def forget_tenant(self, tenant_id: str) -> bool: ...
    async def tenant(self, tenant_id: str) -> TenantState | None: ...
    async def known_query(self, query_id: str) -> bool: ...
    async def open(
        self,
        vorgangsnummer: str,
        query: QueryRequested,
        *,
        land: str | None,
        zugangsart: str | None,
        protokollierung: str,
        status: str,
        now: datetime,
        deadline: datetime | None,
        verfahren_verantwortlich: str | None = None,
    ) -> None: ...
    async def routed(self, vorgangsnummer: str) -> Vorgang | None: ...
    async def known(self, vorgangsnummer: str) -> bool: ...
    async def close(self, vorgangsnummer: str, status: str, now: datetime) -> None: ...
    async def forget_closed(self, before: datetime) -> int: ...
    async def overdue(self, now: datetime, limit: int = 500) -> list[Vorgang]: ...


class RouterStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def save_tenant(self, state: TenantState) -> bool:
        """Keeps the newer version; False if an older or equal one arrived late."""
        return bool(
            await self.conn.fetchval(
                """INSERT INTO mandanten (tenant_id, version, state, updated_at)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (tenant_id) DO UPDATE
                     SET version = EXCLUDED.version, state = EXCLUDED.state,
                         updated_at = EXCLUDED.updated_at
                     WHERE mandanten.version < EXCLUDED.version
                   RETURNING true""",
                state.tenant_id,
                state.version,
                state.model_dump_json(),
                state.updated_at,
            )
        )

    async def forget_tenant(self, tenant_id: str) -> bool:
        """A tenant erased from the compacted state topic; False if it was not known."""
        return bool(
            await self.conn.fetchval(
                "DELETE FROM mandanten WHERE tenant_id = $1 RETURNING true", tenant_id
            )
        )

    async def tenant(self, tenant_id: str) -> TenantState | None:
        raw = await self.conn.fetchval(
            "SELECT state FROM mandanten WHERE tenant_id = $1", tenant_id
        )
        return TenantState.model_validate_json(raw) if raw else None

    async def known_query(self, query_id: str) -> bool:
        return bool(
            await self.conn.fetchval("SELECT true FROM vorgaenge WHERE query_id = $1", query_id)
        )

    async def open(
        self,
        vorgangsnummer: str,
        query: QueryRequested,
        *,
        land: str | None,
        zugangsart: str | None,
        protokollierung: str,
        status: str,
        now: datetime,
        deadline: datetime | None,
        verfahren_verantwortlich: str | None = None,
    ) -> None:
        await self.conn.execute(
            """INSERT INTO vorgaenge (vorgangsnummer, query_id, tenant_id, land, zugangsart,
                   protokollierung, query, status, routed_at, deadline, completed_at,
                   verfahren_verantwortlich)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
            vorgangsnummer,
            query.query_id,
            query.tenant_id,
            land,
            zugangsart,
            protokollierung,
            query.model_dump_json() if status == "routed" else None,
            status,
            now,
            deadline,
            None if status == "routed" else now,
            verfahren_verantwortlich if status == "routed" else None,
        )

    async def routed(self, vorgangsnummer: str) -> Vorgang | None:
        """The Vorgang, locked, if it is still waiting for its register."""
        r = await self.conn.fetchrow(
            "SELECT * FROM vorgaenge WHERE vorgangsnummer = $1 AND status = 'routed' FOR UPDATE",
            vorgangsnummer,
        )
        return _vorgang(r) if r else None

    async def known(self, vorgangsnummer: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT true FROM vorgaenge WHERE vorgangsnummer = $1", vorgangsnummer
            )
        )

    async def close(self, vorgangsnummer: str, status: str, now: datetime) -> None:
        """Closes the Vorgang and drops what only the open query needed (its criteria, the
        Kennung, the procedure's responsible person): the § 40 log has them now."""
        await self.conn.execute(
            """UPDATE vorgaenge SET status = $2, completed_at = $3, query = NULL,
                   verfahren_verantwortlich = NULL
               WHERE vorgangsnummer = $1""",
            vorgangsnummer,
            status,
            now,
        )

    async def forget_closed(self, before: datetime) -> int:
        """Deletes closed Vorgänge (by then only their keys) completed before `before`."""
        deleted = await self.conn.execute(
            "DELETE FROM vorgaenge WHERE status <> 'routed' AND completed_at < $1", before
        )
        return int(deleted.split()[-1])

    async def overdue(self, now: datetime, limit: int = 500) -> list[Vorgang]:
        rows = await self.conn.fetch(
            """SELECT * FROM vorgaenge WHERE status = 'routed' AND deadline < $1
               ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED""",
            now,
            limit,
        )
        return [_vorgang(r) for r in rows]
