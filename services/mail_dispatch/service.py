"""mail_dispatch's service layer: render and store what an event asks for, then send.

Handling an event (inside its inbox transaction): letters are written to the print spool (named by
the event, written atomically, so a redelivery rewrites the same file) and recorded; mails are
rendered as S/MIME and stored as pending. Sending happens after the commit, one mail per
transaction, with a stable Message-ID; an SMTP failure is retried with backoff, and after the last
attempt the mail is `failed`, published on `min.mail.failed.v1` and dead-lettered, and the inbox
forgets its event: a redrive of the dead letter makes the mail pending again (its letters, already
spooled, are not printed twice). A plaintext password exists only while a letter or an encrypted
mail is rendered.

The one gap SMTP leaves: if the process dies after the relay accepted a mail and before the
commit that marks it sent, that mail is sent again after the restart under the same Message-ID,
by which receiving systems recognise the duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import aiosmtplib
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from services.mail_dispatch import render
from services.mail_dispatch.domain import SECRET, Plan
from services.mail_dispatch.render import Signer
from services.mail_dispatch.store import Dispatches, PendingMail
from shared.contract.envelope import Envelope
from shared.contract.events.mail import Kanal, MailDispatched, MailFailed
from shared.contract.topics import Topics
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing
from shared.platform.retry import backoff
from shared.platform.sealed import open_sealed

log = get_logger(__name__)
SecretOpener = Callable[[], str]


@dataclass(frozen=True)
class Dispatcher:
    signer: Signer
    seal_key: X25519PrivateKey
    spool: Path
    message_id_domain: str


@dataclass(frozen=True)
class Relay:
    host: str
    port: int
    validate_certs: bool
    timeout_seconds: float
    max_attempts: int
    retry_base_seconds: float


class SmtpConnection:
    """One connection to the relay, kept open between mails and reopened after an error.
    Reusing it keeps the relay's acceptance and our commit close together, and spares a TCP
    and TLS handshake per mail."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._client: aiosmtplib.SMTP | None = None
        self.lock = asyncio.Lock()  # one SMTP conversation at a time on the connection

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        for attempt in (1, 2):
            client = await self._connected()
            try:
                await client.sendmail(sender, [recipient], message)
                return
            except aiosmtplib.SMTPServerDisconnected:
                await self.close()  # the relay closed an idle connection: reconnect once
                if attempt == 2:
                    raise
            except (aiosmtplib.SMTPException, OSError):
                await self.close()
                raise

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is None or not self._client.is_connected:
            r = self.relay
            self._client = aiosmtplib.SMTP(
                hostname=r.host,
                port=r.port,
                start_tls=None,
                validate_certs=r.validate_certs,
                timeout=r.timeout_seconds,
            )
            await self._client.connect()
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()


def opener(deps: Dispatcher, sealed: str, context: bytes) -> SecretOpener:
    return lambda: open_sealed(deps.seal_key, sealed, context).decode()


def _failed(**fields: object) -> Outgoing:
    return Outgoing(Topics.MAIL_FAILED, MailFailed.model_validate(fields))


def _dispatched(**fields: object) -> Outgoing:
    return Outgoing(Topics.MAIL_DISPATCHED, MailDispatched.model_validate(fields))


async def handle(
    store: Dispatches,
    plan: Plan,
    source: Envelope,
    topic: str,
    payload: str,
    deps: Dispatcher,
    now: datetime,
    secret: SecretOpener | None = None,
) -> Sequence[Outgoing]:
    if plan.undeliverable:
        log.error("nothing can be dispatched", reason=plan.undeliverable)
        return [
            _failed(
                dispatch_id=f"{source.id}.undeliverable",
                source_event_id=source.id,
                source_topic=topic,
                kind="undeliverable",
                recipient=None,
                attempts=0,
                error=plan.undeliverable,
                failed_at=now,
            )
        ]
    out: list[Outgoing] = []
    for letter in plan.letters:
        dispatch_id = f"{source.id}.{letter.kind}"
        if await store.letter_known(dispatch_id):
            continue  # the event again after a redrive of its failed mail: printed once
        pdf = render.pdf_letter(letter, secret() if letter.secret_line and secret else None, now)
        path = deps.spool / f"{dispatch_id}.pdf"
        render.write_atomically(path, pdf)
        addressee = (
            f"{letter.address.first_name} {letter.address.surname}, "
            f"{letter.address.postcode} {letter.address.town}"
        )
        await store.add_letter(dispatch_id, source.id, letter.kind, addressee, path.name, now)
        out.append(
            _dispatched(
                dispatch_id=dispatch_id,
                source_event_id=source.id,
                channel=Kanal.LETTER,
                kind=letter.kind,
                recipient=addressee,
                signed=False,
                encrypted=False,
                dispatched_at=now,
            )
        )
    for mail in plan.mails:
        dispatch_id = f"{source.id}.{mail.kind}"
        body = mail.body
        if mail.carries_secret:
            if secret is None or mail.encrypt_for is None:
                raise ValueError("a secret goes only into an encrypted mail")
            body = body.replace(SECRET, secret())
        message, encrypted = render.smime_message(
            mail, body, deps.signer, f"{dispatch_id}@{deps.message_id_domain}", now
        )
        del body
        await store.add_mail(
            PendingMail(
                dispatch_id=dispatch_id,
                source_event_id=source.id,
                source_topic=topic,
                source_payload=payload,
                kind=mail.kind,
                recipient=mail.to,
                message=message,
                encrypted=encrypted,
                attempts=0,
            ),
            now,
        )
    return out


async def send_next(
    store: Dispatches,
    smtp: SmtpConnection,
    sender: str,
    now: datetime,
    source_event_id: str | None = None,
) -> tuple[PendingMail | None, list[Outgoing]]:
    """Sends the next due mail; returns it (None when there is none) and what to publish."""
    relay = smtp.relay
    mail = await store.next_due(now, source_event_id)
    if mail is None:
        return None, []
    try:
        await smtp.send(sender, mail.recipient, mail.message)
    except (aiosmtplib.SMTPException, OSError) as exc:
        attempts = mail.attempts + 1
        error = f"{type(exc).__name__}: {exc}"[:500]
        if attempts >= relay.max_attempts:
            await store.mark_attempt_failed(mail.dispatch_id, error, None)
            await store.give_up_event(mail.source_event_id)
            log.error("mail given up", dispatch_id=mail.dispatch_id, attempts=attempts, error=error)
            return mail, [
                _failed(
                    dispatch_id=mail.dispatch_id,
                    source_event_id=mail.source_event_id,
                    source_topic=mail.source_topic,
                    kind=mail.kind,
                    recipient=mail.recipient,
                    attempts=attempts,
                    error=error,
                    failed_at=now,
                )
            ]
        delay = backoff(relay.retry_base_seconds, attempts, relay.retry_base_seconds * 2**12)
        await store.mark_attempt_failed(mail.dispatch_id, error, now + timedelta(seconds=delay))
        log.warning(
            "mail not accepted, will retry",
            dispatch_id=mail.dispatch_id,
            attempts=attempts,
            retry_in_s=delay,
            error=error,
        )
        return mail, []
    await store.mark_sent(mail.dispatch_id, now)
    log.info("mail sent", dispatch_id=mail.dispatch_id, kind=mail.kind, encrypted=mail.encrypted)
    return mail, [
        _dispatched(
            dispatch_id=mail.dispatch_id,
            source_event_id=mail.source_event_id,
            channel=Kanal.EMAIL,
            kind=mail.kind,
            recipient=mail.recipient,
            signed=True,
            encrypted=mail.encrypted,
            dispatched_at=now,
        )
    ]
