"""office_worklist's `WorklistStore` in memory."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from services.office_worklist.store import Backlog
from shared.contract.events.abruf import BlockNotice
from shared.contract.events.manuell import Bearbeitungsstatus, OfficeCase


@dataclass
class MemoryWorklistStore:
    cases: dict[str, OfficeCase] = field(default_factory=dict)
    notices: dict[str, tuple[BlockNotice, bool]] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)

    async def case(self, case_id: str, *, lock: bool = False) -> OfficeCase | None:
        return self.cases.get(case_id)

    async def save(self, case: OfficeCase) -> None:
        self.cases[case.case_id] = case

    def _open(self) -> list[OfficeCase]:
        return [c for c in self.cases.values() if c.status is Bearbeitungsstatus.OPEN]

    async def due(self, opened_before: datetime) -> list[OfficeCase]:
        due = [c for c in self._open() if c.overdue_since is None and c.opened_at < opened_before]
        return sorted(due, key=lambda c: c.opened_at)

    async def backlog(self) -> list[Backlog]:
        by_office: dict[str, list[OfficeCase]] = defaultdict(list)
        for c in self._open():
            by_office[c.gemeindeschluessel].append(c)
        return [
            Backlog(ags, len(cs), min(c.opened_at for c in cs)) for ags, cs in by_office.items()
        ]

    async def add_notice(self, notice_id: str, notice: BlockNotice, letter: bool) -> bool:
        if notice_id in self.notices:
            return False
        self.notices[notice_id] = (notice, letter)
        return True

    async def command_seen(self, command_id: str) -> bool:
        return command_id in self.commands

    async def record_command(
        self, command_id: str, case_id: str, outcome: str, now: datetime
    ) -> None:
        self.commands.setdefault(command_id, outcome)
