"""mail_dispatch on the in-memory broker and a real SMTP server (aiosmtpd); S/MIME checked by
`openssl cms`, letters read back from the PDF. Each test runs twice: with the in-memory store (the
fast tier, no Kafka, no PostgreSQL) and with the real PostgreSQL store (marked integration)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from services.mail_dispatch.app import MailDispatch, MailSettings
from shared.contract.events.account import CredentialPurpose
from shared.contract.events.application import ApplicationIncomplete, Kontakt, Mangel
from shared.contract.topics import Topics
from shared.law.sicherheit import SICHERHEITSANFORDERUNGEN
from shared.platform.pki import CA_CERT, CA_KEY, issue_smime
from shared.platform.settings import get_settings
from tests.factories import NOW, approval, complete_application, credentials
from tests.fakes.mail_dispatch import MemoryDispatchStore
from tests.helpers import database_url
from tests.inmemory import InMemory
from tests.smtp import SmtpServer, decrypted, free_port, verified, verified_text


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


PKI = get_settings().pki_dir
WATCH = (Topics.MAIL_DISPATCHED, Topics.MAIL_FAILED, Topics.ACCOUNT_CREDENTIALS.dlq)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def recipient_pki(tmp_path: Path) -> tuple[str, Path, Path]:
    cert, key = issue_smime(
        (PKI / CA_CERT).read_bytes(),
        (PKI / CA_KEY).read_bytes(),
        "joerdis@example.org",
        "Jördis Weißmüller",
    )
    (tmp_path / "r.pem").write_bytes(cert)
    (tmp_path / "r.key").write_bytes(key)
    return cert.decode(), tmp_path / "r.pem", tmp_path / "r.key"


def dispatcher(
    backend: str, smtp_port: int, spool: Path, clock: Clock, **settings: Any
) -> InMemory:
    if backend == "postgres":
        settings["database_url"] = database_url()
    s = MailSettings(
        smtp_port=smtp_port, print_spool_dir=spool, smtp_retry_base_seconds=1, **settings
    )
    service = MailDispatch(s, clock=clock)
    if backend == "postgres":
        return InMemory(service, *WATCH)
    store = MemoryDispatchStore()
    service.store = lambda conn: store
    return InMemory(service, *WATCH, stores=[store])


@pytest.fixture
async def run(backend: str, smtp: SmtpServer, tmp_path: Path) -> AsyncIterator[InMemory]:
    async with dispatcher(backend, smtp.port, tmp_path / "spool", Clock()) as harness:
        yield harness


def letter_text(spool: Path, source_event_id: str) -> str:
    [pdf] = spool.glob(f"{source_event_id}.*.pdf")
    return "\n".join(page.extract_text() for page in PdfReader(pdf).pages)


async def test_account_mail_is_signed_and_the_password_goes_by_letter(
    run: InMemory, smtp: SmtpServer, tmp_path: Path
) -> None:
    event, password = credentials()
    envelope = await run.deliver(Topics.ACCOUNT_CREDENTIALS, event)
    [mail] = smtp.to(event.email)
    assert not mail.encrypted
    text = verified_text(mail.raw, PKI / CA_CERT)
    assert "Ihr Accountname: j.weissmueller.4f2a9c" in text
    assert "nicht verschlüsselt" in text  # the note when no certificate is on file
    assert "Outlook" in text  # the guide to secure mail
    assert password not in mail.raw.decode("latin-1")
    letter = letter_text(tmp_path / "spool", envelope.id)
    assert password in letter
    assert "Göttingen" in letter
    assert {(d["channel"], d["kind"]) for d in run.bodies(Topics.MAIL_DISPATCHED)} == {
        ("letter", "password_letter"),
        ("email", "account_mail"),
    }


async def test_mail_is_encrypted_when_the_certificate_is_on_file(
    run: InMemory, smtp: SmtpServer, recipient_pki: tuple[str, Path, Path]
) -> None:
    cert, cert_path, key_path = recipient_pki
    event, _ = credentials(cert=cert)
    await run.deliver(Topics.ACCOUNT_CREDENTIALS, event)
    [mail] = smtp.to(event.email)
    assert mail.encrypted
    text = verified_text(decrypted(mail.raw, cert_path, key_path), PKI / CA_CERT)
    assert "j.weissmueller.4f2a9c" in text
    assert "nicht verschlüsselt" not in text


async def test_reset_password_goes_only_by_encrypted_mail(
    run: InMemory, smtp: SmtpServer, recipient_pki: tuple[str, Path, Path], tmp_path: Path
) -> None:
    cert, cert_path, key_path = recipient_pki
    event, password = credentials(CredentialPurpose.ADMINISTRATOR_RESET, cert=cert)
    await run.deliver(Topics.ACCOUNT_CREDENTIALS, event)
    [mail] = smtp.to(event.email)
    assert mail.encrypted
    assert password not in mail.raw.decode("latin-1")
    text = verified_text(decrypted(mail.raw, cert_path, key_path), PKI / CA_CERT)
    assert f"Ihr neues Initialpasswort: {password}" in text
    assert not (tmp_path / "spool").exists()  # no letter for a reset


async def test_each_event_is_dispatched_once_under_redelivery(
    run: InMemory, smtp: SmtpServer, tmp_path: Path
) -> None:
    event, _ = credentials()
    envelope = await run.deliver(Topics.ACCOUNT_CREDENTIALS, event)
    # the same event again, as Kafka redelivers it after a crash: same ce_id
    await run.broker.publish(
        event.model_dump(mode="json"),
        Topics.ACCOUNT_CREDENTIALS.name,
        key=b"k",
        headers=envelope.to_headers(),
    )
    assert len(smtp.to(event.email)) == 1
    assert len(list((tmp_path / "spool").glob(f"{envelope.id}.*.pdf"))) == 1


async def test_notices_for_incomplete_and_decided_applications(
    run: InMemory, smtp: SmtpServer
) -> None:
    incomplete = ApplicationIncomplete(
        application_id="N-1",
        contact=Kontakt(email="amt@example.org", salutation="herr", surname="Großkopf"),
        defects=[
            Mangel(
                code="OFFICIAL_SEAL_MISSING",
                field="signature.official_seal",
                message="Das Dienstsiegel fehlt.",
            )
        ],
        decided_at=NOW,
    )
    await run.deliver(Topics.APPLICATION_INCOMPLETE, incomplete)
    [notice] = smtp.to("amt@example.org")
    text = verified_text(notice.raw, PKI / CA_CERT)
    assert "Sehr geehrter Herr Großkopf" in text
    assert "- Das Dienstsiegel fehlt." in text

    app = complete_application(**{"administrator.email": "leitung@example.org"})
    await run.deliver(Topics.REVIEW_DECIDED, approval(app))
    [decision] = smtp.to("leitung@example.org")
    assert decision.subject == f"Ihr Antrag {app.application_id}: bewilligt"
    assert "Zugang ist rechtlich zulässig: Ja." in verified_text(decision.raw, PKI / CA_CERT)
    # the Informationsblatt goes with every approval, inside the signature (seed; § 39 Abs. 1 BMG)
    [pdf] = [
        p for p in verified(decision.raw, PKI / CA_CERT).walk()
        if p.get_content_type() == "application/pdf"
    ]  # fmt: skip
    assert pdf.get_filename() == "Informationsblatt-Melderegisterdatenspiegel.pdf"
    pages = PdfReader(io.BytesIO(pdf.get_payload(decode=True))).pages
    sheet = "\n".join(page.extract_text() for page in pages)
    assert "Informationsblatt zum Melderegisterdatenspiegel" in sheet
    for description, _ in SICHERHEITSANFORDERUNGEN.values():
        assert " ".join(description.split()[:4]) in " ".join(sheet.split())
    assert "Anlage: Informationsblatt" in verified_text(decision.raw, PKI / CA_CERT)


async def test_notice_without_email_goes_by_letter_and_without_address_fails_loudly(
    run: InMemory, tmp_path: Path
) -> None:
    by_post = ApplicationIncomplete(
        application_id="N-2",
        contact=Kontakt(
            first_name="Kai",
            surname="Østergård",
            street_and_number="Am Markt 1",
            postcode="29221",
            town="Celle",
        ),
        defects=[
            Mangel(
                code="ADMIN_EMAIL_MISSING",
                field="administrator.email",
                message="Die E-Mail-Adresse fehlt.",
            )
        ],
        decided_at=NOW,
    )
    envelope = await run.deliver(Topics.APPLICATION_INCOMPLETE, by_post)
    assert "Die E-Mail-Adresse fehlt." in letter_text(tmp_path / "spool", envelope.id)
    nowhere = by_post.model_copy(update={"application_id": "N-3", "contact": Kontakt()})
    await run.deliver(Topics.APPLICATION_INCOMPLETE, nowhere)
    [failed] = run.bodies(Topics.MAIL_FAILED)
    assert "neither an e-mail nor a postal address" in failed["error"]


async def test_unreachable_relay_is_retried_then_failed_and_dead_lettered(
    backend: str, tmp_path: Path
) -> None:
    clock = Clock()
    async with dispatcher(
        backend, free_port(), tmp_path / "spool", clock, smtp_max_attempts=3, smtp_timeout_seconds=2
    ) as run:
        event, _ = credentials()
        await run.deliver(Topics.ACCOUNT_CREDENTIALS, event)
        assert run.bodies(Topics.MAIL_FAILED) == []
        for seconds in (1, 3):  # the retries fall due: 1 s, then 2 s later
            clock.now = NOW + timedelta(seconds=seconds)
            await run.service.send_due()
    [failed] = run.bodies(Topics.MAIL_FAILED)
    assert (failed["kind"], failed["attempts"]) == ("account_mail", 3)
    assert "Connect" in failed["error"] or "Errno" in failed["error"]
    [letter] = run.messages[Topics.ACCOUNT_CREDENTIALS.dlq]
    assert letter.headers["dlq_error_type"] == "MailDeliveryFailed"
    # the letter went out all the same: only the mail failed
    assert [d["kind"] for d in run.bodies(Topics.MAIL_DISPATCHED)] == ["password_letter"]


async def test_the_same_event_again_after_a_given_up_mail_sends_it_once(
    backend: str, tmp_path: Path
) -> None:
    """A redrive publishes the dead letter back with its event id: the mail is sent then, and
    the letter the event also asked for is not written again."""
    clock = Clock()
    relay = SmtpServer()  # its port is chosen, nothing listens on it yet
    try:
        async with dispatcher(
            backend, relay.port, tmp_path / "spool", clock, smtp_max_attempts=1,
            smtp_timeout_seconds=2,
        ) as run:  # fmt: skip
            event, _ = credentials()
            envelope = await run.deliver(Topics.ACCOUNT_CREDENTIALS, event)
            [failed] = run.bodies(Topics.MAIL_FAILED)
            assert failed["attempts"] == 1
            relay.start()
            await run.deliver(Topics.ACCOUNT_CREDENTIALS, event, event_id=envelope.id)
            await run.deliver(Topics.ACCOUNT_CREDENTIALS, event, event_id=envelope.id)  # once
        assert [r.recipient for r in relay.received] == [event.email]
        kinds = [d["kind"] for d in run.bodies(Topics.MAIL_DISPATCHED)]
        assert sorted(kinds) == ["account_mail", "password_letter"]
        assert len(list((tmp_path / "spool").iterdir())) == 1
    finally:
        relay.stop()
