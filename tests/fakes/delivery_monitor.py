"""delivery_monitor's `OfficeStore` in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.delivery_monitor.domain import Office


@dataclass
class MemoryOfficeStore:
    offices: dict[str, Office] = field(default_factory=dict)

    async def office(self, gemeindeschluessel: str, *, lock: bool = False) -> Office | None:
        return self.offices.get(gemeindeschluessel)

    async def save(self, office: Office) -> None:
        self.offices[office.gemeindeschluessel] = office

    async def silent_since(self, before: datetime) -> list[Office]:
        def since(o: Office) -> datetime | None:
            return o.last_delivery_at or o.known_since

        silent = [
            o
            for o in self.offices.values()
            if (at := since(o)) is not None and at < before and o.missing_alerted_at is None
        ]
        return sorted(silent, key=lambda o: since(o) or before)
