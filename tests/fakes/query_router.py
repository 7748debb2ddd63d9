"""query_router's `RouterStore` in memory."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from services.query_router.store import Opening, Vorgang
from shared.contract.events.account import TenantState


@dataclass
class Row:
    vorgang: Vorgang | None  # the query only while routed, as the table keeps it
    query_id: str
    status: str
    deadline: datetime | None
    completed_at: datetime | None


@dataclass
class MemoryRouterStore:
    tenants_by_id: dict[str, TenantState] = field(default_factory=dict)
    vorgaenge: dict[str, Row] = field(default_factory=dict)

    async def save_tenant(self, state: TenantState) -> bool:
        known = self.tenants_by_id.get(state.tenant_id)
        if known is not None and known.version >= state.version:
            return False
        self.tenants_by_id[state.tenant_id] = state
        return True

    async def forget_tenant(self, tenant_id: str) -> bool:
        return self.tenants_by_id.pop(tenant_id, None) is not None

    async def tenants(self, tenant_ids: Collection[str]) -> dict[str, TenantState]:
        return {t: self.tenants_by_id[t] for t in tenant_ids if t in self.tenants_by_id}

    async def known_queries(self, query_ids: Collection[str]) -> set[str]:
        return {r.query_id for r in self.vorgaenge.values()} & set(query_ids)

    async def open_all(self, openings: Sequence[Opening]) -> None:
        for o in openings:
            if o.vorgangsnummer in self.vorgaenge or await self.known_queries({o.query.query_id}):
                raise KeyError(f"duplicate key: {o.vorgangsnummer}")  # both unique in the table
            vorgang = Vorgang(
                o.vorgangsnummer,
                o.query,
                o.zugangsart,
                o.protokollierung,
                o.status,
                o.land,
                o.at,
                o.verfahren_verantwortlich if o.waits else None,
            )
            self.vorgaenge[o.vorgangsnummer] = Row(
                vorgang if o.waits else None,
                o.query.query_id,
                o.status,
                o.deadline,
                None if o.waits else o.at,
            )

    async def answer(self, vorgangsnummern: Collection[str], now: datetime) -> dict[str, Vorgang]:
        found = {}
        for n in vorgangsnummern:
            row = self.vorgaenge.get(n)
            if row and row.status == "routed" and row.vorgang is not None:
                found[n] = row.vorgang
        await self.close(found, "answered", now)
        return found

    async def known(self, vorgangsnummern: Collection[str]) -> set[str]:
        return set(vorgangsnummern) & self.vorgaenge.keys()

    async def close(self, vorgangsnummern: Collection[str], status: str, now: datetime) -> None:
        for n in vorgangsnummern:
            row = self.vorgaenge.get(n)
            if row is not None:  # what only the open query needed is dropped
                self.vorgaenge[n] = replace(row, vorgang=None, status=status, completed_at=now)

    async def forget_closed(self, before: datetime) -> int:
        gone = [
            n
            for n, r in self.vorgaenge.items()
            if r.status != "routed" and r.completed_at is not None and r.completed_at < before
        ]
        for n in gone:
            del self.vorgaenge[n]
        return len(gone)

    async def overdue(self, now: datetime, limit: int = 500) -> list[Vorgang]:
        due = sorted(
            (r for r in self.vorgaenge.values() if r.status == "routed" and r.deadline and
             r.deadline < now),
            key=lambda r: r.deadline or now,
        )  # fmt: skip
        return [r.vorgang for r in due[:limit] if r.vorgang is not None]
