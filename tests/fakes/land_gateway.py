"""land_gateway's `GatewayStore` in memory."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.land_gateway.domain import Eingang


@dataclass
class MemoryGatewayStore:
    ausgang: dict[str, tuple[str, str, datetime | None]] = field(default_factory=dict)
    eingang: dict[str, tuple[Eingang, datetime | None]] = field(default_factory=dict)

    async def sent(self, rows: Sequence[tuple[str, str, str]], now: datetime) -> None:
        for nummer, query_id, land in rows:
            self.ausgang.setdefault(nummer, (query_id, land, None))

    async def take_sent(self, vorgangsnummer: str, now: datetime) -> str | None:
        found = self.ausgang.get(vorgangsnummer)
        if found is None or found[2] is not None:
            return None
        self.ausgang[vorgangsnummer] = (found[0], found[1], now)
        return found[0]

    async def receive(self, eingang: Eingang, now: datetime) -> bool:
        if eingang.query_id in self.eingang:
            return False
        self.eingang[eingang.query_id] = (eingang, None)
        return True

    async def take_received(self, query_id: str, now: datetime) -> Eingang | None:
        found = self.eingang.get(query_id)
        if found is None or found[1] is not None:
            return None
        self.eingang[query_id] = (found[0], now)
        return found[0]

    async def forget(self, before: datetime) -> int:
        old = [k for k, v in self.ausgang.items() if v[2] is not None and v[2] < before]
        gone = [k for k, v in self.eingang.items() if v[1] is not None and v[1] < before]
        for k in old:
            del self.ausgang[k]
        for k in gone:
            del self.eingang[k]
        return len(old) + len(gone)
