"""protocol_log's tables. All calls run in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Protocol

import asyncpg

from services.protocol_log.domain import GENESIS, Head, Signed, StoredEntry, entry_hash


def _entry(r: asyncpg.Record) -> StoredEntry:
    return StoredEntry(r["seq"], r["prev_hash"], r["entry_hash"], json.loads(r["entry"]))


def _day_table(day: date) -> str:
    return f"protokoll_{day:%Y%m%d}"


class ProtocolRecords(Protocol):
    """What protocol_log keeps: the chained entries with their heads, checkpoints and retention
    cuts, day partitions, statistics, release records and the read log (the fast tier's fake is
    `tests/fakes/protocol_log.py`)."""

    async def released_before(self, vorgangsnummer: str) -> bool: ...
    async def append(
        self, chain: str, vorgangsnummer: str, tenant_id: str, at: datetime, entry: dict[str, Any]
    ) -> int: ...
    async def record_release(
        self, vorgangsnummer: str, tenant_id: str, kind: str, latency_ms: float, at: datetime
    ) -> None: ...
    async def count_retrieval(
        self, user_ref: str, subject_refs: list[str], at: datetime
    ) -> tuple[int, int, int, float]: ...
    async def chains(self) -> list[str]: ...
    async def head(self, chain: str) -> Head | None: ...
    async def entries(self, chain: str) -> list[StoredEntry]: ...
    async def checkpoints(self, chain: str) -> list[Signed]: ...
    async def last_cut(self, chain: str) -> Signed | None: ...
    async def unchecked_heads(self) -> list[tuple[str, int, str]]: ...
    async def add_checkpoint(
        self, chain: str, seq: int, hash_: str, at: datetime, signature: bytes
    ) -> None: ...
    async def oldest(self, chain: str, limit: int) -> list[tuple[int, str, datetime]]: ...
    async def ensure_days(self, days: Sequence[date]) -> None: ...
    async def days(self) -> list[date]: ...
    async def heads_of_day(self, day: date) -> list[tuple[str, int, str, int]]: ...
    async def drop_day(self, day: date) -> None: ...
    async def delete_through(
        self, chain: str, seq: int, hash_: str, deleted: int, at: datetime, signature: bytes
    ) -> None: ...
    async def forget_statistics(self, before: datetime) -> None: ...
    async def closed_minutes(self, before: datetime) -> Sequence[Mapping[str, Any]]: ...
    async def mark_published(self, tenant_id: str, minute: datetime) -> None: ...
    async def read(
        self,
        chains: list[str],
        *,
        tenant_id: str | None,
        vorgangsnummer: str | None,
        subject: dict[str, str] | None,
        since: datetime | None,
        until: datetime | None,
        kennung: str | None = None,
    ) -> list[dict[str, Any]]: ...
    async def log_read(
        self, reader: str, purpose: str, filter_: dict[str, Any], entries: int, at: datetime
    ) -> None: ...


class ProtocolStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # -- writing -----------------------------------------------------------------------------

    async def released_before(self, vorgangsnummer: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT true FROM releases WHERE vorgangsnummer = $1", vorgangsnummer
            )
        )

    async def append(
        self, chain: str, vorgangsnummer: str, tenant_id: str, at: datetime, entry: dict[str, Any]
    ) -> int:
        """Appends an entry to its chain; the head row lock orders concurrent writers."""
        await self.conn.execute(
            "INSERT INTO chain_heads VALUES ($1, 0, $2) ON CONFLICT DO NOTHING", chain, GENESIS
        )
        head = await self.conn.fetchrow(
            "SELECT seq, entry_hash FROM chain_heads WHERE chain = $1 FOR UPDATE", chain
        )
        seq = head["seq"] + 1
        hash_ = entry_hash(chain, seq, head["entry_hash"], entry)
        await self.conn.execute(
            """INSERT INTO protokoll (chain, seq, vorgangsnummer, tenant_id, written_at, entry,
                                      prev_hash, entry_hash)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
            chain,
            seq,
            vorgangsnummer,
            tenant_id,
            at,
            json.dumps(entry, ensure_ascii=False),
            head["entry_hash"],
            hash_,
        )
        await self.conn.execute(
            "UPDATE chain_heads SET seq = $2, entry_hash = $3 WHERE chain = $1", chain, seq, hash_
        )
        return seq

    async def record_release(
        self, vorgangsnummer: str, tenant_id: str, kind: str, latency_ms: float, at: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO releases VALUES ($1, $2, $3, $4, $5)",
            vorgangsnummer,
            tenant_id,
            kind,
            latency_ms,
            at,
        )

    # -- evaluation statistics ---------------------------------------------------------------

    async def count_retrieval(
        self, user_ref: str, subject_refs: list[str], at: datetime
    ) -> tuple[int, int, int, float]:
        """Counts one retrieval; returns what the rules look at: the most-queried of these
        subjects in the last 24 hours, the user's last 10 minutes, today, and the average day of
        the 14 before."""
        minute = at.replace(second=0, microsecond=0)
        hour = minute.replace(minute=0)
        day = at.date()
        await self.conn.execute(
            """WITH m AS (INSERT INTO stats_minute VALUES ($1, $2, 1)
                          ON CONFLICT (user_ref, minute) DO UPDATE SET n = stats_minute.n + 1)
               INSERT INTO stats_day VALUES ($1, $3, 1)
               ON CONFLICT (user_ref, day) DO UPDATE SET n = stats_day.n + 1""",
            user_ref,
            minute,
            day,
        )
        if subject_refs:
            await self.conn.execute(
                """INSERT INTO stats_subject_hour
                   SELECT $1, s, $3, 1 FROM unnest($2::text[]) s
                   ON CONFLICT (user_ref, subject_ref, hour)
                   DO UPDATE SET n = stats_subject_hour.n + 1""",
                user_ref,
                subject_refs,
                hour,
            )
        row = await self.conn.fetchrow(
            """SELECT
                 (SELECT coalesce(max(t), 0) FROM (
                      SELECT sum(n) AS t FROM stats_subject_hour
                      WHERE user_ref = $1 AND subject_ref = ANY($2::text[])
                        AND hour > $3::timestamptz - interval '24 hours'
                      GROUP BY subject_ref) s) AS same,
                 (SELECT coalesce(sum(n), 0) FROM stats_minute
                  WHERE user_ref = $1 AND minute > $4::timestamptz - interval '10 minutes')
                   AS last10,
                 (SELECT coalesce(sum(n), 0) FROM stats_day WHERE user_ref = $1 AND day = $5)
                   AS today,
                 (SELECT coalesce(sum(n), 0) / 14.0 FROM stats_day
                  WHERE user_ref = $1 AND day < $5 AND day >= $5 - 14) AS average""",
            user_ref,
            subject_refs,
            hour,
            minute,
            day,
        )
        return int(row["same"]), int(row["last10"]), int(row["today"]), float(row["average"])

    # -- chain, checkpoints, retention -------------------------------------------------------

    async def chains(self) -> list[str]:
        return [r["chain"] for r in await self.conn.fetch("SELECT chain FROM chain_heads")]

    async def head(self, chain: str) -> Head | None:
        r = await self.conn.fetchrow(
            "SELECT seq, entry_hash FROM chain_heads WHERE chain = $1", chain
        )
        return Head(r["seq"], r["entry_hash"]) if r else None

    async def entries(self, chain: str) -> list[StoredEntry]:
        rows = await self.conn.fetch(
            """SELECT seq, prev_hash, entry_hash, entry FROM protokoll WHERE chain = $1
               ORDER BY seq""",
            chain,
        )
        return [_entry(r) for r in rows]

    async def checkpoints(self, chain: str) -> list[Signed]:
        rows = await self.conn.fetch(
            """SELECT seq, entry_hash, signed_at, signature FROM checkpoints WHERE chain = $1
               ORDER BY seq""",
            chain,
        )
        return [Signed(r["seq"], r["entry_hash"], r["signed_at"], r["signature"]) for r in rows]

    async def last_cut(self, chain: str) -> Signed | None:
        r = await self.conn.fetchrow(
            """SELECT seq, entry_hash, cut_at, signature FROM retention_cuts WHERE chain = $1
               ORDER BY seq DESC LIMIT 1""",
            chain,
        )
        return Signed(r["seq"], r["entry_hash"], r["cut_at"], r["signature"]) if r else None

    async def unchecked_heads(self) -> list[tuple[str, int, str]]:
        """Chains whose head is past their last checkpoint."""
        rows = await self.conn.fetch(
            """SELECT h.chain, h.seq, h.entry_hash FROM chain_heads h
               WHERE h.seq > 0 AND h.seq > coalesce(
                   (SELECT max(seq) FROM checkpoints c WHERE c.chain = h.chain), 0)"""
        )
        return [(r["chain"], r["seq"], r["entry_hash"]) for r in rows]

    async def add_checkpoint(
        self, chain: str, seq: int, hash_: str, at: datetime, signature: bytes
    ) -> None:
        await self.conn.execute(
            "INSERT INTO checkpoints VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            chain,
            seq,
            hash_,
            at,
            signature,
        )

    async def oldest(self, chain: str, limit: int) -> list[tuple[int, str, datetime]]:
        rows = await self.conn.fetch(
            """SELECT seq, entry_hash, written_at FROM protokoll WHERE chain = $1
               ORDER BY seq LIMIT $2 FOR UPDATE""",
            chain,
            limit,
        )
        return [(r["seq"], r["entry_hash"], r["written_at"]) for r in rows]

    # -- day partitions (0002_partitions.sql) ------------------------------------------------

    async def ensure_days(self, days: Sequence[date]) -> None:
        await self.conn.execute("SELECT protokoll_tag(d) FROM unnest($1::date[]) d", list(days))

    async def days(self) -> list[date]:
        """The day partitions there are, oldest first."""
        rows = await self.conn.fetch(
            """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'protokoll'::regclass AND c.relname ~ '^protokoll_[0-9]{8}$'"""
        )
        return sorted(datetime.strptime(r["relname"][-8:], "%Y%m%d").date() for r in rows)

    async def heads_of_day(self, day: date) -> list[tuple[str, int, str, int]]:
        """Per chain with entries that day: its last entry (seq, hash) and how many there are,
        from the ends of its index range (a chain's entries of a day are consecutive), so that
        a day of millions of entries is not read."""
        table = _day_table(day)
        heads = []
        for chain in await self.chains():
            last = await self.conn.fetchrow(
                f"SELECT seq, entry_hash FROM {table} WHERE chain = $1 ORDER BY seq DESC LIMIT 1",
                chain,
            )
            if last is None:
                continue
            first = await self.conn.fetchval(
                f"SELECT seq FROM {table} WHERE chain = $1 ORDER BY seq LIMIT 1", chain
            )
            heads.append((chain, last["seq"], last["entry_hash"], last["seq"] - first + 1))
        return heads

    async def drop_day(self, day: date) -> None:
        await self.conn.execute(f"DROP TABLE {_day_table(day)}")

    async def delete_through(
        self, chain: str, seq: int, hash_: str, deleted: int, at: datetime, signature: bytes
    ) -> None:
        await self.conn.execute("DELETE FROM protokoll WHERE chain = $1 AND seq <= $2", chain, seq)
        await self.conn.execute(
            "INSERT INTO retention_cuts VALUES ($1, $2, $3, $4, $5, $6)",
            chain,
            seq,
            hash_,
            deleted,
            at,
            signature,
        )

    async def forget_statistics(self, before: datetime) -> None:
        """Statistics and release records serve dashboards and rules only for a while."""
        await self.conn.execute("DELETE FROM stats_minute WHERE minute < $1", before)
        await self.conn.execute("DELETE FROM stats_day WHERE day < $1", before.date())
        await self.conn.execute("DELETE FROM stats_subject_hour WHERE hour < $1", before)
        await self.conn.execute("DELETE FROM releases WHERE released_at < $1", before)
        await self.conn.execute("DELETE FROM metrics_published WHERE minute < $1", before)

    # -- metrics -----------------------------------------------------------------------------

    async def closed_minutes(self, before: datetime) -> list[asyncpg.Record]:
        """Per tenant and minute not yet published: counts by kind and latency percentiles."""
        return await self.conn.fetch(
            """SELECT r.tenant_id, date_trunc('minute', r.released_at) AS minute,
                      count(*) FILTER (WHERE kind = '01') AS k01,
                      count(*) FILTER (WHERE kind = '02') AS k02,
                      count(*) FILTER (WHERE kind = '03') AS k03,
                      count(*) FILTER (WHERE kind = '04') AS k04,
                      count(*) FILTER (WHERE kind = 'abgelehnt') AS rejected,
                      count(*) AS total,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
                      percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95,
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99,
                      max(latency_ms) AS pmax
               FROM releases r
               WHERE r.released_at < $1
                 AND NOT EXISTS (SELECT 1 FROM metrics_published m
                                 WHERE m.tenant_id = r.tenant_id
                                   AND m.minute = date_trunc('minute', r.released_at))
               GROUP BY 1, 2 ORDER BY 2, 1""",
            before,
        )

    async def mark_published(self, tenant_id: str, minute: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO metrics_published VALUES ($1, $2) ON CONFLICT DO NOTHING",
            tenant_id,
            minute,
        )

    # -- reading -----------------------------------------------------------------------------

    async def read(
        self,
        chains: list[str],
        *,
        tenant_id: str | None,
        vorgangsnummer: str | None,
        subject: dict[str, str] | None,
        since: datetime | None,
        until: datetime | None,
        kennung: str | None = None,
    ) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            """SELECT chain, seq, written_at, entry FROM protokoll
               WHERE chain = ANY($1)
                 AND ($2::text IS NULL OR tenant_id = $2)
                 AND ($3::text IS NULL OR vorgangsnummer = $3)
                 AND ($4::jsonb IS NULL OR entry -> 'treffer' @> $4::jsonb)
                 AND ($5::timestamptz IS NULL OR written_at >= $5)
                 AND ($6::timestamptz IS NULL OR written_at < $6)
                 AND ($7::text IS NULL OR entry ->> 'kennung' = $7)
               ORDER BY written_at, chain, seq""",
            chains,
            tenant_id,
            vorgangsnummer,
            json.dumps([subject]) if subject else None,
            since,
            until,
            kennung,
        )
        return [{"chain": r["chain"], "seq": r["seq"], **json.loads(r["entry"])} for r in rows]

    async def log_read(
        self, reader: str, purpose: str, filter_: dict[str, Any], entries: int, at: datetime
    ) -> None:
        await self.conn.execute(
            "INSERT INTO read_log (reader, purpose, filter, entries, read_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            reader,
            purpose,
            json.dumps(filter_, default=str),
            entries,
            at,
        )
