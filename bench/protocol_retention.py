"""§ 40 Abs. 5 BMG at production volume: a day of entries falling due is deleted within the day,
next to a baseline measured in the same run.

    bench/run protocol_retention [ENTRIES] [BASELINE_ENTRIES]

- protocol: ENTRIES (default 20,000,000) entries of one Berlin day in the protocol's own schema
  (migrations applied, day partitions, the GIN index on the hits), spread over ten chains (the
  operator's and nine commissioned ones), each shaped like a real § 40 entry. Then some real
  entries of the next day are written through the service, chained to the bulk day's last
  hashes, and signed. Measured: `drop_due_day` at the deadline, then the verification of what
  remains (it must report nothing, or the run fails).
- baseline: the row-by-row deletion the protocol used before (`DELETE ... WHERE chain = $1 AND
  seq <= $2` in batches of 5,000, the old unpartitioned table with the same indexes, then the
  VACUUM that frees the space) on BASELINE_ENTRIES entries (default 2,000,000) of the same
  shape; its rate is extrapolated to ENTRIES (linearly, so it flatters the baseline once the
  table outgrows the memory).

The bulk day is written by SQL (`generate_series`), its internal hashes are not a real chain:
the day is dropped whole, and what remains is checked by the real verifier. Figures go to
stdout; nothing is asserted but the verification.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from datetime import datetime, timedelta

import asyncpg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.protocol_log import domain, service
from services.protocol_log.domain import AlertThresholds
from services.protocol_log.service import Evaluation
from services.protocol_log.store import ProtocolStore
from shared.contract.events.abruf import QueryAnswered
from shared.law import aufbewahrung
from shared.law.aufbewahrung import BERLIN
from shared.platform.db import create_pool
from shared.platform.logging import configure_logging
from shared.platform.settings import get_settings
from tests.retrieval import answered

DAY = datetime(2025, 3, 14, tzinfo=BERLIN)
CHAINS = ["operator", *(f"tenant:T-bench-{i}" for i in range(1, 10))]
KEY = Ed25519PrivateKey.generate()


def sample(at: datetime, tenant: str, protokollierung: str) -> QueryAnswered:
    return answered(
        at,
        tenant=tenant,
        protokollierung=protokollierung,
        treffer="OM-0000123456",
        kriterien={
            "familienname": "Müller-Lüdenscheidt",
            "vornamen": "Karl-Heinz",
            "geburtsdatum": "19800101",
            "strasse": "Hauptstraße",
        },
    )


TEMPLATE = domain.entry_for(sample(DAY, "T-bench-0", "operator"), DAY)


async def bulk(conn: asyncpg.Connection, table: str, n: int) -> None:
    """n entries of DAY over the ten chains, written by the database itself."""
    per_chain = n // len(CHAINS)
    await conn.execute(
        f"""INSERT INTO {table} (chain, seq, vorgangsnummer, tenant_id, written_at, entry,
                                 prev_hash, entry_hash)
            SELECT c.chain, s.seq, c.chain || '-' || s.seq, 'T-bench',
                   $1::timestamptz + make_interval(secs => s.seq * 86000.0 / $2),
                   jsonb_set($3::jsonb, '{{vorgangsnummer}}', to_jsonb(c.chain || '-' || s.seq)),
                   encode(sha256((c.chain || (s.seq - 1))::bytea), 'hex'),
                   encode(sha256((c.chain || s.seq)::bytea), 'hex')
            FROM unnest($4::text[]) AS c(chain), generate_series(1, $2::bigint) AS s(seq)""",
        DAY,
        per_chain,
        json.dumps(TEMPLATE, ensure_ascii=False),
        CHAINS,
    )


async def protocol(dsn: str, n: int) -> None:
    schema = f"bench_protocol_{uuid.uuid4().hex[:6]}"
    pool = await create_pool(dsn, schema, "services.protocol_log", max_size=2)
    try:
        async with pool.acquire() as conn:
            store = ProtocolStore(conn)
            await store.ensure_days([DAY.date(), (DAY + timedelta(days=1)).date()])
            t0 = time.perf_counter()
            await bulk(conn, "protokoll", n)
            load_s = time.perf_counter() - t0
            size = await conn.fetchval(
                "SELECT pg_size_pretty(pg_total_relation_size($1::regclass))",
                f"protokoll_{DAY:%Y%m%d}",
            )
            per_chain = n // len(CHAINS)
            for chain in CHAINS:
                last = await conn.fetchval(
                    "SELECT entry_hash FROM protokoll WHERE chain = $1 AND seq = $2",
                    chain,
                    per_chain,
                )
                await conn.execute(
                    "INSERT INTO chain_heads VALUES ($1, $2, $3)", chain, per_chain, last
                )
            # the next day, written and signed as the service does
            evaluation = Evaluation(AlertThresholds(), b"k" * 32)
            nxt = DAY + timedelta(days=1, hours=9)
            for i, chain in enumerate(CHAINS):
                tenant = "T-bench-0" if chain == "operator" else chain.split(":", 1)[1]
                kind = "operator" if chain == "operator" else "commissioned"
                for k in range(20):
                    at = nxt + timedelta(seconds=i * 20 + k)
                    async with conn.transaction():
                        await service.release(store, [sample(at, tenant, kind)], at, evaluation)
            await service.checkpoint(store, KEY.sign, nxt + timedelta(hours=1))
            deadline = aufbewahrung.day_due(DAY.date())
            print(
                f"protocol  {n:>11,} entries of {DAY.date()} in {len(CHAINS)} chains, "
                f"{size} with indexes, loaded in {load_s:,.0f} s; due {deadline.isoformat()}",
                flush=True,
            )
            t0 = time.perf_counter()
            async with conn.transaction():
                dropped = await service.drop_due_day(store, KEY.sign, deadline)
            drop_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            findings = await service.verify(store, lambda m, s: _verified(KEY.public_key(), m, s))
            verify_s = time.perf_counter() - t0
            left = await conn.fetchval("SELECT count(*) FROM protokoll")
            bad = [f for fs in findings.values() for f in fs]
            print(
                f"protocol  dropped {dropped:,} entries in {drop_s:.2f} s "
                f"({(dropped or 0) / drop_s:,.0f}/s); {left} entries of the next day left; "
                f"verification {bad or 'intact'} in {verify_s:.2f} s",
                flush=True,
            )
            if bad or dropped != per_chain * len(CHAINS):
                raise SystemExit("the drop did not leave an intact protocol")
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()


def _verified(public_key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


async def baseline(dsn: str, n: int, target: int) -> None:
    """The old way: one unpartitioned table, deleted row by row per chain."""
    schema = f"bench_rowwise_{uuid.uuid4().hex[:6]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}")
        await conn.execute(
            """CREATE TABLE protokoll (
                   chain text NOT NULL, seq bigint NOT NULL, vorgangsnummer text NOT NULL UNIQUE,
                   tenant_id text NOT NULL, written_at timestamptz NOT NULL, entry jsonb NOT NULL,
                   prev_hash text NOT NULL, entry_hash text NOT NULL, PRIMARY KEY (chain, seq));
               CREATE INDEX ON protokoll (written_at);
               CREATE INDEX ON protokoll USING gin ((entry -> 'treffer') jsonb_path_ops);"""
        )
        await bulk(conn, "protokoll", n)
        per_chain = n // len(CHAINS)
        t0 = time.perf_counter()
        for chain in CHAINS:  # in the old retention's batches of 5,000
            for upto in range(5000, per_chain + 5000, 5000):
                await conn.execute(
                    "DELETE FROM protokoll WHERE chain = $1 AND seq <= $2", chain, upto
                )
        delete_s = time.perf_counter() - t0
        await conn.execute("VACUUM protokoll")  # the space is free only then; a drop frees it
        seconds = time.perf_counter() - t0
        rate = per_chain * len(CHAINS) / seconds
        print(
            f"baseline  row by row: {per_chain * len(CHAINS):,} entries deleted in {delete_s:.1f} s"
            f", vacuumed, {seconds:.1f} s in all "
            f"({rate:,.0f}/s); {target:,} entries would take {target / rate / 60:.1f} min",
            flush=True,
        )
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()


async def main(n: int, base_n: int) -> None:
    dsn = get_settings().database_url
    await baseline(dsn, base_n, n)
    await protocol(dsn, n)


if __name__ == "__main__":
    configure_logging("bench", "WARNING")
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 20_000_000,
            int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000,
        )
    )
