"""protocol_log's service layer: log, then release; checkpoints, retention, metrics, verify, and
purpose-bound reading.

Releasing: the entry (or, for a self-logging authority, the hand-over of its entry) and the
released answer are written in one transaction, entry first, and the outbox publishes them in
that order. A crash before the commit leaves neither; after it, the relay publishes both. So no
answer is ever delivered without its entry."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.protocol_log import domain
from services.protocol_log.domain import AlertThresholds
from services.protocol_log.store import Append, ProtocolRecords, Release, Retrieval
from shared.contract.events.abruf import (
    Ausgang,
    QueryAnswered,
    QueryDelivered,
    QueryRejected,
    Treffer,
)
from shared.contract.events.portal import (
    PortalAnswered,
    PortalAusgang,
    PortalFetched,
    PortalReleased,
)
from shared.contract.events.protocol import (
    AnswerCounts,
    ProtocolAlert,
    ProtocolMetrics,
    SelfLogEntry,
    Zweck,
)
from shared.contract.topics import Topics
from shared.law import aufbewahrung
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing

log = get_logger(__name__)
Signer = Callable[[bytes], bytes]
SignatureCheck = Callable[[bytes, bytes], bool]
RETENTION_BATCH = 5000
STATISTICS_KEPT = timedelta(days=35)


@dataclass(frozen=True)
class Evaluation:
    thresholds: AlertThresholds
    pseudonym_key: bytes


async def release(
    store: ProtocolRecords,
    events: Sequence[QueryAnswered | QueryRejected],
    now: datetime,
    evaluation: Evaluation,
) -> list[list[Outgoing]]:
    """A batch of answers and refusals, each logged (§ 40 BMG) and then released, once per
    Vorgang: the entries are appended to their chains, the releases recorded and the retrievals
    counted for the evaluation, each in one statement for the whole batch."""
    before = await store.released({e.vorgangsnummer for e in events})
    todo: list[QueryAnswered | QueryRejected] = []
    for event in events:
        if event.vorgangsnummer in before:
            log.info("already logged and released", vorgangsnummer=event.vorgangsnummer)
            continue
        before.add(event.vorgangsnummer)
        todo.append(event)
    entries = {e.vorgangsnummer: domain.entry_for(e, now) for e in todo}
    where: dict[str, str] = {}  # the chain position each entry got, or "self"
    appends: list[Append] = []
    for e in todo:
        chain = domain.chain_for(e.protokollierung, e.query.tenant_id)
        if chain is None:  # the authority logs itself: it gets the entry, the operator none
            where[e.vorgangsnummer] = "self"
        else:
            appends.append(
                Append(chain, e.vorgangsnummer, e.query.tenant_id, entries[e.vorgangsnummer])
            )
    for a, seq in zip(appends, await store.append(appends, now), strict=True):
        where[a.vorgangsnummer] = f"{a.chain}:{seq}"
    await store.record_releases(
        [
            Release(
                e.vorgangsnummer,
                e.query.tenant_id,
                domain.answer_kind(e),
                max(0.0, (now - e.query.requested_at).total_seconds() * 1000),
                now,
            )
            for e in todo
        ]
    )
    alerts = await _evaluate(store, todo, now, evaluation)
    out: dict[str, list[Outgoing]] = {}
    for event, findings in zip(todo, alerts, strict=True):
        query = event.query
        released: list[Outgoing] = []
        if where[event.vorgangsnummer] == "self":
            released.append(
                Outgoing(
                    Topics.PROTOCOL_SELF_LOGGING,
                    SelfLogEntry(
                        tenant_id=query.tenant_id,
                        vorgangsnummer=event.vorgangsnummer,
                        entry=entries[event.vorgangsnummer],
                        handed_over_at=now,
                    ),
                    subject=event.vorgangsnummer,
                )
            )
        released.extend(findings)
        released.append(_delivered(event, now, where[event.vorgangsnummer]))
        log.debug(
            "logged and released",
            vorgangsnummer=event.vorgangsnummer,
            protokoll=where[event.vorgangsnummer],
        )
        out[event.vorgangsnummer] = released
    # an event of the batch that was released before (or earlier in it) gets nothing
    return [out.pop(e.vorgangsnummer, []) for e in events]


def _delivered(event: QueryAnswered | QueryRejected, now: datetime, where: str) -> Outgoing:
    """The release: to the front end, or, for another state's query (its answer sealed for that
    state's front end), to the gateway that sends it back."""
    query = event.query
    answered = isinstance(event, QueryAnswered)
    return Outgoing(
        Topics.GATEWAY_RELEASED if query.antwortschluessel else Topics.QUERY_DELIVERED,
        QueryDelivered(
            query_id=query.query_id,
            vorgangsnummer=event.vorgangsnummer,
            tenant_id=query.tenant_id,
            ausgang=Ausgang.ANSWERED if answered else Ausgang.REJECTED,
            ergebnisstatus=event.response.ergebnisstatus if answered else None,
            nichterstellung=(event.response.nichterstellung if answered else event.nichterstellung),
            antwort=event.response.antwort if answered else None,
            requested_at=query.requested_at,
            released_at=now,
            protokoll=where,
            bezugsvorgang=event.bezugsvorgang if isinstance(event, QueryAnswered) else None,
            anzahl=event.response.anzahl if answered else 0,
            datenelemente=event.response.datenelemente if answered else [],
        ),
        subject=event.vorgangsnummer,
    )


