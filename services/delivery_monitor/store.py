"""delivery_monitor's tables (schema `delivery_monitor`): one row per registration office."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import asyncpg

from services.delivery_monitor.domain import Office


class Offices(Protocol):
    """What delivery_monitor keeps (the fast tier's fake is `tests/fakes/delivery_monitor.py`)."""

    async def office(self, gemeindeschluessel: str, *, lock: bool = False) -> Office | None: ...
    async def save(self, office: Office) -> None: ...
    async def silent_since(self, before: datetime) -> list[Office]: ...


class OfficeStore:
    """Works inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def office(self, gemeindeschluessel: str, *, lock: bool = False) -> Office | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM office WHERE gemeindeschluessel = $1" + (" FOR UPDATE" if lock else ""),
            gemeindeschluessel,
        )
        return Office(**dict(row)) if row else None

    async def save(self, office: Office) -> None:
        await self.conn.execute(
            """INSERT INTO office (gemeindeschluessel, name, land, last_delivery_at, persons,
                   full_so_far, missing_alerted_at, known_since)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT (gemeindeschluessel) DO UPDATE SET name = EXCLUDED.name,
                   land = EXCLUDED.land, last_delivery_at = EXCLUDED.last_delivery_at,
                   persons = EXCLUDED.persons, full_so_far = EXCLUDED.full_so_far,
                   missing_alerted_at = EXCLUDED.missing_alerted_at""",
            office.gemeindeschluessel,
            office.name,
            office.land,
            office.last_delivery_at,
            office.persons,
            office.full_so_far,
            office.missing_alerted_at,
            office.known_since or office.last_delivery_at,
        )

    async def silent_since(self, before: datetime) -> list[Office]:
        """Offices whose last delivery is older than `before` and not yet alerted, locked."""
        rows = await self.conn.fetch(
            """SELECT * FROM office
               WHERE coalesce(last_delivery_at, known_since) < $1 AND missing_alerted_at IS NULL
               ORDER BY coalesce(last_delivery_at, known_since) FOR UPDATE SKIP LOCKED""",
            before,
        )
        return [Office(**dict(r)) for r in rows]
