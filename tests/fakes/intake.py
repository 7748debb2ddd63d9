"""intake's `ApplicationStore` in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.intake.domain import Decision, Status
from services.intake.store import status_detail
from shared.contract.envelope import Envelope
from shared.contract.events.application import ApplicationSubmitted


@dataclass
class Application:
    application_id: str
    status: str
    authority_key: str | None
    access_type: str | None
    only_administrator_change: bool
    received_at: datetime


@dataclass
class MemoryApplicationStore:
    applications: dict[str, Application] = field(default_factory=dict)
    history: list[tuple[str, str, datetime, str, dict[str, Any]]] = field(default_factory=list)

    async def exists(self, application_id: str) -> bool:
        return application_id in self.applications

    async def lock_authority_role(self, authority_key: str, access_type: str) -> None:
        return None  # one event at a time in memory: nothing to serialise

    async def open_application(self, authority_key: str, access_type: str) -> str | None:
        open_ = [
            a
            for a in self.applications.values()
            if (a.authority_key, a.access_type) == (authority_key, access_type)
            and a.status in ("accepted", "approved")
            and not a.only_administrator_change
        ]
        return min(open_, key=lambda a: a.received_at).application_id if open_ else None

    async def add(
        self, app: ApplicationSubmitted, decision: Decision, envelope: Envelope, now: datetime
    ) -> None:
        if app.application_id in self.applications:
            raise KeyError(f"duplicate key: {app.application_id}")  # the primary key
        self.applications[app.application_id] = Application(
            app.application_id,
            decision.status.value,
            decision.authority_key,
            decision.access_type.value if decision.access_type else None,
            app.only_administrator_change,
            envelope.time,
        )
        await self.add_status(app.application_id, Status.RECEIVED, envelope.time, envelope.id)
        await self.add_status(
            app.application_id, decision.status, now, envelope.id, status_detail(decision)
        )

    async def close(self, application_id: str, status: Status) -> bool:
        a = self.applications.get(application_id)
        if a is None or a.status != "accepted":
            return False
        a.status = status.value
        return True

    async def add_status(
        self,
        application_id: str,
        status: Status,
        at: datetime,
        event_id: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.history.append((application_id, status.value, at, event_id, detail or {}))
