"""Persistence of mails and letters (schema `mail_dispatch`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from shared.platform.messaging import forget_handled


@dataclass(frozen=True)
class PendingMail:
    dispatch_id: str
    source_event_id: str
    source_topic: str
    source_payload: str
    kind: str
    recipient: str
    message: bytes
    encrypted: bool
    attempts: int


class Dispatches(Protocol):
    """What mail_dispatch keeps: mails with their delivery state, letters put in the spool (the
    fast tier's fake is `tests/fakes/mail_dispatch.py`)."""

    async def add_mail(self, mail: PendingMail, now: datetime) -> None: ...
    async def letter_known(self, dispatch_id: str) -> bool: ...
    async def give_up_event(self, source_event_id: str) -> None: ...
    async def add_letter(
        self,
        dispatch_id: str,
        source_event_id: str,
        kind: str,
        addressee: str,
        spool_file: str,
        now: datetime,
    ) -> None: ...
    async def next_due(self, now: datetime, source_event_id: str | None) -> PendingMail | None: ...
    async def mark_sent(self, dispatch_id: str, now: datetime) -> None: ...
    async def mark_attempt_failed(
        self, dispatch_id: str, error: str, retry_at: datetime | None
    ) -> None: ...


class DispatchStore:
    """Works inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add_mail(self, mail: PendingMail, now: datetime) -> None:
        await self.conn.execute(
            """INSERT INTO mail (dispatch_id, source_event_id, source_topic, source_payload, kind,
                   recipient, message, encrypted, status, next_attempt_at, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9)
               ON CONFLICT (dispatch_id) DO UPDATE
                   SET status = 'pending', attempts = 0, last_error = NULL,
                       next_attempt_at = EXCLUDED.next_attempt_at
                   WHERE mail.status = 'failed'""",
            mail.dispatch_id,
            mail.source_event_id,
            mail.source_topic,
            mail.source_payload,
            mail.kind,
            mail.recipient,
            mail.message,
            mail.encrypted,
            now,
        )

    async def letter_known(self, dispatch_id: str) -> bool:
        return bool(
            await self.conn.fetchval("SELECT true FROM letter WHERE dispatch_id = $1", dispatch_id)
        )

    async def give_up_event(self, source_event_id: str) -> None:
        """The event's mail went to the dead-letter topic: a redrive of it is handled again."""
        await forget_handled(self.conn, source_event_id)

    async def add_letter(
        self,
        dispatch_id: str,
        source_event_id: str,
        kind: str,
        addressee: str,
        spool_file: str,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            """INSERT INTO letter (dispatch_id, source_event_id, kind, addressee, spool_file,
                   created_at) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (dispatch_id) DO NOTHING""",
            dispatch_id,
            source_event_id,
            kind,
            addressee,
            spool_file,
            now,
        )

    async def next_due(self, now: datetime, source_event_id: str | None) -> PendingMail | None:
        """The next mail to send, locked for this transaction; others skip it."""
        row = await self.conn.fetchrow(
            """SELECT * FROM mail WHERE status = 'pending' AND next_attempt_at <= $1
                   AND ($2::text IS NULL OR source_event_id = $2)
               ORDER BY created_at, dispatch_id LIMIT 1 FOR UPDATE SKIP LOCKED""",
            now,
            source_event_id,
        )
        if row is None:
            return None
        return PendingMail(**{k: row[k] for k in PendingMail.__dataclass_fields__})

    async def mark_sent(self, dispatch_id: str, now: datetime) -> None:
        await self.conn.execute(
            """UPDATE mail SET status = 'sent', attempts = attempts + 1, sent_at = $2,
                   last_error = NULL WHERE dispatch_id = $1""",
            dispatch_id,
            now,
        )

    async def mark_attempt_failed(
        self,
        dispatch_id: str,
        error: str,
        retry_at: datetime | None,
    ) -> None:
        await self.conn.execute(
            """UPDATE mail SET attempts = attempts + 1, last_error = $2,
                   status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
                   next_attempt_at = coalesce($3::timestamptz, next_attempt_at)
               WHERE dispatch_id = $1""",
            dispatch_id,
            error,
            retry_at,
        )
