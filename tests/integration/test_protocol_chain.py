"""The protocol's tamper evidence and retention, on PostgreSQL, with the clock in the test's hand:
the verifier finds an edited, a deleted and an inserted entry; retention keeps an entry on its
last day and deletes it after the deadline, and the chain still verifies; reading needs a
purpose, is logged, and information to a person leaves out security authorities."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.protocol_log import service
from services.protocol_log.domain import AlertThresholds, ReadRefused, reader_of
from services.protocol_log.service import Evaluation
from services.protocol_log.store import ProtocolStore
from shared.contract.events.abruf import Treffer
from shared.contract.events.account import OperatorRole
from shared.contract.events.protocol import Zweck
from shared.contract.topics import Topics
from shared.law.aufbewahrung import BERLIN
from shared.platform.db import create_pool
from shared.platform.messaging import Outgoing
from tests import identities
from tests.fakes.protocol_log import MemoryProtocolStore
from tests.helpers import database_url
from tests.node import run_node
from tests.retrieval import HANNOVER, answered

pytestmark = pytest.mark.integration
KEY = Ed25519PrivateKey.generate()
EVALUATION = Evaluation(AlertThresholds(), b"k" * 32)


def signature_ok(message: bytes, signature: bytes) -> bool:
    try:
        KEY.public_key().verify(signature, message)
    except InvalidSignature:
        return False
    return True


@pytest.fixture
async def store() -> AsyncIterator[ProtocolStore]:
    """A protocol of its own: a fresh schema per test."""
    schema = f"protocol_test_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(database_url(), schema, "services.protocol_log", max_size=1)
    try:
        async with pool.acquire() as conn:
            yield ProtocolStore(conn)
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await pool.close()


async def write(store: ProtocolStore, *times: datetime, **kw: str) -> None:
    for at in times:
        async with store.conn.transaction():
            await service.release(store, [answered(at, **kw)], at, EVALUATION)


async def findings(store: ProtocolStore) -> list[str]:
    return [f for fs in (await service.verify(store, signature_ok)).values() for f in fs]


NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


async def test_intact_chain_verifies(store: ProtocolStore) -> None:
    await write(store, *(NOW + timedelta(minutes=i) for i in range(6)))
    await service.checkpoint(store, KEY.sign, NOW + timedelta(hours=1))
    await write(store, NOW + timedelta(hours=2))
    assert await findings(store) == []


@pytest.mark.parametrize(
    ("tampering", "expected"),
    [
        (
            "UPDATE protokoll SET entry = jsonb_set(entry, '{aktenzeichen}', '\"AZ 9\"') "
            "WHERE seq = 3",
            "entry 3 was changed",
        ),
        ("DELETE FROM protokoll WHERE seq = 3", "entry 4 found where 3 was expected"),
        (
            "UPDATE protokoll SET seq = seq + 1 WHERE seq >= 3",  # then a forged entry at 3
            "entry 3 does not follow",
        ),
        ("DELETE FROM protokoll WHERE seq = 6", "the last entry is 5"),
    ],
    ids=["edited", "deleted", "inserted", "tail-removed"],
)
async def test_verifier_finds_tampering(
    store: ProtocolStore, tampering: str, expected: str
) -> None:
    await write(store, *(NOW + timedelta(minutes=i) for i in range(6)))
    await service.checkpoint(store, KEY.sign, NOW + timedelta(hours=1))
    assert await findings(store) == []
    conn = store.conn
    if "seq + 1" in tampering:
        # make room by renumbering from the top, then forge an entry in the gap
        for seq in range(6, 2, -1):
            await conn.execute("UPDATE protokoll SET seq = seq + 1 WHERE seq = $1", seq)
        forged = {"vorgangsnummer": "03-FORGED", "aktenzeichen": "AZ X"}
        await conn.execute(
            """INSERT INTO protokoll VALUES ('operator', 3, '03-FORGED', 'T-chain', now(), $1,
                   $2, $3)""",
            json.dumps(forged),
            "f" * 64,
            "e" * 64,
        )
    else:
        await conn.execute(tampering)
    found = await findings(store)
    assert any(expected in f for f in found), found


async def test_retention_keeps_the_last_day_deletes_after_the_deadline(
    store: ProtocolStore,
) -> None:
    march = datetime(2025, 3, 15, 9, 0, tzinfo=BERLIN)
    new_year_eve = datetime(2025, 12, 31, 22, 0, tzinfo=BERLIN)
    later = datetime(2026, 6, 1, 12, 0, tzinfo=BERLIN)
    await write(store, march, new_year_eve, later)
    await service.checkpoint(store, KEY.sign, later + timedelta(minutes=5))

    async def run_at(at: datetime) -> int:
        async with store.conn.transaction():
            return await service.enforce_retention(store, KEY.sign, at)

    async def kept() -> list[datetime]:
        rows = await store.conn.fetch("SELECT written_at FROM protokoll ORDER BY seq")
        return [r["written_at"] for r in rows]

    # 30 December 2026, a minute before midnight: the March entry's last day is not over
    assert await run_at(datetime(2026, 12, 30, 23, 59, tzinfo=BERLIN)) == 0
    assert len(await kept()) == 3
    # 31 December 2026: deleted by the end of the year after writing
    assert await run_at(datetime(2026, 12, 31, 0, 0, tzinfo=BERLIN)) == 1
    assert len(await kept()) == 2
    assert await findings(store) == []
    # the New Year's Eve entry is kept its full twelve months, to the hour ...
    assert await run_at(datetime(2026, 12, 31, 21, 59, tzinfo=BERLIN)) == 0
    # ... and deleted when they are over, still within the following year
    assert await run_at(datetime(2026, 12, 31, 22, 0, tzinfo=BERLIN)) == 1
    assert [k.astimezone(BERLIN) for k in await kept()] == [later]
    assert await findings(store) == []
    # a forged cut is found
    await store.conn.execute("UPDATE retention_cuts SET entry_hash = repeat('a', 64)")
    assert any("not validly signed" in f for f in await findings(store))


async def test_whole_days_are_dropped_when_due_and_the_chain_still_verifies(
    store: ProtocolStore,
) -> None:
    """§ 40 Abs. 5 BMG at volume: a day partition goes whole once all its entries are due, with
    a signed cut per chain (here the operator's and a commissioned one)."""
    times = [
        datetime(2025, 3, 15, 9, 0, tzinfo=BERLIN),
        datetime(2025, 3, 16, 9, 0, tzinfo=BERLIN),
        datetime(2025, 12, 31, 22, 0, tzinfo=BERLIN),
        datetime(2026, 6, 1, 12, 0, tzinfo=BERLIN),
    ]
    await store.ensure_days([t.date() for t in times])
    await write(store, *times)
    await write(store, times[0], tenant="T-police", protokollierung="commissioned")
    await service.checkpoint(store, KEY.sign, times[-1] + timedelta(minutes=5))

    async def drop(at: datetime) -> int | None:
        async with store.conn.transaction():
            return await service.drop_due_day(store, KEY.sign, at)

    async def tables() -> set[str]:
        rows = await store.conn.fetch(
            "SELECT relname FROM pg_class WHERE relname LIKE 'protokoll_2%' AND relkind = 'r'"
            " AND relnamespace = current_schema()::regnamespace"
        )
        return {r["relname"] for r in rows}

    assert await drop(datetime(2026, 12, 30, 23, 59, tzinfo=BERLIN)) is None
    year_end = datetime(2026, 12, 31, 0, 0, tzinfo=BERLIN)
    assert await drop(year_end) == 2  # 15 March: the operator's entry and the police's
    assert await drop(year_end) == 1  # 16 March
    assert await drop(year_end) is None  # New Year's Eve: its entries are kept twelve months
    assert "protokoll_20250315" not in await tables()
    assert "protokoll_20251231" in await tables()
    assert await findings(store) == []
    cuts = await store.conn.fetch("SELECT chain, seq, deleted FROM retention_cuts ORDER BY cut_at")
    assert {(c["chain"], c["deleted"]) for c in cuts} >= {("tenant:T-police", 1)}
    # the New Year's Eve entry goes row by row at its hour, its empty day at the day's end
    async with store.conn.transaction():
        at_ten = datetime(2026, 12, 31, 22, 0, tzinfo=BERLIN)
        assert await service.enforce_retention(store, KEY.sign, at_ten) == 1
    assert await drop(datetime(2027, 1, 1, 0, 0, tzinfo=BERLIN)) == 0
    assert await tables() == {"protokoll_20260601"}
    assert await findings(store) == []


async def test_a_day_made_late_takes_its_entries_from_the_rest(store: ProtocolStore) -> None:
    """Entries written before their day's partition existed move into it when it is made, so
    that the day can still be dropped whole."""
    at = datetime(2025, 5, 5, 10, 0, tzinfo=BERLIN)
    await write(store, at, at + timedelta(minutes=1))
    count = "SELECT count(*) FROM {}"
    assert await store.conn.fetchval(count.format("protokoll_rest")) == 2
    await store.ensure_days([at.date()])
    assert await store.conn.fetchval(count.format("protokoll_rest")) == 0
    assert await store.conn.fetchval(count.format("protokoll_20250505")) == 2
    assert await findings(store) == []


async def test_reading_needs_a_purpose_and_is_logged(store: ProtocolStore) -> None:
    await write(store, NOW, treffer="P-subject")
    await write(store, NOW, treffer="P-other")
    await write(
        store,
        NOW,
        tenant="T-police",
        zugangsart="sicherheitsbehoerde",
        protokollierung="commissioned",
        treffer="P-subject",
    )
    subject = Treffer(gemeindeschluessel=HANNOVER[0], ordnungsmerkmal="P-subject")
    _, dsb = identities.operator(OperatorRole.DATENSCHUTZ, NOW, "dsb")
    about = await service.read(
        store,
        reader=reader_of(dsb, None, Zweck.AUSKUNFT_BETROFFENE),
        purpose=Zweck.AUSKUNFT_BETROFFENE,
        now=NOW,
        subject=subject,
    )
    assert len(about) == 1
    assert about[0]["zugangsart"] == "einfache_behoerdenauskunft"
    # the commissioning authority reads its own entries, nobody else's
    _, police = identities.tenant_user("T-police", NOW)
    own = await service.read(
        store,
        reader=reader_of(police, None, Zweck.DATENSCHUTZKONTROLLE),
        purpose=Zweck.DATENSCHUTZKONTROLLE,
        now=NOW,
    )
    assert [e["tenant_id"] for e in own] == ["T-police"]
    with pytest.raises(ReadRefused):
        reader_of(police, "T-chain", Zweck.DATENSCHUTZKONTROLLE)
    with pytest.raises(ReadRefused):
        await service.read(
            store,
            reader=reader_of(dsb, None, Zweck.AUSKUNFT_BETROFFENE),
            purpose=Zweck.AUSKUNFT_BETROFFENE,
            now=NOW,
        )  # information to the person concerned names the person
    reads = await store.conn.fetch("SELECT reader, purpose, entries FROM read_log ORDER BY read_id")
    assert [(r["reader"], r["purpose"], r["entries"]) for r in reads] == [
        ("operator:dsb", "auskunft_betroffene", 1),
        (police.principal, "datenschutzkontrolle", 1),
    ]


async def test_alert_when_one_user_queries_the_same_person_repeatedly(
    store: ProtocolStore,
) -> None:
    outs = []
    for i in range(6):
        at = NOW + timedelta(minutes=i)
        async with store.conn.transaction():
            (released,) = await service.release(
                store, [answered(at, treffer="P-stalked")], at, EVALUATION
            )
            outs += released
    alerts = [o.event for o in outs if o.topic.name.endswith("alerts.v1")]
    assert [a.rule for a in alerts] == ["repeated_subject"]
    dumped = alerts[0].model_dump_json()
    assert "P-stalked" not in dumped
    assert "sachbearbeitung" not in dumped


async def test_a_batch_is_logged_and_evaluated_as_its_events_one_by_one(
    store: ProtocolStore,
) -> None:
    """§ 40 BMG entries and the evaluation of a whole batch, written set-based, equal what the
    same events give one at a time (the in-memory store, event by event): the same chain
    positions, an alert at the very event that reaches a threshold and at no other, a Vorgang
    delivered twice in the batch logged once, a self-logging authority's entry handed over."""
    at = NOW + timedelta(minutes=1)
    events = [answered(at, treffer="P-stalked") for _ in range(7)]
    events.insert(3, answered(at, tenant="T-other", protokollierung="commissioned"))
    events.insert(5, answered(at, tenant="T-self", protokollierung="self"))
    events.append(events[1])  # delivered again in the same batch
    async with store.conn.transaction():
        batch = await service.release(store, events, at, EVALUATION)
    reference = MemoryProtocolStore()
    one_by_one = [(await service.release(reference, [e], at, EVALUATION))[0] for e in events]

    def shape(outs: list[Outgoing]) -> list[tuple[str, str]]:
        return [
            (o.topic.name, getattr(o.event, "protokoll", None) or getattr(o.event, "rule", ""))
            for o in outs
        ]

    assert [shape(o) for o in batch] == [shape(o) for o in one_by_one]
    assert batch[-1] == []  # the second delivery of a Vorgang: nothing again
    assert [o.event.rule for outs in batch for o in outs if o.topic is Topics.PROTOCOL_ALERTS] == [
        "repeated_subject"
    ]
    assert await findings(store) == []
    heads = {chain: (await store.head(chain)) for chain in await store.chains()}
    assert {chain: head.seq for chain, head in heads.items() if head} == {
        chain: head.seq for chain, head in reference.heads.items()
    }


async def test_metrics_per_tenant_and_minute_without_personal_data(store: ProtocolStore) -> None:
    minute = NOW.replace(second=0)
    await write(store, minute + timedelta(seconds=5), minute + timedelta(seconds=30))
    await write(store, minute + timedelta(seconds=40), tenant="T-other")
    async with store.conn.transaction():
        # the minute is not over yet: nothing to publish
        assert await service.publish_metrics(store, minute + timedelta(seconds=50)) == []
    async with store.conn.transaction():
        outs = await service.publish_metrics(store, minute + timedelta(minutes=1, seconds=1))
    metrics = {o.event.tenant_id: o.event for o in outs}
    assert set(metrics) == {"T-chain", "T-other"}
    chain = metrics["T-chain"]
    assert chain.minute == minute
    assert chain.total == 2
    assert chain.counts.eindeutig == 2
    assert chain.latency_ms_p50 == 0.0  # released at the time they were requested
    dumped = chain.model_dump_json()
    assert "Möller" not in dumped
    assert "sachbearbeitung" not in dumped
    async with store.conn.transaction():
        # each minute once
        assert await service.publish_metrics(store, minute + timedelta(minutes=2)) == []


VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "audit" / "verify-chain.mjs"


async def audit(store: ProtocolStore, chain: str, tmp_path: Path) -> tuple[int, str]:
    """The chain exported for an auditor, checked by the documented verifier in Node.js."""
    lines = await service.export_chain(store, chain, reader="auditor:LfD", now=NOW)
    export = tmp_path / "chain.jsonl"
    export.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), "utf-8")
    key = tmp_path / "protocol-checkpoint.pub"
    key.write_text(KEY.public_key().public_bytes_raw().hex())
    done = run_node(VERIFIER.read_text("utf-8"), str(export), str(key))
    return done.returncode, done.stdout.strip()


