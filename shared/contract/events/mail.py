"""Secure mail and letters to authorities: what was sent, and what could not be."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.base import Event


class Kanal(StrEnum):
    EMAIL = "email"
    LETTER = "letter"  # PDF in the print spool for the postal service


class MailDispatched(Event):
    """`min.mail.dispatched.v1`: an e-mail accepted by the relay, or a letter put in the spool."""

    dispatch_id: str = Field(description="stable per source event and kind; the Message-ID's id")
    source_event_id: str
    channel: Kanal
    kind: str = Field(description="e.g. account_mail, password_letter, incomplete_notice")
    recipient: str = Field(description="e-mail address, or the letter's addressee")
    signed: bool
    encrypted: bool
    dispatched_at: datetime


class MailFailed(Event):
    """`min.mail.failed.v1`: a dispatch given up after its retries, with the last error."""

    dispatch_id: str
    source_event_id: str
    source_topic: str
    kind: str
    recipient: str | None
    attempts: int
    error: str
    failed_at: datetime
