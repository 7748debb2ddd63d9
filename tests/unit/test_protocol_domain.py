"""Retention deadlines, the chain verifier and the evaluation rules, without a database."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import pytest

from services.protocol_log import domain
from services.protocol_log.domain import AlertThresholds, Head, StoredEntry
from shared.contract.events.account import Berechtigung, OperatorRole
from shared.contract.events.protocol import Zweck
from shared.law import aufbewahrung
from shared.law.aufbewahrung import BERLIN
from shared.platform import csv_export
from shared.platform.tokens import Identity


def as_csv(rows: list[dict]) -> str:
    """As the read API writes an evaluation."""
    return csv_export.as_csv(rows, domain.CSV_COLUMNS_FIRST)


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


# -- who reads the log (§ 40 Abs. 5 Satz 3 BMG), proven by a token ---------------------------


def _identity(tenant: str | None, roles: list[str], grants: tuple[str, ...] = ()) -> Identity:
    return Identity(
        user_id="u-1",
        username="x",
        tenant_id=tenant,
        roles=tuple(roles),
        authorisations=tuple(grants),
        expires_at=NOW_READ,
    )


NOW_READ = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(role, purposes) for role, purposes in domain.OPERATOR_PURPOSES.items()],
    ids=lambda v: v.value if isinstance(v, OperatorRole) else "",
)
def test_an_operator_role_reads_only_for_its_purposes_40_abs_5_satz_3_bmg(
    role: OperatorRole, allowed: frozenset[Zweck]
) -> None:
    identity = _identity(None, [role.value])
    for purpose in Zweck:
        if purpose in allowed:
            reader = domain.reader_of(identity, None, purpose)
            assert reader.chains == [domain.OPERATOR_CHAIN, domain.PORTAL_CHAIN]
            assert reader.principal == "operator:x"
        else:
            with pytest.raises(domain.ReadRefused):
                domain.reader_of(identity, None, purpose)


def test_the_supervisory_authority_controls_and_does_nothing_else_portalv_4_nr_3() -> None:
    assert domain.OPERATOR_PURPOSES[OperatorRole.AUFSICHT] == {Zweck.DATENSCHUTZKONTROLLE}


def test_an_authority_reads_only_its_own_retrievals() -> None:
    admin = _identity("T-1", ["administrator"], (Berechtigung.AUSWERTUNG.value,))
    reader = domain.reader_of(admin, None, Zweck.DATENSCHUTZKONTROLLE)
    assert (reader.chains, reader.tenant_id) == (
        [domain.tenant_chain("T-1"), domain.OPERATOR_CHAIN],
        "T-1",
    )
    assert reader.principal == "tenant:T-1/x"
    assert domain.reader_of(admin, "T-1", Zweck.STRAFVERFAHREN).tenant_id == "T-1"
    with pytest.raises(domain.ReadRefused, match="own"):
        domain.reader_of(admin, "T-2", Zweck.DATENSCHUTZKONTROLLE)
    with pytest.raises(domain.ReadRefused):
        domain.reader_of(admin, None, Zweck.BETRIEBSSICHERUNG)


def test_a_user_reads_the_authoritys_log_only_with_the_evaluation_authorisation() -> None:
    with pytest.raises(domain.ReadRefused, match="authorised to evaluate"):
        domain.reader_of(_identity("T-1", ["user"]), None, Zweck.DATENSCHUTZKONTROLLE)
    evaluator = _identity("T-1", ["user"], (Berechtigung.AUSWERTUNG.value,))
    assert domain.reader_of(evaluator, None, Zweck.DATENSCHUTZKONTROLLE).tenant_id == "T-1"


def test_an_account_without_a_known_role_reads_nothing() -> None:
    with pytest.raises(domain.ReadRefused):
        domain.reader_of(_identity(None, ["administrator"]), None, Zweck.DATENSCHUTZKONTROLLE)
    assert not domain.may_verify(_identity(None, ["administrator"]))
    assert not domain.may_verify(_identity("T-1", ["administrator"], ("auswertung",)))
    assert domain.may_verify(_identity(None, ["revision"]))


def test_csv_export_puts_the_identifying_fields_first_and_nested_values_as_json() -> None:
    text = as_csv(
        [
            {"chain": "operator", "seq": 1, "treffer": [{"gemeindeschluessel": "03241001"}]},
            {"seq": 2, "chain": "operator", "vorgangsnummer": "03-1", "treffer": []},
        ]
    )
    lines = text.splitlines()
    assert lines[0] == "chain,seq,vorgangsnummer,treffer"
    assert lines[1] == 'operator,1,,"[{""gemeindeschluessel"": ""03241001""}]"'
    assert lines[2] == "operator,2,03-1,[]"


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+1", "-1+1", "@SUM(A1)", "\tx"])
def test_csv_export_never_hands_a_spreadsheet_a_formula(value: str) -> None:
    row = as_csv([{"chain": "operator", "kennung": value}]).splitlines()[1]
    cell = next(csv.reader([row]))[1]
    assert cell == "'" + value