async def log_fetch(store: ProtocolRecords, event: PortalFetched, now: datetime) -> list[Outgoing]:
    """PortalV § 3 Abs. 1 Nr. 3: the time the answer went to the requester, in the portal chain."""
    (seq,) = await store.append(
        [
            Append(
                domain.PORTAL_CHAIN,
                event.vorgangsnummer,
                domain.PORTAL_TENANT,
                domain.fetch_entry(event),
            )
        ],
        now,
    )
    log.info("portal fetch logged", vorgangsnummer=event.vorgangsnummer, seq=seq)
    return []


async def release_portal(
    store: ProtocolRecords, event: PortalAnswered, now: datetime
) -> list[Outgoing]:
    """PortalV § 3: the entry first, then the answer goes on to the requester."""
    a = event.anfrage
    if await store.released({event.vorgangsnummer}):
        log.info("already logged and released", vorgangsnummer=event.vorgangsnummer)
        return []
    entry = domain.portal_entry(event, now)
    (seq,) = await store.append(
        [Append(domain.PORTAL_CHAIN, event.vorgangsnummer, domain.PORTAL_TENANT, entry)], now
    )
    latency_ms = max(0.0, (now - a.requested_at).total_seconds() * 1000)
    await store.record_releases(
        [
            Release(
                event.vorgangsnummer,
                domain.PORTAL_TENANT,
                domain.portal_answer_kind(event),
                latency_ms,
                now,
            )
        ]
    )
    r = event.response
    answered = r is not None and r.ergebnisstatus is not None
    log.info("portal answer logged and released", vorgangsnummer=event.vorgangsnummer, seq=seq)
    return [
        Outgoing(
            Topics.PORTAL_RELEASED,
            PortalReleased(
                request_id=a.request_id,
                vorgangsnummer=event.vorgangsnummer,
                kennung=a.kennung,
                gemeindeschluessel=a.gemeindeschluessel,
                ausgang=PortalAusgang.BEAUSKUNFTET if answered else PortalAusgang.ABGELEHNT,
                ergebnisstatus=r.ergebnisstatus if r else None,
                nichterstellung=r.nichterstellung if r else event.nichterstellung,
                antwort=r.antwort if r else None,
                requested_at=a.requested_at,
                released_at=now,
                protokoll=f"{domain.PORTAL_CHAIN}:{seq}",
            ),
            subject=event.vorgangsnummer,
        )
    ]


