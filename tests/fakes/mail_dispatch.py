"""mail_dispatch's `DispatchStore` in memory."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from services.mail_dispatch.store import PendingMail


@dataclass
class Mail:
    mail: PendingMail
    status: str
    next_attempt_at: datetime
    created_at: datetime
    last_error: str | None = None
    sent_at: datetime | None = None


@dataclass
class MemoryDispatchStore:
    mails: dict[str, Mail] = field(default_factory=dict)
    letters: dict[str, tuple[str, str, str, str, datetime]] = field(default_factory=dict)

    def bind(self, messaging: Any) -> None:
        self.inbox: set[str] = messaging.inbox  # wiring, not a table: kept through rollbacks

    async def add_mail(self, mail: PendingMail, now: datetime) -> None:
        known = self.mails.get(mail.dispatch_id)
        if known is None:
            self.mails[mail.dispatch_id] = Mail(mail, "pending", now, now)
        elif known.status == "failed":  # taken on again after a redrive: pending once more
            self.mails[mail.dispatch_id] = replace(
                known,
                mail=replace(known.mail, attempts=0),
                status="pending",
                next_attempt_at=now,
                last_error=None,
            )

    async def letter_known(self, dispatch_id: str) -> bool:
        return dispatch_id in self.letters

    async def give_up_event(self, source_event_id: str) -> None:
        self.inbox.discard(source_event_id)

    async def add_letter(
        self,
        dispatch_id: str,
        source_event_id: str,
        kind: str,
        addressee: str,
        spool_file: str,
        now: datetime,
    ) -> None:
        self.letters.setdefault(dispatch_id, (source_event_id, kind, addressee, spool_file, now))

    async def next_due(self, now: datetime, source_event_id: str | None) -> PendingMail | None:
        due = sorted(
            (
                m
                for m in self.mails.values()
                if m.status == "pending"
                and m.next_attempt_at <= now
                and source_event_id in (None, m.mail.source_event_id)
            ),
            key=lambda m: (m.created_at, m.mail.dispatch_id),
        )
        return due[0].mail if due else None

    async def mark_sent(self, dispatch_id: str, now: datetime) -> None:
        m = self.mails[dispatch_id]
        self.mails[dispatch_id] = replace(
            m,
            mail=replace(m.mail, attempts=m.mail.attempts + 1),
            status="sent",
            sent_at=now,
            last_error=None,
        )

    async def mark_attempt_failed(
        self, dispatch_id: str, error: str, retry_at: datetime | None
    ) -> None:
        m = self.mails[dispatch_id]
        self.mails[dispatch_id] = replace(
            m,
            mail=replace(m.mail, attempts=m.mail.attempts + 1),
            status="failed" if retry_at is None else "pending",
            next_attempt_at=retry_at or m.next_attempt_at,
            last_error=error,
        )
