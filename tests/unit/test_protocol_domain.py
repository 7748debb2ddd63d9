"""Retention deadlines, the chain verifier and the evaluation rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.protocol_log import domain
from services.protocol_log.domain import AlertThresholds, Head, StoredEntry
from shared.law import aufbewahrung
from shared.law.aufbewahrung import BERLIN


@pytest.mark.parametrize(
    ("written", "due"),
    [
        (datetime(2025, 3, 15, 9, tzinfo=BERLIN), datetime(2026, 12, 31, tzinfo=BERLIN)),
        (datetime(2025, 1, 1, 0, 5, tzinfo=BERLIN), datetime(2026, 12, 31, tzinfo=BERLIN)),
        (datetime(2025, 12, 31, 22, tzinfo=BERLIN), datetime(2026, 12, 31, 22, tzinfo=BERLIN)),
        # written late on 31 December UTC is already 1 January in Berlin
        (datetime(2025, 12, 31, 23, 30, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=BERLIN)),
        (datetime(2024, 2, 29, 12, tzinfo=BERLIN), datetime(2025, 12, 31, tzinfo=BERLIN)),
    ],
)
def test_deletion_due(written: datetime, due: datetime) -> None:
    assert aufbewahrung.deletion_due(written) == due
    # at least twelve months, at most to the end of the following year
    assert (due - written).days >= 365
    assert due.astimezone(BERLIN).year == written.astimezone(BERLIN).year + 1


@pytest.mark.parametrize(
    ("now", "kept"),
    [
        # § 40 Abs. 5 BMG: on 31 December 2026 the entries of 2025 fall due, each twelve months
        # after it was written; earlier in 2026 only those of 2024 and before are gone
        (datetime(2026, 11, 30, 12, tzinfo=BERLIN), datetime(2025, 1, 1, tzinfo=BERLIN)),
        (datetime(2026, 12, 30, 23, 59, tzinfo=BERLIN), datetime(2025, 1, 1, tzinfo=BERLIN)),
        (
            datetime(2026, 12, 31, 0, 0, tzinfo=BERLIN),
            datetime(2025, 12, 31, 0, 0, 0, 1, tzinfo=BERLIN),
        ),
        (
            datetime(2026, 12, 31, 18, 0, tzinfo=BERLIN),
            datetime(2025, 12, 31, 18, 0, 0, 1, tzinfo=BERLIN),
        ),
        (datetime(2027, 1, 1, 0, 0, tzinfo=BERLIN), datetime(2026, 1, 1, tzinfo=BERLIN)),
    ],
)
def test_kept_from_bmg_40_abs_5(now: datetime, kept: datetime) -> None:
    cut = aufbewahrung.kept_from(now)
    assert cut == kept
    # nothing kept is due, everything before the cut is
    assert aufbewahrung.deletion_due(cut) > now
    assert aufbewahrung.deletion_due(cut - timedelta(microseconds=1)) <= now


def chain(n: int) -> list[StoredEntry]:
    entries, prev = [], domain.GENESIS
    for seq in range(1, n + 1):
        content = {"vorgangsnummer": f"V{seq}"}
        h = domain.entry_hash("operator", seq, prev, content)
        entries.append(StoredEntry(seq, prev, h, content))
        prev = h
    return entries


def verify(entries: list[StoredEntry], head: Head) -> list[str]:
    return domain.verify_chain("operator", entries, head, [], None, lambda m, s: True)


def test_verifier() -> None:
    entries = chain(4)
    head = Head(4, entries[-1].entry_hash)
    assert verify(entries, head) == []
    edited = [
        *entries[:2],
        StoredEntry(3, entries[2].prev_hash, entries[2].entry_hash, {"x": 1}),
        entries[3],
    ]
    assert any("entry 3 was changed" in f for f in verify(edited, head))
    assert any("removed" in f for f in verify([entries[0], *entries[2:]], head))
    assert any("the chain head says 4" in f for f in verify(entries[:3], head))


def test_rules_fire_once_at_their_threshold() -> None:
    t = AlertThresholds(same_subject=3, night_burst=4, volume_factor=2.0, volume_minimum=10)
    night = datetime(2026, 11, 21, 1, tzinfo=BERLIN)
    day = datetime(2026, 11, 21, 14, tzinfo=BERLIN)
    assert [f.rule for f in domain.evaluate(t, 3, 1, 1, 0, day)] == ["repeated_subject"]
    assert domain.evaluate(t, 4, 1, 1, 0, day) == []
    assert [f.rule for f in domain.evaluate(t, 0, 4, 1, 0, night)] == ["night_burst"]
    assert domain.evaluate(t, 0, 4, 1, 0, day) == []
    # usual: 2 × a 30-a-day average = 60
    assert [f.rule for f in domain.evaluate(t, 0, 0, 60, 30.0, day)] == ["volume_above_usual"]
    assert domain.evaluate(t, 0, 0, 59, 30.0, day) == []