async def _evaluate(
    store: ProtocolRecords,
    events: Sequence[QueryAnswered | QueryRejected],
    now: datetime,
    evaluation: Evaluation,
) -> list[list[Outgoing]]:
    """The evaluation rules' alerts for each retrieval, on the counts right after it."""
    key = evaluation.pseudonym_key
    retrievals = []
    for event in events:
        treffer = event.response.treffer if isinstance(event, QueryAnswered) else []
        retrievals.append(
            Retrieval(
                domain.pseudonym(key, event.query.tenant_id, event.query.anfragende.abrufer),
                [domain.pseudonym(key, t.gemeindeschluessel, t.ordnungsmerkmal) for t in treffer],
            )
        )
    counts = await store.count_retrievals(retrievals, now)
    return [
        [
            Outgoing(
                Topics.PROTOCOL_ALERTS,
                ProtocolAlert(
                    alert_id=str(uuid.uuid4()),
                    rule=f.rule,
                    tenant_id=event.query.tenant_id,
                    user_ref=retrieval.user_ref,
                    observed=f.observed,
                    threshold=f.threshold,
                    window=f.window,
                    text=f.text,
                    raised_at=now,
                ),
            )
            for f in domain.evaluate(evaluation.thresholds, *c, now)
        ]
        for event, retrieval, c in zip(events, retrievals, counts, strict=True)
    ]


async def checkpoint(store: ProtocolRecords, sign: Signer, now: datetime) -> int:
    """Signs the head of every chain that moved since its last checkpoint."""
    heads = await store.unchecked_heads()
    for chain, seq, hash_ in heads:
        signature = sign(domain.checkpoint_message(chain, seq, hash_, now))
        await store.add_checkpoint(chain, seq, hash_, now, signature)
    return len(heads)


async def drop_due_day(store: ProtocolRecords, sign: Signer, now: datetime) -> int | None:
    """Drops the oldest day partition if all its entries are due (§ 40 Abs. 5 BMG): a year's
    entries fall due on one day, too many to delete row by row. A signed cut per chain keeps the
    rest verifiable. The number of entries dropped, or None if no day was due."""
    days = await store.days()
    if not days or aufbewahrung.day_due(days[0]) > now:
        return None
    day = days[0]
    heads = await store.heads_of_day(day)
    await store.drop_day(day)  # before the cuts: their DELETE then finds only stragglers
    dropped = 0
    for chain, seq, hash_, count in heads:
        signature = sign(domain.cut_message(chain, seq, hash_, now))
        await store.delete_through(chain, seq, hash_, count, now, signature)
        dropped += count
    log.info("expired protocol day dropped", day=day.isoformat(), entries=dropped)
    return dropped


async def enforce_retention(store: ProtocolRecords, sign: Signer, now: datetime) -> int:
    """Deletes entries whose deadline has come (§ 40 Abs. 5 BMG), oldest first, and records a
    signed cut so that the rest of the chain still verifies."""
    deleted = 0
    # what `drop_due_day` leaves: a day due only in part, and entries outside the day partitions
    for chain in await store.chains():
        oldest = await store.oldest(chain, RETENTION_BATCH)
        due = []
        for seq, hash_, written_at in oldest:
            if aufbewahrung.deletion_due(written_at) > now:
                break  # the chain is in writing order: nothing later is due either
            due.append((seq, hash_))
        if due:
            seq, hash_ = due[-1]
            signature = sign(domain.cut_message(chain, seq, hash_, now))
            await store.delete_through(chain, seq, hash_, len(due), now, signature)
            deleted += len(due)
            log.info("expired protocol entries deleted", chain=chain, count=len(due), through=seq)
    await store.forget_statistics(now - STATISTICS_KEPT)
    return deleted


async def ensure_days(store: ProtocolRecords, now: datetime) -> list[Outgoing]:
    """The day partitions from yesterday to a week ahead, so that entries never wait for one."""
    today = aufbewahrung.berlin_day(now)
    await store.ensure_days([today + timedelta(days=n) for n in range(-1, 8)])
    return []


