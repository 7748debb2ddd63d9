"""protocol_log's `ProtocolStore` in memory: chains with their heads, checkpoints and retention
cuts, day partitions, the evaluation statistics, release records and the read log."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from services.protocol_log.domain import GENESIS, Head, Signed, StoredEntry, entry_hash
from services.protocol_log.store import Append, Counts, Release, Retrieval
from shared.law.aufbewahrung import berlin_day


@dataclass
class Entry:
    stored: StoredEntry
    vorgangsnummer: str
    tenant_id: str
    written_at: datetime


def _percentile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear between the two nearest ranks."""
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class MemoryProtocolStore:
    heads: dict[str, Head] = field(default_factory=dict)
    protokoll: dict[tuple[str, int], Entry] = field(default_factory=dict)
    releases: dict[str, tuple[str, str, float, datetime]] = field(default_factory=dict)
    checkpoints_: dict[tuple[str, int], Signed] = field(default_factory=dict)
    cuts: list[tuple[str, Signed, int]] = field(default_factory=list)
    day_partitions: set[date] = field(default_factory=set)
    minutes: dict[tuple[str, datetime], int] = field(default_factory=lambda: defaultdict(int))
    day_counts: dict[tuple[str, date], int] = field(default_factory=lambda: defaultdict(int))
    subject_hours: dict[tuple[str, str, datetime], int] = field(
        default_factory=lambda: defaultdict(int)
    )
    published: set[tuple[str, datetime]] = field(default_factory=set)
    read_log: list[tuple[str, str, dict[str, Any], int, datetime]] = field(default_factory=list)

    async def released(self, vorgangsnummern: Collection[str]) -> set[str]:
        return set(vorgangsnummern) & self.releases.keys()

    async def append(self, appends: Sequence[Append], at: datetime) -> list[int]:
        seqs = []
        for a in appends:  # one by one: what the table's set-based append must equal
            head = self.heads.setdefault(a.chain, Head(0, GENESIS))
            seq = head.seq + 1
            hash_ = entry_hash(a.chain, seq, head.entry_hash, a.entry)
            stored = StoredEntry(seq, head.entry_hash, hash_, a.entry)
            self.protokoll[(a.chain, seq)] = Entry(stored, a.vorgangsnummer, a.tenant_id, at)
            self.heads[a.chain] = Head(seq, hash_)
            seqs.append(seq)
        return seqs

    async def record_releases(self, releases: Sequence[Release]) -> None:
        for r in releases:
            if r.vorgangsnummer in self.releases:
                raise KeyError(f"duplicate key: {r.vorgangsnummer}")
            self.releases[r.vorgangsnummer] = (r.tenant_id, r.kind, r.latency_ms, r.at)

    async def count_retrievals(self, retrievals: Sequence[Retrieval], at: datetime) -> list[Counts]:
        return [self._count_one(r.user_ref, list(r.subject_refs), at) for r in retrievals]

    def _count_one(self, user_ref: str, subject_refs: list[str], at: datetime) -> Counts:
        """One retrieval counted, then the counts read: what the store's batch must equal."""
        minute = at.replace(second=0, microsecond=0)
        hour = minute.replace(minute=0)
        day = at.date()
        self.minutes[(user_ref, minute)] += 1
        self.day_counts[(user_ref, day)] += 1
        for s in subject_refs:
            self.subject_hours[(user_ref, s, hour)] += 1
        per_subject: dict[str, int] = defaultdict(int)
        for (u, s, h), n in self.subject_hours.items():
            if u == user_ref and s in subject_refs and h > hour - timedelta(hours=24):
                per_subject[s] += n
        last10 = sum(
            n for (u, m), n in self.minutes.items()
            if u == user_ref and m > minute - timedelta(minutes=10)
        )  # fmt: skip
        today = self.day_counts.get((user_ref, day), 0)
        before = sum(
            n for (u, d), n in self.day_counts.items()
            if u == user_ref and day - timedelta(days=14) <= d < day
        )  # fmt: skip
        return Counts(max(per_subject.values(), default=0), last10, today, before / 14.0)

    async def chains(self) -> list[str]:
        return list(self.heads)

    async def head(self, chain: str) -> Head | None:
        return self.heads.get(chain)

    async def entries(self, chain: str) -> list[StoredEntry]:
        return [e.stored for (c, _), e in sorted(self.protokoll.items()) if c == chain]

    async def checkpoints(self, chain: str) -> list[Signed]:
        return [s for (c, _), s in sorted(self.checkpoints_.items()) if c == chain]

    async def last_cut(self, chain: str) -> Signed | None:
        mine = [s for c, s, _ in self.cuts if c == chain]
        return max(mine, key=lambda s: s.seq) if mine else None

    async def unchecked_heads(self) -> list[tuple[str, int, str]]:
        out = []
        for chain, head in self.heads.items():
            checked = max((seq for c, seq in self.checkpoints_ if c == chain), default=0)
            if head.seq > 0 and head.seq > checked:
                out.append((chain, head.seq, head.entry_hash))
        return out

    async def add_checkpoint(
        self, chain: str, seq: int, hash_: str, at: datetime, signature: bytes
    ) -> None:
        self.checkpoints_.setdefault((chain, seq), Signed(seq, hash_, at, signature))

    async def oldest(self, chain: str, limit: int) -> list[tuple[int, str, datetime]]:
        mine = sorted((seq, e) for (c, seq), e in self.protokoll.items() if c == chain)
        return [(seq, e.stored.entry_hash, e.written_at) for seq, e in mine[:limit]]

    async def ensure_days(self, days: Sequence[date]) -> None:
        self.day_partitions |= set(days)

    async def days(self) -> list[date]:
        return sorted(self.day_partitions)

    async def heads_of_day(self, day: date) -> list[tuple[str, int, str, int]]:
        heads = []
        for chain in self.heads:
            mine = sorted(
                (seq, e) for (c, seq), e in self.protokoll.items()
                if c == chain and berlin_day(e.written_at) == day
            )  # fmt: skip
            if mine:
                last_seq, last = mine[-1]
                heads.append((chain, last_seq, last.stored.entry_hash, last_seq - mine[0][0] + 1))
        return heads

    async def drop_day(self, day: date) -> None:
        self.day_partitions.discard(day)
        for key in [k for k, e in self.protokoll.items() if berlin_day(e.written_at) == day]:
            del self.protokoll[key]

    async def delete_through(
        self, chain: str, seq: int, hash_: str, deleted: int, at: datetime, signature: bytes
    ) -> None:
        for key in [k for k in self.protokoll if k[0] == chain and k[1] <= seq]:
            del self.protokoll[key]
        self.cuts.append((chain, Signed(seq, hash_, at, signature), deleted))

    async def forget_statistics(self, before: datetime) -> None:
        for table, when in (
            (self.minutes, lambda k: k[1] < before),
            (self.day_counts, lambda k: k[1] < before.date()),
            (self.subject_hours, lambda k: k[2] < before),
        ):
            for key in [k for k in table if when(k)]:
                del table[key]
        for n in [n for n, r in self.releases.items() if r[3] < before]:
            del self.releases[n]
        self.published = {p for p in self.published if p[1] >= before}

    async def closed_minutes(self, before: datetime) -> list[dict[str, Any]]:
        groups: dict[tuple[str, datetime], list[tuple[str, float]]] = defaultdict(list)
        for tenant, kind, latency, at in self.releases.values():
            minute = at.replace(second=0, microsecond=0)
            if at < before and (tenant, minute) not in self.published:
                groups[(tenant, minute)].append((kind, latency))
        rows = []
        for (tenant, minute), items in sorted(groups.items(), key=lambda g: (g[0][1], g[0][0])):
            latencies = [latency for _, latency in items]
            kinds = [kind for kind, _ in items]
            rows.append({
                "tenant_id": tenant, "minute": minute,
                "k01": kinds.count("01"), "k02": kinds.count("02"), "k03": kinds.count("03"),
                "k04": kinds.count("04"), "rejected": kinds.count("abgelehnt"),
                "total": len(items), "p50": _percentile(latencies, 0.5),
                "p95": _percentile(latencies, 0.95), "p99": _percentile(latencies, 0.99),
                "pmax": max(latencies),
            })  # fmt: skip
        return rows

    async def mark_published(self, tenant_id: str, minute: datetime) -> None:
        self.published.add((tenant_id, minute))

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
        def wanted(chain: str, e: Entry) -> bool:
            return (
                chain in chains
                and tenant_id in (None, e.tenant_id)
                and vorgangsnummer in (None, e.vorgangsnummer)
                and (
                    subject is None
                    or any(subject.items() <= t.items() for t in e.stored.entry.get("treffer", []))
                )
                and (since is None or e.written_at >= since)
                and (until is None or e.written_at < until)
                and kennung in (None, e.stored.entry.get("kennung"))
            )

        found = sorted(
            ((e.written_at, c, seq, e) for (c, seq), e in self.protokoll.items() if wanted(c, e)),
            key=lambda x: x[:3],
        )
        return [{"chain": c, "seq": seq, **e.stored.entry} for _, c, seq, e in found]

    async def log_read(
        self, reader: str, purpose: str, filter_: dict[str, Any], entries: int, at: datetime
    ) -> None:
        self.read_log.append((reader, purpose, dict(filter_), entries, at))
