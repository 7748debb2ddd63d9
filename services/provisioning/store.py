"""Persistence of tenants, accounts and account commands (schema `provisioning`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

import asyncpg

from services.provisioning.domain import Account, Session, Tenant
from shared.contract.events.account import (
    Abrufverfahren,
    OperatorRole,
    Postanschrift,
    TenantStatus,
    TrainingRequested,
    UserKind,
    UserStatus,
    VerfahrenStatus,
)
from shared.contract.events.application import Behoerdenart, Protokollierung, Zugangsart
from shared.contract.events.review import Auflage, Datenumfang


class Accounts(Protocol):
    """What provisioning keeps: tenants, their accounts and machine procedures, the commands
    carried out (the fast tier's fake is `tests/fakes/provisioning.py`)."""

    async def tenant(self, tenant_id: str, *, lock: bool = False) -> Tenant | None: ...
    async def add_training_request(
        self, request: TrainingRequested, user_id: str, now: datetime
    ) -> bool: ...
    async def postal_address(self, tenant_id: str) -> Postanschrift: ...
    async def add_tenant(self, tenant: Tenant, address: Postanschrift, now: datetime) -> None: ...
    async def set_tenant_status(self, tenant: Tenant, actor: str, now: datetime) -> None: ...
    async def bump_version(self, tenant_id: str, now: datetime) -> int: ...
    async def accounts(self, tenant_id: str) -> list[Account]: ...
    async def account(self, user_id: str, *, lock: bool = False) -> Account | None: ...
    async def account_by_username(self, username: str, *, lock: bool = False) -> Account | None: ...
    async def usernames_like(self, prefix: str) -> set[str]: ...
    async def add_account(self, account: Account, now: datetime) -> None: ...
    async def update_account(self, account: Account, now: datetime) -> None: ...
    async def add_session(self, session: Session, refresh_hash: str) -> None: ...
    async def session_by_refresh(self, refresh_hash: str) -> Session | None: ...
    async def rotate_session(
        self, session: Session, old_hash: str, new_hash: str, now: datetime
    ) -> None: ...
    async def used_by(self, refresh_hash: str) -> str | None: ...
    async def audit(self, tenant_id: str) -> dict[str, list[dict[str, Any]]]: ...
    async def end_sessions(self, user_id: str, now: datetime) -> int: ...
    async def procedures(self, tenant_id: str) -> list[Abrufverfahren]: ...
    async def save_procedure(self, tenant_id: str, v: Abrufverfahren, now: datetime) -> None: ...
    async def command_seen(self, command_id: str) -> bool: ...
    async def record_command(
        self, command_id: str, tenant_id: str, action: str, actor: str, outcome: str, now: datetime
    ) -> None: ...


class ProvisioningStore:
    """Works inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ tenants
    async def add_training_request(
        self, request: TrainingRequested, user_id: str, now: datetime
    ) -> bool:
        """Records the request; False if it was recorded before."""
        return bool(
            await self.conn.fetchval(
                """INSERT INTO training_request (request_id, tenant_id, user_id, teilnehmende,
                       wunsch, requested_at, recorded_at)
                   VALUES ($1, $2::uuid, $3::uuid, $4, $5, $6, $7)
                   ON CONFLICT (request_id) DO NOTHING RETURNING true""",
                request.request_id,
                request.tenant_id,
                user_id,
                request.teilnehmende,
                request.wunsch,
                request.requested_at,
                now,
            )
        )

    async def tenant(self, tenant_id: str, *, lock: bool = False) -> Tenant | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM tenant WHERE tenant_id = $1::uuid" + (" FOR UPDATE" if lock else ""),
            tenant_id,
        )
        return _tenant(row) if row else None

    async def postal_address(self, tenant_id: str) -> Postanschrift:
        raw = await self.conn.fetchval(
            "SELECT postal_address FROM tenant WHERE tenant_id = $1::uuid", tenant_id
        )
        return Postanschrift.model_validate_json(raw)

    async def add_tenant(self, tenant: Tenant, address: Postanschrift, now: datetime) -> None:
        await self.conn.execute(
            """INSERT INTO tenant (tenant_id, authority_key, authority_name, role, status,
                   status_reason, data_scope, logging_arrangement, conditions,
                   client_certificate_fingerprint, postal_address, application_id, version,
                   created_at, updated_at, authority_kind, land)
               VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14,
                   $15, $16)""",
            tenant.tenant_id,
            tenant.authority_key,
            tenant.authority_name,
            tenant.role.value,
            tenant.status.value,
            tenant.status_reason,
            tenant.data_scope.value,
            tenant.logging_arrangement.value if tenant.logging_arrangement else None,
            json.dumps([c.model_dump() for c in tenant.conditions]),
            tenant.client_certificate_fingerprint,
            address.model_dump_json(),
            tenant.application_id,
            tenant.version,
            now,
            tenant.authority_kind.value if tenant.authority_kind else None,
            tenant.land,
        )

    async def set_tenant_status(self, tenant: Tenant, actor: str, now: datetime) -> None:
        await self.conn.execute(
            """UPDATE tenant SET status = $2, status_reason = $3, version = $4, updated_at = $5
               WHERE tenant_id = $1::uuid""",
            tenant.tenant_id,
            tenant.status.value,
            tenant.status_reason,
            tenant.version,
            now,
        )
        await self.conn.execute(
            """INSERT INTO tenant_status_history (tenant_id, status, reason, actor, at)
               VALUES ($1::uuid, $2, $3, $4, $5)""",
            tenant.tenant_id,
            tenant.status.value,
            tenant.status_reason,
            actor,
            now,
        )

    async def bump_version(self, tenant_id: str, now: datetime) -> int:
        return await self.conn.fetchval(
            """UPDATE tenant SET version = version + 1, updated_at = $2
               WHERE tenant_id = $1::uuid RETURNING version""",
            tenant_id,
            now,
        )

    # ------------------------------------------------------------------ accounts
    async def accounts(self, tenant_id: str) -> list[Account]:
        rows = await self.conn.fetch(
            "SELECT * FROM account WHERE tenant_id = $1::uuid ORDER BY created_at, username",
            tenant_id,
        )
        return [_account(r) for r in rows]

    async def account(self, user_id: str, *, lock: bool = False) -> Account | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM account WHERE user_id = $1::uuid" + (" FOR UPDATE" if lock else ""),
            user_id,
        )
        return _account(row) if row else None

    async def account_by_username(self, username: str, *, lock: bool = False) -> Account | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM account WHERE username = $1" + (" FOR UPDATE" if lock else ""), username
        )
        return _account(row) if row else None

    async def usernames_like(self, prefix: str) -> set[str]:
        rows = await self.conn.fetch(
            "SELECT username FROM account WHERE username LIKE $1", prefix + "%"
        )
        return {r["username"] for r in rows}

    async def add_account(self, account: Account, now: datetime) -> None:
        values = asdict(account)
        values.update(kind=account.kind.value, status=account.status.value)
        await self.conn.execute(
            """INSERT INTO account (user_id, tenant_id, username, kind, status, first_name, surname,
                   email, smime_certificate_pem, certificate_fingerprint, password_hash,
                   must_change_password, password_expires_at, failed_logins, created_at,
                   updated_at, operator_role, sperrdaten_berechtigt, auswertung_berechtigt)
               VALUES ($1::uuid, $2::uuid, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                       $15, $15, $16, $17, $18)""",
            values["user_id"],
            values["tenant_id"],
            values["username"],
            values["kind"],
            values["status"],
            values["first_name"],
            values["surname"],
            values["email"],
            values["smime_certificate_pem"],
            values["certificate_fingerprint"],
            values["password_hash"],
            values["must_change_password"],
            values["password_expires_at"],
            values["failed_logins"],
            now,
            account.operator_role.value if account.operator_role else None,
            account.sperrdaten_berechtigt,
            account.auswertung_berechtigt,
        )

    async def update_account(self, account: Account, now: datetime) -> None:
        await self.conn.execute(
            """UPDATE account SET status = $2, password_hash = $3, must_change_password = $4,
                   password_expires_at = $5, failed_logins = $6, updated_at = $7,
                   sperrdaten_berechtigt = $8, auswertung_berechtigt = $9,
                   certificate_fingerprint = $10
               WHERE user_id = $1::uuid""",
            account.user_id,
            account.status.value,
            account.password_hash,
            account.must_change_password,
            account.password_expires_at,
            account.failed_logins,
            now,
            account.sperrdaten_berechtigt,
            account.auswertung_berechtigt,
            account.certificate_fingerprint,
        )

    # ------------------------------------------------------------------ sign-in sessions
    async def add_session(self, session: Session, refresh_hash: str) -> None:
        await self.conn.execute(
            """INSERT INTO signin_session (session_id, user_id, refresh_hash, created_at,
                                           expires_at)
               VALUES ($1::uuid, $2::uuid, $3, $4, $5)""",
            session.session_id,
            session.user_id,
            refresh_hash,
            session.created_at,
            session.expires_at,
        )

    async def session_by_refresh(self, refresh_hash: str) -> Session | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM signin_session WHERE refresh_hash = $1 FOR UPDATE", refresh_hash
        )
        return _session(row) if row else None

    async def rotate_session(
        self, session: Session, old_hash: str, new_hash: str, now: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO refresh_used VALUES ($1, $2::uuid, $3)", old_hash, session.user_id, now
        )
        await self.conn.execute(
            "UPDATE signin_session SET refresh_hash = $2 WHERE session_id = $1::uuid",
            session.session_id,
            new_hash,
        )

    async def audit(self, tenant_id: str) -> dict[str, list[dict[str, Any]]]:
        """A tenant's users, its status history, the account commands given for it and its
        users' sign-ins, oldest first: what an operator's security audit reads."""
        users = await self.conn.fetch(
            """SELECT user_id::text, username, kind, status, first_name, surname, email,
                      certificate_fingerprint, must_change_password, sperrdaten_berechtigt,
                      auswertung_berechtigt, failed_logins, created_at, updated_at
               FROM account WHERE tenant_id = $1::uuid ORDER BY created_at, username""",
            tenant_id,
        )
        history = await self.conn.fetch(
            """SELECT status, reason, actor, at FROM tenant_status_history
               WHERE tenant_id = $1::uuid ORDER BY at, id""",
            tenant_id,
        )
        commands = await self.conn.fetch(
            """SELECT command_id, action, actor, outcome, at FROM account_command
               WHERE tenant_id = $1 ORDER BY seq""",
            tenant_id,
        )
        sign_ins = await self.conn.fetch(
            """SELECT a.username, s.created_at, s.expires_at, s.ended_at
               FROM signin_session s JOIN account a USING (user_id)
               WHERE a.tenant_id = $1::uuid ORDER BY s.created_at""",
            tenant_id,
        )
        return {
            "users": [dict(r) for r in users],
            "status_history": [dict(r) for r in history],
            "commands": [dict(r) for r in commands],
            "sign_ins": [dict(r) for r in sign_ins],
        }

    async def used_by(self, refresh_hash: str) -> str | None:
        user = await self.conn.fetchval(
            "SELECT user_id FROM refresh_used WHERE refresh_hash = $1", refresh_hash
        )
        return str(user) if user else None

    async def end_sessions(self, user_id: str, now: datetime) -> int:
        done = await self.conn.execute(
            """UPDATE signin_session SET ended_at = $2
               WHERE user_id = $1::uuid AND ended_at IS NULL""",
            user_id,
            now,
        )
        return int(done.split()[-1])

    # ------------------------------------------------------------------ machine procedures
    async def procedures(self, tenant_id: str) -> list[Abrufverfahren]:
        rows = await self.conn.fetch(
            "SELECT * FROM abrufverfahren WHERE tenant_id = $1::uuid ORDER BY name", tenant_id
        )
        return [
            Abrufverfahren(
                name=r["name"],
                verantwortliche_person=r["verantwortliche_person"],
                certificate_fingerprint=r["certificate_fingerprint"],
                status=VerfahrenStatus(r["status"]),
            )
            for r in rows
        ]

    async def save_procedure(self, tenant_id: str, v: Abrufverfahren, now: datetime) -> None:
        await self.conn.execute(
            """INSERT INTO abrufverfahren (tenant_id, name, verantwortliche_person,
                   certificate_fingerprint, status, registered_at, updated_at)
               VALUES ($1::uuid, $2, $3, $4, $5, $6, $6)
               ON CONFLICT (tenant_id, name) DO UPDATE SET
                   verantwortliche_person = EXCLUDED.verantwortliche_person,
                   certificate_fingerprint = EXCLUDED.certificate_fingerprint,
                   status = EXCLUDED.status, updated_at = EXCLUDED.updated_at""",
            tenant_id,
            v.name,
            v.verantwortliche_person,
            v.certificate_fingerprint,
            v.status.value,
            now,
        )

    # ------------------------------------------------------------------ commands
    async def command_seen(self, command_id: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT true FROM account_command WHERE command_id = $1", command_id
            )
        )

    async def record_command(
        self, command_id: str, tenant_id: str, action: str, actor: str, outcome: str, now: datetime
    ) -> None:
        await self.conn.execute(
            """INSERT INTO account_command (command_id, tenant_id, action, actor, outcome, at)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            command_id,
            tenant_id,
            action,
            actor,
            outcome,
            now,
        )


