"""provisioning's `ProvisioningStore` in memory."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from services.provisioning.domain import Account, Session, Tenant
from shared.contract.events.account import (
    Abrufverfahren,
    Postanschrift,
    TrainingRequested,
    UserKind,
    UserStatus,
)


@dataclass
class MemoryProvisioningStore:
    tenants: dict[str, Tenant] = field(default_factory=dict)
    addresses: dict[str, Postanschrift] = field(default_factory=dict)
    status_history: list[tuple[str, str, str | None, str, datetime]] = field(default_factory=list)
    users: dict[str, tuple[Account, datetime]] = field(default_factory=dict)  # with created_at
    verfahren: dict[tuple[str, str], Abrufverfahren] = field(default_factory=dict)
    commands: dict[str, tuple[str, str, str, str, datetime]] = field(default_factory=dict)
    sessions: dict[str, tuple[Session, str]] = field(default_factory=dict)  # with refresh hash
    used: dict[str, str] = field(default_factory=dict)  # used refresh hash -> user id
    trainings: dict[str, tuple[TrainingRequested, str, datetime]] = field(default_factory=dict)

    async def add_training_request(
        self, request: TrainingRequested, user_id: str, now: datetime
    ) -> bool:
        if request.request_id in self.trainings:
            return False
        self.trainings[request.request_id] = (request, user_id, now)
        return True

    async def tenant(self, tenant_id: str, *, lock: bool = False) -> Tenant | None:
        return self.tenants.get(tenant_id)

    async def postal_address(self, tenant_id: str) -> Postanschrift:
        return self.addresses[tenant_id]

    async def add_tenant(self, tenant: Tenant, address: Postanschrift, now: datetime) -> None:
        if tenant.tenant_id in self.tenants or any(
            t.authority_key == tenant.authority_key and t.role is tenant.role
            for t in self.tenants.values()
        ):  # the primary key, and one tenant per authority and role
            raise KeyError(f"duplicate tenant: {tenant.tenant_id}")
        self.tenants[tenant.tenant_id] = tenant
        self.addresses[tenant.tenant_id] = address

    async def set_tenant_status(self, tenant: Tenant, actor: str, now: datetime) -> None:
        known = self.tenants[tenant.tenant_id]
        self.tenants[tenant.tenant_id] = replace(
            known, status=tenant.status, status_reason=tenant.status_reason, version=tenant.version
        )
        entry = (tenant.tenant_id, tenant.status.value, tenant.status_reason, actor, now)
        self.status_history.append(entry)

    async def bump_version(self, tenant_id: str, now: datetime) -> int:
        tenant = self.tenants[tenant_id]
        self.tenants[tenant_id] = replace(tenant, version=tenant.version + 1)
        return tenant.version + 1

    async def accounts(self, tenant_id: str) -> list[Account]:
        mine = [(at, a) for a, at in self.users.values() if a.tenant_id == tenant_id]
        return [a for _, a in sorted(mine, key=lambda x: (x[0], x[1].username))]

    async def account(self, user_id: str, *, lock: bool = False) -> Account | None:
        found = self.users.get(user_id)
        return found[0] if found else None

    async def account_by_username(self, username: str, *, lock: bool = False) -> Account | None:
        return next((a for a, _ in self.users.values() if a.username == username), None)

    async def usernames_like(self, prefix: str) -> set[str]:
        return {a.username for a, _ in self.users.values() if a.username.startswith(prefix)}

    async def add_account(self, account: Account, now: datetime) -> None:
        if account.user_id in self.users or await self.account_by_username(account.username):
            raise KeyError(f"duplicate account: {account.username}")
        self.users[account.user_id] = (account, now)
        self._one_current_administrator(account.tenant_id)

    async def update_account(self, account: Account, now: datetime) -> None:
        known, created = self.users[account.user_id]
        self.users[account.user_id] = (
            replace(
                known,
                status=account.status,
                password_hash=account.password_hash,
                must_change_password=account.must_change_password,
                password_expires_at=account.password_expires_at,
                failed_logins=account.failed_logins,
                sperrdaten_berechtigt=account.sperrdaten_berechtigt,
                auswertung_berechtigt=account.auswertung_berechtigt,
                certificate_fingerprint=account.certificate_fingerprint,
            ),
            created,
        )
        self._one_current_administrator(account.tenant_id)

    async def add_session(self, session: Session, refresh_hash: str) -> None:
        if session.session_id in self.sessions or any(
            h == refresh_hash for _, h in self.sessions.values()
        ):
            raise KeyError("duplicate session")
        if session.user_id not in self.users:  # the foreign key
            raise KeyError(f"no account {session.user_id}")
        self.sessions[session.session_id] = (session, refresh_hash)

    async def session_by_refresh(self, refresh_hash: str) -> Session | None:
        return next((s for s, h in self.sessions.values() if h == refresh_hash), None)

    async def rotate_session(
        self, session: Session, old_hash: str, new_hash: str, now: datetime
    ) -> None:
        if old_hash in self.used:
            raise KeyError("refresh token used twice")
        self.used[old_hash] = session.user_id
        known, _ = self.sessions[session.session_id]
        self.sessions[session.session_id] = (known, new_hash)

    async def used_by(self, refresh_hash: str) -> str | None:
        return self.used.get(refresh_hash)

    async def audit(self, tenant_id: str) -> dict[str, list[dict[str, Any]]]:
        mine = sorted(
            ((created, a) for a, created in self.users.values() if a.tenant_id == tenant_id),
            key=lambda x: (x[0], x[1].username),
        )
        users = [
            {
                "user_id": a.user_id,
                "username": a.username,
                "kind": a.kind.value,
                "status": a.status.value,
                "first_name": a.first_name,
                "surname": a.surname,
                "email": a.email,
                "certificate_fingerprint": a.certificate_fingerprint,
                "must_change_password": a.must_change_password,
                "sperrdaten_berechtigt": a.sperrdaten_berechtigt,
                "auswertung_berechtigt": a.auswertung_berechtigt,
                "failed_logins": a.failed_logins,
                "created_at": created,
            }
            for created, a in mine
        ]
        names = {a.user_id: a.username for _, a in mine}
        return {
            "users": users,
            "status_history": [
                {"status": st, "reason": reason, "actor": actor, "at": at}
                for t, st, reason, actor, at in self.status_history
                if t == tenant_id
            ],
            "commands": [
                {"command_id": cid, "action": action, "actor": actor, "outcome": outcome, "at": at}
                for cid, (t, action, actor, outcome, at) in self.commands.items()  # applied order
                if t == tenant_id
            ],
            "sign_ins": [
                {
                    "username": names[s.user_id],
                    "created_at": s.created_at,
                    "expires_at": s.expires_at,
                    "ended_at": s.ended_at,
                }
                for s, _ in sorted(self.sessions.values(), key=lambda x: x[0].created_at)
                if s.user_id in names
            ],
        }

    async def end_sessions(self, user_id: str, now: datetime) -> int:
        ended = 0
        for sid, (session, h) in list(self.sessions.items()):
            if session.user_id == user_id and session.ended_at is None:
                self.sessions[sid] = (replace(session, ended_at=now), h)
                ended += 1
        return ended

    def _one_current_administrator(self, tenant_id: str | None) -> None:
        """The table's unique index: one administrator per tenant not yet replaced."""
        if tenant_id is None:
            return
        current = [
            a
            for a, _ in self.users.values()
            if a.tenant_id == tenant_id
            and a.kind is UserKind.ADMINISTRATOR
            and a.status is not UserStatus.REPLACED
        ]
        if len(current) > 1:
            raise KeyError(f"a second current administrator of {tenant_id}")

    async def procedures(self, tenant_id: str) -> list[Abrufverfahren]:
        return sorted(
            (v for (t, _), v in self.verfahren.items() if t == tenant_id), key=lambda v: v.name
        )

    async def save_procedure(self, tenant_id: str, v: Abrufverfahren, now: datetime) -> None:
        self.verfahren[(tenant_id, v.name)] = v

    async def command_seen(self, command_id: str) -> bool:
        return command_id in self.commands

    async def record_command(
        self, command_id: str, tenant_id: str, action: str, actor: str, outcome: str, now: datetime
    ) -> None:
        if command_id in self.commands:
            raise KeyError(f"duplicate command: {command_id}")
        self.commands[command_id] = (tenant_id, action, actor, outcome, now)
