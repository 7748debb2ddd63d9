"""`python -m demo.mailcatcher [PORT] [--host HOST] [--mailbox DIR]`: an SMTP server for the local
run (127.0.0.1) and the compose file (every address of its container). It keeps every message as
.eml in the mailbox (.local/mailbox) and prints one line per mail (the content stays there: it is
S/MIME, to be opened with `openssl cms`)."""

from __future__ import annotations

import argparse
import asyncio
import email
import signal
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

MAILBOX = Path(".local/mailbox")


class Catcher:
    def __init__(self, mailbox: Path) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.content
        message = email.message_from_bytes(raw)
        message_id = (message["Message-ID"] or "unknown").strip("<>")
        await asyncio.to_thread((self.mailbox / f"{message_id}.eml").write_bytes, raw)
        kind = "encrypted" if "enveloped-data" in (message["Content-Type"] or "") else "signed"
        subject = str(make_header(decode_header(message["Subject"] or "")))
        print(f"✉ {envelope.rcpt_tos[0]:<40} {kind:<9} {subject}", flush=True)
        return "250 Message accepted for delivery"


async def main(port: int, host: str = "127.0.0.1", mailbox: Path = MAILBOX) -> None:
    await asyncio.to_thread(mailbox.mkdir, parents=True, exist_ok=True)
    controller = Controller(
        Catcher(mailbox), hostname=host, port=port, server_hostname="mailcatcher.local"
    )
    controller.start()
    print(f"mail catcher on {host}:{port}, mailbox {mailbox}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m demo.mailcatcher")
    parser.add_argument("port", nargs="?", type=int, default=2525)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container")
    parser.add_argument("--mailbox", type=Path, default=MAILBOX)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.host, args.mailbox))
