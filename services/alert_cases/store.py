"""alert_cases' tables (schema `alert_cases`): the cases, whom to contact per tenant, commands."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Protocol

import asyncpg

from services.alert_cases.domain import Contact
from shared.contract.events.cases import CaseState


class Cases(Protocol):
    """What alert_cases keeps (the fast tier's fake is `tests/fakes/alert_cases.py`)."""

    async def case(self, case_id: str, *, lock: bool = False) -> CaseState | None: ...
    async def save(self, case: CaseState) -> None: ...
    async def authority_of(self, tenant_id: str) -> str | None: ...
    async def contact_of(self, tenant_id: str) -> Contact | None: ...
    async def add_contact(self, application_id: str, contact: Contact) -> None: ...
    async def add_tenant(self, tenant_id: str, application_id: str, authority: str) -> None: ...
    async def command_seen(self, command_id: str) -> bool: ...
    async def record_command(
        self, command_id: str, case_id: str, outcome: str, now: datetime
    ) -> None: ...


class CaseStore:
    """Works inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def case(self, case_id: str, *, lock: bool = False) -> CaseState | None:
        raw = await self.conn.fetchval(
            "SELECT state FROM fall WHERE case_id = $1" + (" FOR UPDATE" if lock else ""), case_id
        )
        return CaseState.model_validate_json(raw) if raw else None

    async def save(self, case: CaseState) -> None:
        await self.conn.execute(
            """INSERT INTO fall (case_id, tenant_id, status, state, updated_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (case_id) DO UPDATE SET status = EXCLUDED.status,
                   state = EXCLUDED.state, updated_at = EXCLUDED.updated_at""",
            case.case_id,
            case.tenant_id,
            case.status.value,
            case.model_dump_json(),
            case.updated_at,
        )

    async def authority_of(self, tenant_id: str) -> str | None:
        return await self.conn.fetchval(
            "SELECT authority_name FROM tenant_application WHERE tenant_id = $1", tenant_id
        )

    async def contact_of(self, tenant_id: str) -> Contact | None:
        raw = await self.conn.fetchval(
            """SELECT c.contact FROM tenant_application t
               JOIN application_contact c USING (application_id) WHERE t.tenant_id = $1""",
            tenant_id,
        )
        return Contact(**json.loads(raw)) if raw else None

    async def add_contact(self, application_id: str, contact: Contact) -> None:
        await self.conn.execute(
            """INSERT INTO application_contact VALUES ($1, $2)
               ON CONFLICT (application_id) DO UPDATE SET contact = EXCLUDED.contact""",
            application_id,
            json.dumps(asdict(contact)),
        )

    async def add_tenant(self, tenant_id: str, application_id: str, authority: str) -> None:
        """The tenant's newest application (an administrator change replaces the contact)."""
        await self.conn.execute(
            """INSERT INTO tenant_application VALUES ($1, $2, $3)
               ON CONFLICT (tenant_id) DO UPDATE SET application_id = EXCLUDED.application_id,
                   authority_name = EXCLUDED.authority_name""",
            tenant_id,
            application_id,
            authority,
        )

    async def command_seen(self, command_id: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT true FROM case_command WHERE command_id = $1", command_id
            )
        )

    async def record_command(
        self, command_id: str, case_id: str, outcome: str, now: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO case_command VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            command_id,
            case_id,
            outcome,
            now,
        )