async def test_an_auditor_verifies_an_exported_chain_with_another_languages_tools(
    store: ProtocolStore, tmp_path: Path
) -> None:
    """§ 40 BMG's log is tamper-evident for the supervisory authority too: the export (retention
    cut, entries with hashes, signed checkpoints) verifies with Node.js and an RFC 8785 package
    in the 30 lines of docs/audit/verify-chain.mjs; an edited entry does not; the export is
    logged as a read (§ 40 Abs. 5 Satz 3 BMG)."""
    assert len(VERIFIER.read_text("utf-8").splitlines()) <= 32
    old, kept = datetime(2025, 3, 15, 9, 0, tzinfo=BERLIN), NOW
    await store.ensure_days([old.date(), kept.date()])
    await write(store, old)
    await write(store, *(kept + timedelta(minutes=i) for i in range(4)))
    await write(store, kept, kriterien={"familienname": "Øster-Ğül 😀", "vornamen": "Zoë"})
    await service.checkpoint(store, KEY.sign, kept + timedelta(hours=1))
    async with store.conn.transaction():
        dropped = await service.drop_due_day(
            store, KEY.sign, datetime(2026, 12, 31, 0, 0, tzinfo=BERLIN)
        )
    assert dropped == 1  # the entry of 15 March 2025: a signed retention cut now
    assert await audit(store, "operator", tmp_path) == (0, "intact")
    reads = await store.conn.fetch("SELECT reader, purpose, filter FROM read_log")
    assert [(r["reader"], r["purpose"]) for r in reads] == [("auditor:LfD", "datenschutzkontrolle")]

    await store.conn.execute(
        "UPDATE protokoll SET entry = jsonb_set(entry, '{aktenzeichen}', '\"AZ 9\"') WHERE seq = 4"
    )
    code, out = await audit(store, "operator", tmp_path)
    assert code == 1
    assert "entry 4 was changed" in out, out