def _tenant(row: asyncpg.Record) -> Tenant:
    return Tenant(
        tenant_id=str(row["tenant_id"]),
        authority_key=row["authority_key"],
        authority_name=row["authority_name"],
        role=Zugangsart(row["role"]),
        status=TenantStatus(row["status"]),
        data_scope=Datenumfang(row["data_scope"]),
        logging_arrangement=(
            Protokollierung(row["logging_arrangement"]) if row["logging_arrangement"] else None
        ),
        conditions=[Auflage.model_validate(c) for c in json.loads(row["conditions"])],
        client_certificate_fingerprint=row["client_certificate_fingerprint"],
        application_id=row["application_id"],
        status_reason=row["status_reason"],
        version=row["version"],
        authority_kind=Behoerdenart(row["authority_kind"]) if row["authority_kind"] else None,
        land=row["land"],
    )


def _account(row: asyncpg.Record) -> Account:
    values: dict[str, Any] = {
        k: row[k]
        for k in (
            "username",
            "first_name",
            "surname",
            "email",
            "smime_certificate_pem",
            "certificate_fingerprint",
            "password_hash",
            "must_change_password",
            "password_expires_at",
            "failed_logins",
            "sperrdaten_berechtigt",
            "auswertung_berechtigt",
        )
    }
    return Account(
        user_id=str(row["user_id"]),
        tenant_id=str(row["tenant_id"]) if row["tenant_id"] else None,
        operator_role=OperatorRole(row["operator_role"]) if row["operator_role"] else None,
        kind=UserKind(row["kind"]),
        status=UserStatus(row["status"]),
        **values,
    )


def _session(row: asyncpg.Record) -> Session:
    return Session(
        session_id=str(row["session_id"]),
        user_id=str(row["user_id"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        ended_at=row["ended_at"],
    )
