"""alert_cases' `CaseStore` in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.alert_cases.domain import Contact
from shared.contract.events.cases import CaseState


@dataclass
class MemoryCaseStore:
    cases: dict[str, CaseState] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)  # by application id
    tenants: dict[str, tuple[str, str]] = field(default_factory=dict)  # application, authority
    commands: dict[str, str] = field(default_factory=dict)

    async def case(self, case_id: str, *, lock: bool = False) -> CaseState | None:
        return self.cases.get(case_id)

    async def save(self, case: CaseState) -> None:
        self.cases[case.case_id] = case

    async def authority_of(self, tenant_id: str) -> str | None:
        found = self.tenants.get(tenant_id)
        return found[1] if found else None

    async def contact_of(self, tenant_id: str) -> Contact | None:
        found = self.tenants.get(tenant_id)
        return self.contacts.get(found[0]) if found else None

    async def add_contact(self, application_id: str, contact: Contact) -> None:
        self.contacts[application_id] = contact

    async def add_tenant(self, tenant_id: str, application_id: str, authority: str) -> None:
        self.tenants[tenant_id] = (application_id, authority)

    async def command_seen(self, command_id: str) -> bool:
        return command_id in self.commands

    async def record_command(
        self, command_id: str, case_id: str, outcome: str, now: datetime
    ) -> None:
        self.commands.setdefault(command_id, outcome)
