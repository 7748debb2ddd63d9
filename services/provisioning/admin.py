"""Operator accounts, set up on provisioning's host by whoever administers the operator's staff:

    python -m services.provisioning.admin operator-account USERNAME --role datenschutz \
        --first-name Dana --surname Schütte --email dsb@meldespiegel.example

An operator account (the operator's Verfahrensbetreuung, data-protection officer, internal audit,
or the data-protection supervisory authority) has no tenant; its role decides what it may read
(§ 40 Abs. 5 Satz 3 BMG). The initial password is printed once, to be handed over in person; it
must be changed at the first sign-in and expires unchanged like every initial password.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.provisioning import service
from services.provisioning.app import SERVICE, Provisioning
from services.provisioning.domain import Rejection
from services.provisioning.store import ProvisioningStore
from shared.contract.events.account import OperatorRole
from shared.platform.db import create_pool
from shared.platform.runtime import utc_now


async def _operator_account(args: argparse.Namespace) -> int:
    runtime = Provisioning()
    pool = await create_pool(
        runtime.settings.database_url, SERVICE, "services.provisioning", max_size=2
    )
    try:
        async with pool.acquire() as conn, conn.transaction():
            account, password = await service.add_operator_account(
                ProvisioningStore(conn),
                args.username,
                OperatorRole(args.role),
                args.first_name,
                args.surname,
                args.email,
                utc_now(),
                runtime.deps,
            )
    finally:
        await pool.close()
    if isinstance(account, Rejection):
        print(f"refused: {account.code}: {account.message}", file=sys.stderr)
        return 1
    print(f"operator account {account.username} ({args.role}) created")
    print(f"initial password (hand over in person, change at first sign-in): {password}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m services.provisioning.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    op = sub.add_parser("operator-account", help="create an operator account")
    op.add_argument("username")
    op.add_argument("--role", required=True, choices=[r.value for r in OperatorRole])
    op.add_argument("--first-name", required=True)
    op.add_argument("--surname", required=True)
    op.add_argument("--email", required=True)
    args = parser.parse_args()
    return asyncio.run(_operator_account(args))


if __name__ == "__main__":
    raise SystemExit(main())