async def verify(store: ProtocolRecords, signature_ok: SignatureCheck) -> dict[str, list[str]]:
    """Findings per chain; an empty list means the chain is intact."""
    results = {}
    for chain in sorted(await store.chains()):
        results[chain] = domain.verify_chain(
            chain,
            await store.entries(chain),
            await store.head(chain),
            await store.checkpoints(chain),
            await store.last_cut(chain),
            signature_ok,
        )
    return results


async def export_chain(
    store: ProtocolRecords, chain: str, *, reader: str, now: datetime
) -> list[dict[str, Any]]:
    """A chain as an auditor verifies it without this system (docs/audit/verify-chain.mjs): its
    last retention cut, its entries with their hashes, its signed checkpoints; each signed time
    as the string that was signed. The export is logged like any read (§ 40 Abs. 5 BMG)."""

    def signed(kind: str, s: domain.Signed) -> dict[str, Any]:
        return {"kind": kind, "chain": chain, "seq": s.seq, "entry_hash": s.entry_hash,
                "at": s.at.astimezone(UTC).isoformat(), "signature": s.signature.hex()}  # fmt: skip

    cut = await store.last_cut(chain)
    entries = await store.entries(chain)
    lines = [signed("cut", cut)] if cut else []
    lines += [
        {"kind": "entry", "chain": chain, "seq": e.seq, "prev_hash": e.prev_hash,
         "entry_hash": e.entry_hash, "entry": e.entry}
        for e in entries
    ]  # fmt: skip
    lines += [signed("checkpoint", c) for c in await store.checkpoints(chain)]
    await store.log_read(
        reader, Zweck.DATENSCHUTZKONTROLLE.value, {"chain": chain}, len(entries), now
    )
    return lines


async def publish_metrics(store: ProtocolRecords, now: datetime) -> list[Outgoing]:
    """One event per tenant and finished minute (no personal data)."""
    minute_start = now.replace(second=0, microsecond=0)
    out = []
    for r in await store.closed_minutes(minute_start):
        out.append(
            Outgoing(
                Topics.PROTOCOL_METRICS,
                ProtocolMetrics(
                    tenant_id=r["tenant_id"],
                    minute=r["minute"],
                    counts=AnswerCounts(
                        eindeutig=r["k01"],
                        trefferliste=r["k02"],
                        neutral=r["k03"],
                        ergebnisliste=r["k04"],
                        abgelehnt=r["rejected"],
                    ),
                    total=r["total"],
                    latency_ms_p50=round(r["p50"], 1),
                    latency_ms_p95=round(r["p95"], 1),
                    latency_ms_p99=round(r["p99"], 1),
                    latency_ms_max=round(r["pmax"], 1),
                ),
            )
        )
        await store.mark_published(r["tenant_id"], r["minute"])
    return out


async def read(
    store: ProtocolRecords,
    *,
    reader: domain.Reader,
    purpose: Zweck,
    now: datetime,
    vorgangsnummer: str | None = None,
    subject: Treffer | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    kennung: str | None = None,
) -> list[dict[str, Any]]:
    """Entries for a stated purpose, for a reader the token proved (`domain.reader_of`); the
    read itself is logged with that reader. Information to the person concerned needs the
    person and leaves out security authorities' retrievals."""
    if purpose is Zweck.AUSKUNFT_BETROFFENE and subject is None:
        raise domain.ReadRefused("information to the person concerned names the person")
    entries = await store.read(
        reader.chains,
        tenant_id=reader.tenant_id,
        vorgangsnummer=vorgangsnummer,
        subject=subject.model_dump() if subject else None,
        since=since,
        until=until,
        kennung=kennung,
    )
    if purpose is Zweck.AUSKUNFT_BETROFFENE and subject is not None:
        entries = [e for e in entries if domain.for_person_concerned(e, subject)]
    filter_ = {
        "tenant_id": reader.tenant_id,
        "vorgangsnummer": vorgangsnummer,
        "subject": subject.model_dump() if subject else None,
        "since": since,
        "until": until,
        "kennung": kennung,
    }
    await store.log_read(reader.principal, purpose.value, filter_, len(entries), now)
    return entries
