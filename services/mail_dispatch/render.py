"""Rendering: S/MIME messages (RFC 8551, signed, then encrypted where a certificate is on file)
and PDF letters for the print spool."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from fpdf import FPDF

from services.mail_dispatch.domain import INFORMATIONSBLATT, OPERATOR, LetterPlan, MailPlan
from shared.law.sicherheit import HINWEISE, SICHERHEITSANFORDERUNGEN


@dataclass(frozen=True)
class Signer:
    address: str
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey

    @classmethod
    def load(cls, address: str, cert_pem: bytes, key_pem: bytes) -> Signer:
        key = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return cls(address, x509.load_pem_x509_certificate(cert_pem), key)


def _crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def _header(value: str) -> str:
    from email.header import Header

    return Header(value, "utf-8").encode()


def smime_message(
    plan: MailPlan, body: str, signer: Signer, message_id: str, date: datetime
) -> tuple[bytes, bool]:
    """The complete message as sent (headers + S/MIME body) and whether it is encrypted."""
    if plan.carries_secret and plan.encrypt_for is None:
        raise ValueError("a secret is never sent unencrypted")
    inner = _content(plan, body, date).as_bytes()
    signed = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(_crlf(inner))
        .add_signer(signer.certificate, signer.key, hashes.SHA256())
        .sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    )
    content, encrypted = signed, False
    if plan.encrypt_for:
        recipient = x509.load_pem_x509_certificate(plan.encrypt_for.encode())
        content = (
            pkcs7.PKCS7EnvelopeBuilder()
            .set_data(signed)
            .add_recipient(recipient)
            .encrypt(serialization.Encoding.SMIME, [])
        )
        encrypted = True
    headers = (
        f"From: meldespiegel Verfahrensbetreuung <{signer.address}>\r\n"
        f"To: {plan.to}\r\n"
        f"Subject: {_header(plan.subject)}\r\n"
        f"Date: {format_datetime(date)}\r\n"
        f"Message-ID: <{message_id}>\r\n"
    )
    return headers.encode() + _crlf(content), encrypted


ATTACHMENT_NAMES = {INFORMATIONSBLATT: "Informationsblatt-Melderegisterdatenspiegel.pdf"}


def _content(plan: MailPlan, body: str, date: datetime) -> Message:
    """The part that is signed: the text, with the plan's attachments as PDF parts."""
    text = MIMEText(body, "plain", "utf-8")
    if not plan.attachments:
        return text
    mixed = MIMEMultipart("mixed")
    mixed.attach(text)
    for name in plan.attachments:
        part = MIMEApplication(informationsblatt_pdf(date), "pdf")
        part.add_header("Content-Disposition", "attachment", filename=ATTACHMENT_NAMES[name])
        mixed.attach(part)
    return mixed


class _Letter(FPDF):
    def __init__(self, sender: str) -> None:
        super().__init__(format="A4")
        self.sender = sender

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, _latin1(self.sender), align="C")


def _latin1(text: str) -> str:
    # the PDF core fonts cover Latin-1 (umlauts, ß); typographic quotes are replaced
    for a, b in (("„", '"'), ("“", '"'), ("”", '"'), ("–", "-"), ("…", "...")):
        text = text.replace(a, b)
    return text.encode("latin-1", "replace").decode("latin-1")


def pdf_letter(plan: LetterPlan, secret: str | None, date: datetime) -> bytes:
    pdf = _Letter(plan.sender)
    pdf.set_margins(25, 20, 20)
    pdf.add_page()
    pdf.set_font("Helvetica", size=7)
    pdf.set_xy(25, 45)  # DIN 5008 window: return address, then the address block
    pdf.cell(0, 4, _latin1(plan.sender), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    a = plan.address
    for line in (
        "Persönlich / vertraulich",
        a.authority_name,
        a.office_name,
        f"{a.first_name} {a.surname}".strip(),
        a.street_and_number,
        f"{a.postcode} {a.town}",
    ):
        if line:
            pdf.cell(0, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.set_xy(125, 100)
    pdf.cell(0, 5, _latin1(date.strftime("%d.%m.%Y")))
    pdf.set_xy(25, 110)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.multi_cell(0, 5, _latin1(plan.subject), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    for i, paragraph in enumerate(plan.paragraphs):
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 5, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
        if i == 1 and plan.secret_line is not None and secret is not None:
            pdf.set_font("Courier", style="B", size=14)
            pdf.cell(
                0,
                8,
                plan.secret_line.replace("{PASSWORD}", secret),
                align="C",
                new_x="LMARGIN",
                new_y="NEXT",
            )
            pdf.ln(3)
    if INFORMATIONSBLATT in plan.attachments:  # the enclosure, after the letter
        _informationsblatt_pages(pdf, date)
    return bytes(pdf.output())


def _informationsblatt_pages(pdf: FPDF, date: datetime) -> None:
    """The Informationsblatt: the § 39 Abs. 1 BMG requirements the authority declared its
    measures for, and what else applies to the retrieval, each with its source."""
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=13)
    title = "Informationsblatt zum Melderegisterdatenspiegel"
    pdf.multi_cell(0, 7, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    stand = f"Technische Anforderungen an die Sicherheit des Abrufs, Stand {date:%d.%m.%Y}"
    pdf.multi_cell(0, 5, _latin1(stand), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.multi_cell(
        0, 5, _latin1("Die abrufende Stelle stellt sicher (§ 39 Abs. 1 BMG, Art. 32 DSGVO):"),
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    pdf.set_font("Helvetica", size=11)
    for description, _ in SICHERHEITSANFORDERUNGEN.values():
        pdf.multi_cell(0, 5, _latin1(f"- {description}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for text, source in HINWEISE:
        pdf.multi_cell(0, 5, _latin1(f"- {text} ({source})"), new_x="LMARGIN", new_y="NEXT")


def informationsblatt_pdf(date: datetime) -> bytes:
    pdf = _Letter(OPERATOR)
    pdf.set_margins(25, 20, 20)
    _informationsblatt_pages(pdf, date)
    return bytes(pdf.output())


def write_atomically(path: Path, content: bytes) -> None:
    """The print spool sees a letter completely or not at all; a rewrite replaces it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(content)
    tmp.replace(path)
