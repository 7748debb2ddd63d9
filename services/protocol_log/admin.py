"""Operator commands on the protocol log, run beside the service:

    python -m services.protocol_log.admin verify
    python -m services.protocol_log.admin read --reader operator:jdoe \
        --purpose datenschutzkontrolle [--tenant ID] [--vorgangsnummer NR] \
        [--subject AGS:ORDNUNGSMERKMAL]

`verify` checks every chain against its checkpoints and retention cuts with the public key and
exits 1 on any finding. `read` needs a purpose of § 40 Abs. 5 BMG and is itself logged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from services.protocol_log import service
from services.protocol_log.app import SERVICE, signature_check
from services.protocol_log.domain import ReadRefused
from services.protocol_log.store import ProtocolStore
from shared.contract.events.abruf import Treffer
from shared.contract.events.protocol import Zweck
from shared.platform.db import create_pool
from shared.platform.runtime import utc_now
from shared.platform.settings import get_settings


async def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    pool = await create_pool(settings.database_url, SERVICE, "services.protocol_log", max_size=2)
    try:
        async with pool.acquire() as conn, conn.transaction():
            store = ProtocolStore(conn)
            if args.command == "verify":
                results = await service.verify(store, signature_check(settings.pki_dir))
                for chain, findings in results.items():
                    print(f"{chain}: {'intact' if not findings else 'FINDINGS'}")
                    for finding in findings:
                        print(f"  - {finding}")
                return 1 if any(results.values()) else 0
            subject = None
            if args.subject:
                ags, _, om = args.subject.partition(":")
                subject = Treffer(gemeindeschluessel=ags, ordnungsmerkmal=om)
            entries = await service.read(
                store,
                reader=args.reader,
                purpose=Zweck(args.purpose),
                now=utc_now(),
                tenant_id=args.tenant,
                vorgangsnummer=args.vorgangsnummer,
                subject=subject,
            )
            print(json.dumps(entries, ensure_ascii=False, indent=2))
            return 0
    finally:
        await pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m services.protocol_log.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("verify", help="verify every chain")
    read = sub.add_parser("read", help="read entries for a stated purpose (logged)")
    read.add_argument("--reader", required=True, help="operator:<id> or tenant:<tenant id>")
    read.add_argument("--purpose", required=True, choices=[z.value for z in Zweck])
    read.add_argument("--tenant")
    read.add_argument("--vorgangsnummer")
    read.add_argument("--subject", help="AGS:Ordnungsmerkmal of the person concerned")
    args = parser.parse_args()
    try:
        return asyncio.run(_run(args))
    except ReadRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
