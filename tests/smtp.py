"""A real SMTP server (aiosmtpd) on loopback for tests, and openssl checks of what it received."""

from __future__ import annotations

import email
import socket
import subprocess
import threading
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Received:
    recipient: str
    raw: bytes
    message_id: str  # parsed once on arrival: tests poll it often

    @property
    def subject(self) -> str:
        return str(make_header(decode_header(email.message_from_bytes(self.raw)["Subject"])))

    @property
    def encrypted(self) -> bool:
        return "enveloped-data" in (email.message_from_bytes(self.raw)["Content-Type"] or "")


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        # a fixed server name: the default looks up the machine's FQDN for every connection
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="smtp.test"
        )

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            headers = BytesHeaderParser().parsebytes(envelope.content)
            message_id = (headers["Message-ID"] or "").strip("<>")
            self.received.extend(
                Received(r, envelope.content, message_id) for r in envelope.rcpt_tos
            )
        return "250 OK"

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def to(self, recipient: str) -> list[Received]:
        with self._lock:
            return [m for m in self.received if m.recipient == recipient]


def openssl_cms(*args: str, data: bytes) -> bytes:
    """Runs `openssl cms ARGS` on `data`; fails the test with openssl's words if it refuses."""
    result = subprocess.run(["openssl", "cms", *args], input=data, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def verified(raw: bytes, ca: Path) -> email.message.Message:
    """The signed content, after `openssl cms -verify` accepted the signature and the chain."""
    return email.message_from_bytes(openssl_cms("-verify", "-CAfile", str(ca), data=raw))


def verified_text(raw: bytes, ca: Path) -> str:
    """The signed text (its text part where attachments came with it)."""
    content = verified(raw, ca)
    [text] = [p for p in content.walk() if p.get_content_type() == "text/plain"]
    return text.get_payload(decode=True).decode("utf-8")


def decrypted(raw: bytes, cert: Path, key: Path) -> bytes:
    return openssl_cms("-decrypt", "-recip", str(cert), "-inkey", str(key), data=raw)
