"""`python -m demo.mailcatcher [PORT]`: an SMTP server on 127.0.0.1 for the local run. It keeps
every message as .eml in .local/mailbox and prints one line per mail (the content stays there:
it is S/MIME, to be opened with `openssl cms`)."""

from __future__ import annotations

import asyncio
import email
import signal
import sys
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

MAILBOX = Path(".local/mailbox")


class Catcher:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.content
        message = email.message_from_bytes(raw)
        message_id = (message["Message-ID"] or "unknown").strip("<>")
        await asyncio.to_thread((MAILBOX / f"{message_id}.eml").write_bytes, raw)
        kind = "encrypted" if "enveloped-data" in (message["Content-Type"] or "") else "signed"
        subject = str(make_header(decode_header(message["Subject"] or "")))
        print(f"✉ {envelope.rcpt_tos[0]:<40} {kind:<9} {subject}", flush=True)
        return "250 Message accepted for delivery"


async def main(port: int) -> None:
    await asyncio.to_thread(MAILBOX.mkdir, parents=True, exist_ok=True)
    controller = Controller(
        Catcher(), hostname="127.0.0.1", port=port, server_hostname="mailcatcher.local"
    )
    controller.start()
    print(f"mail catcher on 127.0.0.1:{port}, mailbox {MAILBOX}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    controller.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2525))
