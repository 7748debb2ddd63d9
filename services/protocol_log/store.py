"""protocol_log's tables. All calls run in the caller's transaction."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol

import asyncpg

from services.protocol_log.domain import GENESIS, Head, Signed, StoredEntry, entry_hash


@dataclass(frozen=True)
class Append:
    """An entry for a chain."""

    chain: str
    vorgangsnummer: str
    tenant_id: str
    entry: dict[str, Any]


@dataclass(frozen=True)
class Release:
    """That a Vorgang's answer was released, for the statistics and against a second release."""

    vorgangsnummer: str
    tenant_id: str
    kind: str
    latency_ms: float
    at: datetime


@dataclass(frozen=True)
class Retrieval:
    """A retrieval as the evaluation counts it: the user's and its subjects' pseudonyms."""

    user_ref: str
    subject_refs: Sequence[str]


class Counts(NamedTuple):
    """What the evaluation rules look at after a retrieval (`domain.evaluate`)."""

    same_subject_24h: int
    last10: int
    today: int
    daily_average_14d: float


def _entry(r: asyncpg.Record) -> StoredEntry:
    return StoredEntry(r["seq"], r["prev_hash"], r["entry_hash"], json.loads(r["entry"]))


def _day_table(day: date) -> str:
    return f"protokoll_{day:%Y%m%d}"


