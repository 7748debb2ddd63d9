"""An operator command on the protocol log, run beside the service on its host:

    python -m services.protocol_log.admin verify
    python -m services.protocol_log.admin export CHAIN --auditor NAME > chain.jsonl

`verify` checks every chain against its checkpoints and retention cuts with the public key and
exits 1 on any finding. `export` writes one chain for an auditor (JSON Lines: its retention cut,
entries with their hashes, signed checkpoints), who verifies it without this system
(docs/audit/verify-chain.mjs); the export is logged as a read by the named auditor. Authorities
read entries only through the read API (`meldespiegel log …`), which names the reader from a
signed-in account and logs the read.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime

from services.protocol_log import service
from services.protocol_log.app import SERVICE, signature_check
from services.protocol_log.store import ProtocolStore
from shared.platform.db import create_pool
from shared.platform.settings import get_settings


async def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    pool = await create_pool(settings.database_url, SERVICE, "services.protocol_log", max_size=2)
    try:
        if args.command == "export":
            async with pool.acquire() as conn, conn.transaction():
                lines = await service.export_chain(
                    ProtocolStore(conn), args.chain, reader=f"auditor:{args.auditor}",
                    now=datetime.now(UTC),
                )  # fmt: skip
            if not lines:
                print(f"no chain {args.chain}", file=sys.stderr)
                return 1
            for line in lines:
                sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            return 0
        async with pool.acquire() as conn, conn.transaction():
            results = await service.verify(ProtocolStore(conn), signature_check(settings.pki_dir))
        for chain, findings in results.items():
            print(f"{chain}: {'intact' if not findings else 'FINDINGS'}")
            for finding in findings:
                print(f"  - {finding}")
        return 1 if any(results.values()) else 0
    finally:
        await pool.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m services.protocol_log.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("verify", help="verify every chain")
    export = sub.add_parser("export", help="one chain for an auditor, as JSON Lines")
    export.add_argument("chain", help="e.g. operator, or tenant:<tenant id>")
    export.add_argument("--auditor", required=True, help="who receives it (logged as the reader)")
    args = parser.parse_args()
    return asyncio.run(_run(args))


if __name__ == "__main__":
    raise SystemExit(main())
