"""office_worklist's tables (schema `office_worklist`): the cases, the notices, the commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from shared.contract.events.abruf import BlockNotice
from shared.contract.events.manuell import OfficeCase


@dataclass(frozen=True)
class Backlog:
    """One office's undecided cases: how many, and since when the oldest waits."""

    gemeindeschluessel: str
    open_cases: int
    oldest_opened_at: datetime


class Worklists(Protocol):
    """What office_worklist keeps (the fast tier's fake is `tests/fakes/office_worklist.py`)."""

    async def case(self, case_id: str, *, lock: bool = False) -> OfficeCase | None: ...
    async def save(self, case: OfficeCase) -> None: ...
    async def due(self, opened_before: datetime) -> list[OfficeCase]: ...
    async def backlog(self) -> list[Backlog]: ...
    async def add_notice(self, notice_id: str, notice: BlockNotice, letter: bool) -> bool: ...
    async def command_seen(self, command_id: str) -> bool: ...
    async def record_command(
        self, command_id: str, case_id: str, outcome: str, now: datetime
    ) -> None: ...


class WorklistStore:
    """Works inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def case(self, case_id: str, *, lock: bool = False) -> OfficeCase | None:
        raw = await self.conn.fetchval(
            "SELECT state FROM fall WHERE case_id = $1" + (" FOR UPDATE" if lock else ""), case_id
        )
        return OfficeCase.model_validate_json(raw) if raw else None

    async def save(self, case: OfficeCase) -> None:
        await self.conn.execute(
            """INSERT INTO fall VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (case_id) DO UPDATE SET status = EXCLUDED.status,
                   state = EXCLUDED.state, overdue_since = EXCLUDED.overdue_since""",
            case.case_id,
            case.gemeindeschluessel,
            case.status.value,
            case.model_dump_json(),
            case.opened_at,
            case.overdue_since,
        )

    async def due(self, opened_before: datetime) -> list[OfficeCase]:
        """Undecided cases past the deadline not yet alerted, oldest first."""
        rows = await self.conn.fetch(
            """SELECT state FROM fall WHERE status = 'open' AND overdue_since IS NULL
                 AND opened_at < $1 ORDER BY opened_at LIMIT 500""",
            opened_before,
        )
        return [OfficeCase.model_validate_json(r["state"]) for r in rows]

    async def backlog(self) -> list[Backlog]:
        rows = await self.conn.fetch(
            """SELECT gemeindeschluessel, count(*) AS n, min(opened_at) AS oldest
               FROM fall WHERE status = 'open' GROUP BY gemeindeschluessel"""
        )
        return [Backlog(r["gemeindeschluessel"], r["n"], r["oldest"]) for r in rows]

    async def add_notice(self, notice_id: str, notice: BlockNotice, letter: bool) -> bool:
        """Keeps a notice once; False if it was kept before."""
        status = await self.conn.execute(
            "INSERT INTO mitteilung VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            notice_id,
            notice.gemeindeschluessel,
            notice.model_dump_json(),
            letter,
            notice.noticed_at,
        )
        return status.endswith(" 1")

    async def command_seen(self, command_id: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT true FROM bearbeitung_command WHERE command_id = $1", command_id
            )
        )

    async def record_command(
        self, command_id: str, case_id: str, outcome: str, now: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO bearbeitung_command VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            command_id,
            case_id,
            outcome,
            now,
        )
