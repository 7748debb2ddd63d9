"""Persistence of applications and their status history (schema `intake`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from services.intake.domain import Decision, Status
from shared.contract.envelope import Envelope
from shared.contract.events.application import ApplicationSubmitted


class Applications(Protocol):
    """What intake keeps: applications and their status history (the fast tier's fake is
    `tests/fakes/intake.py`)."""

    async def exists(self, application_id: str) -> bool: ...
    async def lock_authority_role(self, authority_key: str, access_type: str) -> None: ...
    async def open_application(self, authority_key: str, access_type: str) -> str | None: ...
    async def add(
        self, app: ApplicationSubmitted, decision: Decision, envelope: Envelope, now: datetime
    ) -> None: ...
    async def close(self, application_id: str, status: Status) -> bool: ...
    async def add_status(
        self,
        application_id: str,
        status: Status,
        at: datetime,
        event_id: str,
        detail: dict[str, Any] | None = None,
    ) -> None: ...


class ApplicationStore:
    """Works inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def exists(self, application_id: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT true FROM application WHERE application_id = $1", application_id
            )
        )

    async def lock_authority_role(self, authority_key: str, access_type: str) -> None:
        """Serialises decisions about one authority and role until the transaction ends."""
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))", f"{authority_key}|{access_type}"
        )

    async def open_application(self, authority_key: str, access_type: str) -> str | None:
        """An application for this authority and role that is in review or approved."""
        return await self.conn.fetchval(
            """SELECT application_id FROM application
               WHERE authority_key = $1 AND access_type = $2
                 AND status IN ('accepted', 'approved') AND NOT only_administrator_change
               ORDER BY received_at LIMIT 1""",
            authority_key,
            access_type,
        )

    async def add(
        self, app: ApplicationSubmitted, decision: Decision, envelope: Envelope, now: datetime
    ) -> None:
        await self.conn.execute(
            """INSERT INTO application (application_id, status, authority_key, access_type,
                   only_administrator_change, submitted, outcome, source_event_id,
                   correlation_id, received_at, decided_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)""",
            app.application_id,
            decision.status.value,
            decision.authority_key,
            decision.access_type.value if decision.access_type else None,
            app.only_administrator_change,
            app.model_dump_json(),
            decision.event.model_dump_json(),
            envelope.id,
            envelope.correlation,
            envelope.time,
            now,
        )
        await self.add_status(app.application_id, Status.RECEIVED, envelope.time, envelope.id)
        await self.add_status(
            app.application_id, decision.status, now, envelope.id, status_detail(decision)
        )

    async def close(self, application_id: str, status: Status) -> bool:
        """Records the decision on an accepted application; False if none is open."""
        result = await self.conn.execute(
            """UPDATE application SET status = $2
               WHERE application_id = $1 AND status = 'accepted'""",
            application_id,
            status.value,
        )
        return result == "UPDATE 1"

    async def add_status(
        self,
        application_id: str,
        status: Status,
        at: datetime,
        event_id: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        await self.conn.execute(
            """INSERT INTO application_status (application_id, status, at, event_id, detail)
               VALUES ($1, $2, $3, $4, $5)""",
            application_id,
            status.value,
            at,
            event_id,
            json.dumps(detail or {}),
        )


def status_detail(decision: Decision) -> dict[str, Any]:
    event = decision.event
    if decision.status is Status.INCOMPLETE:
        return {"defects": [d.code for d in event.defects]}  # type: ignore[union-attr]
    if decision.status is Status.REFUSED:
        return {
            "reason_code": event.reason_code,  # type: ignore[union-attr]
            "conflicting_application_id": event.conflicting_application_id,
        }  # type: ignore[union-attr]
    return {}