class ProtocolRecords(Protocol):
    """What protocol_log keeps: the chained entries with their heads, checkpoints and retention
    cuts, day partitions, statistics, release records and the read log (the fast tier's fake is
    `tests/fakes/protocol_log.py`)."""

    async def released(self, vorgangsnummern: Collection[str]) -> set[str]: ...
    async def append(self, appends: Sequence[Append], at: datetime) -> list[int]: ...
    async def record_releases(self, releases: Sequence[Release]) -> None: ...
    async def count_retrievals(
        self, retrievals: Sequence[Retrieval], at: datetime
    ) -> list[Counts]: ...
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

    async def released(self, vorgangsnummern: Collection[str]) -> set[str]:
        """Which of these Vorgänge were logged and released before."""
        rows = await self.conn.fetch(
            "SELECT vorgangsnummer FROM releases WHERE vorgangsnummer = ANY($1::text[])",
            list(vorgangsnummern),
        )
        return {r["vorgangsnummer"] for r in rows}

    async def append(self, appends: Sequence[Append], at: datetime) -> list[int]:
        """Appends entries to their chains, in order; returns each one's sequence number. The
        head rows' locks (taken in the chains' order, so that writers never deadlock) order
        concurrent writers; each chain costs its lock, all entries one statement."""
        if not appends:
            return []
        chains = sorted({a.chain for a in appends})
        heads = await self._locked_heads(chains)
        if len(heads) < len(chains):  # a chain's first entry: its head starts at the genesis
            await self.conn.execute(
                """INSERT INTO chain_heads SELECT c, 0, $2::text FROM unnest($1::text[]) c
                   ON CONFLICT DO NOTHING""",
                chains,
                GENESIS,
            )
            heads = await self._locked_heads(chains)
        rows = []
        seqs = []
        for a in appends:
            prev_seq, prev_hash = heads[a.chain]
            seq = prev_seq + 1
            hash_ = entry_hash(a.chain, seq, prev_hash, a.entry)
            heads[a.chain] = (seq, hash_)
            seqs.append(seq)
            rows.append((a, seq, prev_hash, hash_))
        # the entries and the chains' new heads in one statement
        await self.conn.execute(
            """WITH e AS (
                 INSERT INTO protokoll (chain, seq, vorgangsnummer, tenant_id, written_at, entry,
                                        prev_hash, entry_hash)
                 SELECT c, s, v, t, $5::timestamptz, e::jsonb, p, h
                 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $6::text[],
                             $7::text[], $8::text[]) AS r(c, s, v, t, e, p, h))
               UPDATE chain_heads h SET seq = n.s, entry_hash = n.e
               FROM unnest($9::text[], $10::bigint[], $11::text[]) AS n(c, s, e)
               WHERE h.chain = n.c""",
            [a.chain for a, *_ in rows],
            [seq for _, seq, _, _ in rows],
            [a.vorgangsnummer for a, *_ in rows],
            [a.tenant_id for a, *_ in rows],
            at,
            [json.dumps(a.entry, ensure_ascii=False) for a, *_ in rows],
            [prev for _, _, prev, _ in rows],
            [hash_ for *_, hash_ in rows],
            list(heads),
            [seq for seq, _ in heads.values()],
            [hash_ for _, hash_ in heads.values()],
        )
        return seqs

    async def _locked_heads(self, chains: list[str]) -> dict[str, tuple[int, str]]:
        return {
            r["chain"]: (r["seq"], r["entry_hash"])
            for r in await self.conn.fetch(
                """SELECT chain, seq, entry_hash FROM chain_heads WHERE chain = ANY($1::text[])
                   ORDER BY chain FOR UPDATE""",
                chains,
            )
        }

    async def record_releases(self, releases: Sequence[Release]) -> None:
        if not releases:
            return
        await self.conn.execute(
            """INSERT INTO releases
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[],
                                    $5::timestamptz[])""",
            [r.vorgangsnummer for r in releases],
            [r.tenant_id for r in releases],
            [r.kind for r in releases],
            [r.latency_ms for r in releases],
            [r.at for r in releases],
        )

    # -- evaluation statistics ---------------------------------------------------------------

    async def count_retrievals(self, retrievals: Sequence[Retrieval], at: datetime) -> list[Counts]:
        """Counts retrievals made at `at`, in order; returns for each what the rules look at
        after it: the most-queried of its subjects in the last 24 hours, the user's last 10
        minutes, today, and the average day of the 14 before. The counts before the batch are
        read once and carried forward here, so that each retrieval sees exactly the counts it
        would see alone; the increments are written once per row."""
        if not retrievals:
            return []
        minute = at.replace(second=0, microsecond=0)
        hour = minute.replace(minute=0)
        day = at.date()
        users = sorted({r.user_ref for r in retrievals})
        pairs = sorted({(r.user_ref, s) for r in retrievals for s in r.subject_refs})
        # the counts before the batch, of its users and of their subjects, in one statement
        per_user: dict[str, list[Any]] = {}
        per_subject: dict[tuple[str, str], int] = {}
        for r in await self.conn.fetch(
            """SELECT u, NULL::text AS s,
                 (SELECT coalesce(sum(n), 0) FROM stats_minute
                  WHERE user_ref = u AND minute > $2::timestamptz - interval '10 minutes')::bigint
                   AS a,
                 (SELECT coalesce(sum(n), 0) FROM stats_day WHERE user_ref = u AND day = $3)::bigint
                   AS b,
                 (SELECT coalesce(sum(n), 0) / 14.0 FROM stats_day
                  WHERE user_ref = u AND day < $3 AND day >= $3 - 14)::float8 AS c
               FROM unnest($1::text[]) u
               UNION ALL
               SELECT p.u, p.s,
                 (SELECT coalesce(sum(n), 0) FROM stats_subject_hour
                  WHERE user_ref = p.u AND subject_ref = p.s
                    AND hour > $4::timestamptz - interval '24 hours')::bigint,
                 NULL, NULL
               FROM unnest($5::text[], $6::text[]) AS p(u, s)""",
            users,
            minute,
            day,
            hour,
            [u for u, _ in pairs],
            [s for _, s in pairs],
        ):
            if r["s"] is None:
                per_user[r["u"]] = [int(r["a"]), int(r["b"]), float(r["c"])]
            else:
                per_subject[(r["u"], r["s"])] = int(r["a"])
        counts = []
        for r in retrievals:
            mine = per_user[r.user_ref]
            mine[0] += 1
            mine[1] += 1
            for s in r.subject_refs:
                per_subject[(r.user_ref, s)] += 1
            same = max((per_subject[(r.user_ref, s)] for s in r.subject_refs), default=0)
            counts.append(Counts(same, mine[0], mine[1], mine[2]))
        made = Counter(r.user_ref for r in retrievals)
        seen = Counter((r.user_ref, s) for r in retrievals for s in r.subject_refs)
        await self.conn.execute(
            """WITH m AS (
                 INSERT INTO stats_minute
                 SELECT u, $3::timestamptz, k FROM unnest($1::text[], $2::int[]) AS i(u, k)
                 ON CONFLICT (user_ref, minute) DO UPDATE SET n = stats_minute.n + EXCLUDED.n),
               s AS (
                 INSERT INTO stats_subject_hour
                 SELECT u, s, $7::timestamptz, k
                 FROM unnest($5::text[], $6::text[], $8::int[]) AS i(u, s, k)
                 ON CONFLICT (user_ref, subject_ref, hour)
                 DO UPDATE SET n = stats_subject_hour.n + EXCLUDED.n)
               INSERT INTO stats_day
               SELECT u, $4::date, k FROM unnest($1::text[], $2::int[]) AS i(u, k)
               ON CONFLICT (user_ref, day) DO UPDATE SET n = stats_day.n + EXCLUDED.n""",
            list(made),
            list(made.values()),
            minute,
            day,
            [u for u, _ in seen],
            [s for _, s in seen],
            hour,
            list(seen.values()),
        )
        return counts

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
