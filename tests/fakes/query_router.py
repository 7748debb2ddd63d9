"""query_router's `RouterStore` in memory."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from services.query_router.store import Vorgang
from shared.contract.events.abruf import QueryRequested
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
    tenants: dict[str, TenantState] = field(default_factory=dict)
    vorgaenge: dict[str, Row] = field(default_factory=dict)

    async def save_tenant(self, state: TenantState) -> bool:
        known = self.tenants.get(state.tenant_id)
        if known is not None and known.version >= state.version:
            return False
        self.tenants[state.tenant_id] = state
        return True

    async def forget_tenant(self, tenant_id: str) -> bool:
        return self.tenants.pop(tenant_id, None) is not None

    async def tenant(self, tenant_id: str) -> TenantState | None:
        return self.tenants.get(tenant_id)

    async def known_query(self, query_id: str) -> bool:
        return any(r.query_id == query_id for r in self.vorgaenge.values())

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
        if vorgangsnummer in self.vorgaenge or await self.known_query(query.query_id):
            raise KeyError(f"duplicate key: {vorgangsnummer}")  # both are unique in the table
        routed = status == "routed"
        vorgang = Vorgang(
            vorgangsnummer,
            query,
            zugangsart,
            protokollierung,
            status,
            land,
            now,
            verfahren_verantwortlich if routed else None,
        )
        self.vorgaenge[vorgangsnummer] = Row(
            vorgang if routed else None, query.query_id, status, deadline, None if routed else now
        )

    async def routed(self, vorgangsnummer: str) -> Vorgang | None:
        row = self.vorgaenge.get(vorgangsnummer)
        return row.vorgang if row and row.status == "routed" else None

    async def known(self, vorgangsnummer: str) -> bool:
        return vorgangsnummer in self.vorgaenge

    async def close(self, vorgangsnummer: str, status: str, now: datetime) -> None:
        row = self.vorgaenge.get(vorgangsnummer)
        if row is not None:  # what only the open query needed is dropped
            self.vorgaenge[vorgangsnummer] = replace(
                row, vorgang=None, status=status, completed_at=now
            )

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
