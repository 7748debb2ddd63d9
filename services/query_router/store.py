"""query_router's tables: the tenants as last published, and the open and closed Vorgänge."""

from __future__ import annotations

from collections.abc import Collection, Sequence
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


@dataclass(frozen=True)
class Opening:
    """A Vorgang as the router takes it on: routed to a register, or refused at once."""

    vorgangsnummer: str
    query: QueryRequested
    land: str | None
    zugangsart: str | None
    protokollierung: str
    status: str
    at: datetime
    deadline: datetime | None
    verfahren_verantwortlich: str | None = None

    @property
    def waits(self) -> bool:
        """Routed: it waits for its register's answer."""
        return self.status == "routed"


class Routing(Protocol):
    """What query_router keeps: the tenants as last published and the Vorgänge (the fast
    tier's fake is `tests/fakes/query_router.py`). A batch of queries or answers costs a few
    statements, not a few per event."""

    async def save_tenant(self, state: TenantState) -> bool: ...
    async def forget_tenant(self, tenant_id: str) -> bool: ...
    async def tenants(self, tenant_ids: Collection[str]) -> dict[str, TenantState]: ...
    async def known_queries(self, query_ids: Collection[str]) -> set[str]: ...
    async def open_all(self, openings: Sequence[Opening]) -> None: ...
    async def answer(
        self, vorgangsnummern: Collection[str], now: datetime
    ) -> dict[str, Vorgang]: ...
    async def known(self, vorgangsnummern: Collection[str]) -> set[str]: ...
    async def close(self, vorgangsnummern: Collection[str], status: str, now: datetime) -> None: ...
    async def forget_closed(self, before: datetime) -> int: ...
    async def overdue(self, now: datetime, limit: int = 500) -> list[Vorgang]: ...


class TenantView:
    """The tenants' states as parsed, by version: a batch reads which version each of its
    tenants has, and parses a state only when that version is new to this process."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[int, TenantState]] = {}

    def state(self, tenant_id: str, version: int, raw: str) -> TenantState:
        known = self._parsed.get(tenant_id)
        if known is None or known[0] != version:
            known = (version, TenantState.model_validate_json(raw))
            self._parsed[tenant_id] = known
        return known[1]


class RouterStore:
    def __init__(self, conn: asyncpg.Connection, view: TenantView | None = None) -> None:
        self.conn = conn
        self.view = view or TenantView()

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

    async def tenants(self, tenant_ids: Collection[str]) -> dict[str, TenantState]:
        rows = await self.conn.fetch(
            "SELECT tenant_id, version, state FROM mandanten WHERE tenant_id = ANY($1::text[])",
            list(tenant_ids),
        )
        return {
            r["tenant_id"]: self.view.state(r["tenant_id"], r["version"], r["state"]) for r in rows
        }

    async def known_queries(self, query_ids: Collection[str]) -> set[str]:
        rows = await self.conn.fetch(
            "SELECT query_id FROM vorgaenge WHERE query_id = ANY($1::text[])", list(query_ids)
        )
        return {r["query_id"] for r in rows}

    async def open_all(self, openings: Sequence[Opening]) -> None:
        """A routed Vorgang keeps its query until it is closed; a refused one is closed at once
        and keeps only its keys."""
        if not openings:
            return
        await self.conn.execute(
            """INSERT INTO vorgaenge (vorgangsnummer, query_id, tenant_id, land, zugangsart,
                   protokollierung, query, status, routed_at, deadline, completed_at,
                   verfahren_verantwortlich)
               SELECT n, i, t, l, z, p, q::jsonb, s, r, d, c, v
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                   $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[],
                   $11::timestamptz[], $12::text[]) AS o(n, i, t, l, z, p, q, s, r, d, c, v)""",
            [o.vorgangsnummer for o in openings],
            [o.query.query_id for o in openings],
            [o.query.tenant_id for o in openings],
            [o.land for o in openings],
            [o.zugangsart for o in openings],
            [o.protokollierung for o in openings],
            [o.query.model_dump_json() if o.waits else None for o in openings],
            [o.status for o in openings],
            [o.at for o in openings],
            [o.deadline for o in openings],
            [None if o.waits else o.at for o in openings],
            [o.verfahren_verantwortlich if o.waits else None for o in openings],
        )

    async def answer(self, vorgangsnummern: Collection[str], now: datetime) -> dict[str, Vorgang]:
        """Closes as answered those of these Vorgänge that still waited for their register, and
        returns them as they were (with their query, which the closed row no longer keeps), in
        one statement."""
        rows = await self.conn.fetch(
            """WITH waiting AS (
                 SELECT * FROM vorgaenge
                 WHERE vorgangsnummer = ANY($1::text[]) AND status = 'routed'
                 ORDER BY vorgangsnummer FOR UPDATE),
               closed AS (
                 UPDATE vorgaenge v SET status = 'answered', completed_at = $2, query = NULL,
                     verfahren_verantwortlich = NULL
                 FROM waiting w WHERE v.vorgangsnummer = w.vorgangsnummer)
               SELECT * FROM waiting""",
            list(vorgangsnummern),
            now,
        )
        return {r["vorgangsnummer"]: _vorgang(r) for r in rows}

    async def known(self, vorgangsnummern: Collection[str]) -> set[str]:
        rows = await self.conn.fetch(
            "SELECT vorgangsnummer FROM vorgaenge WHERE vorgangsnummer = ANY($1::text[])",
            list(vorgangsnummern),
        )
        return {r["vorgangsnummer"] for r in rows}

    async def close(self, vorgangsnummern: Collection[str], status: str, now: datetime) -> None:
        """Closes the Vorgänge and drops what only the open query needed (its criteria, the
        Kennung, the procedure's responsible person): the § 40 log has them now."""
        if not vorgangsnummern:
            return
        await self.conn.execute(
            """UPDATE vorgaenge SET status = $2, completed_at = $3, query = NULL,
                   verfahren_verantwortlich = NULL
               WHERE vorgangsnummer = ANY($1::text[])""",
            list(vorgangsnummern),
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
