"""The registration offices' deliveries as NMeldVO 2022 § 23 Abs. 2 expects them: every day
changes or an empty message, the whole register on request; what needs the operator's eye."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.delivery_monitor.domain import Thresholds, after_delivery, missing
from shared.contract.events.register import (
    DeliveryLogged,
    Lieferart,
    Lieferauffaelligkeit,
    LieferStatus,
    Meldebehoerde,
)

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
CELLE = Meldebehoerde(gemeindeschluessel="03351006", name="Stadt Celle")
LIMITS = Thresholds(max_gap=timedelta(hours=26), drop_share=0.2)


def logged(
    art: Lieferart,
    records: int = 0,
    *,
    removed: int = 0,
    status: LieferStatus = LieferStatus.APPLIED,
    at: datetime = T0,
    part: tuple[int, int] = (1, 1),
) -> DeliveryLogged:
    return DeliveryLogged(
        delivery_id=f"L-{at:%d%H%M}-{part[0]}",
        absender=CELLE,
        art=art,
        teil=part[0],
        teile=part[1],
        anzahl_datensaetze=records,
        anzahl_entfernt=removed,
        status=status,
        grund="Signatur ungültig" if status is LieferStatus.REJECTED else None,
        empfangen_am=at,
        land="03",
    )


def test_a_day_without_changes_or_an_empty_message_is_raised_once_nmeldvo_23_abs_2() -> None:
    office, findings = after_delivery(None, logged(Lieferart.LEERMITTEILUNG), LIMITS)
    assert findings == []
    assert missing(office, T0 + timedelta(hours=25), LIMITS) is None
    late = missing(office, T0 + timedelta(hours=27), LIMITS)
    assert late is not None
    assert late.kind is Lieferauffaelligkeit.AUSGEBLIEBEN
    assert "seit 27 Stunden" in late.detail
    assert "§ 23 Abs. 2 NMeldVO" in late.detail
    # said once: marked, then quiet until the office delivers again
    alerted = replace(office, missing_alerted_at=T0 + timedelta(hours=27))
    assert missing(alerted, T0 + timedelta(hours=50), LIMITS) is None
    back = logged(Lieferart.AENDERUNG, 3, at=T0 + timedelta(hours=51))
    again, _ = after_delivery(alerted, back, LIMITS)
    assert again.missing_alerted_at is None
    assert again.last_delivery_at == T0 + timedelta(hours=51)


def test_a_short_deadline_is_said_in_minutes() -> None:
    """A deadline shortened below the day (the local demonstration's 72 s) reads as minutes."""
    office, _ = after_delivery(None, logged(Lieferart.LEERMITTEILUNG), LIMITS)
    short = replace(LIMITS, max_gap=timedelta(seconds=72))
    late = missing(office, T0 + timedelta(seconds=80), short)
    assert late is not None
    assert "seit 1 Minute weder" in late.detail
    later = missing(office, T0 + timedelta(minutes=5), short)
    assert later is not None
    assert "seit 5 Minuten weder" in later.detail


def test_an_office_whose_first_delivery_was_refused_is_still_expected_within_the_day() -> None:
    refused = logged(Lieferart.VOLLBESTAND, 9, status=LieferStatus.REJECTED)
    office, [finding] = after_delivery(None, refused, LIMITS)
    assert finding.kind is Lieferauffaelligkeit.ABGEWIESEN
    assert office.last_delivery_at is None
    assert missing(office, T0 + timedelta(hours=25), LIMITS) is None
    late = missing(office, T0 + timedelta(hours=27), LIMITS)
    assert late is not None
    assert late.kind is Lieferauffaelligkeit.AUSGEBLIEBEN


def test_a_refused_delivery_is_raised_and_does_not_count_as_delivered() -> None:
    office, _ = after_delivery(None, logged(Lieferart.AENDERUNG, 2), LIMITS)
    later = T0 + timedelta(hours=20)
    office, [finding] = after_delivery(
        office, logged(Lieferart.AENDERUNG, 2, status=LieferStatus.REJECTED, at=later), LIMITS
    )
    assert finding.kind is Lieferauffaelligkeit.ABGEWIESEN
    assert "Signatur ungültig" in finding.detail
    assert office.last_delivery_at == T0  # the day still waits for a delivery that counts


def test_far_fewer_persons_in_a_full_delivery_in_parts_or_in_the_changes() -> None:
    office, _ = after_delivery(None, logged(Lieferart.VOLLBESTAND, 10_000), LIMITS)
    assert office.persons == 10_000
    # a full delivery in two parts: counted when the last part is applied
    office, found = after_delivery(
        office,
        logged(Lieferart.VOLLBESTAND, 4_000, status=LieferStatus.PART_RECEIVED, part=(1, 2)),
        LIMITS,
    )
    assert found == []
    second = logged(Lieferart.VOLLBESTAND, 3_000, part=(2, 2))
    office, [drop] = after_delivery(office, second, LIMITS)
    assert drop.kind is Lieferauffaelligkeit.EINBRUCH
    assert "7000 Personen, der letzte 10000 (30 % weniger)" in drop.detail
    assert (office.persons, office.full_so_far) == (7_000, 0)
    office, found = after_delivery(office, logged(Lieferart.AENDERUNG, 50, removed=1_000), LIMITS)
    assert found == []  # 14 %: ordinary
    office, [drop] = after_delivery(office, logged(Lieferart.AENDERUNG, 0, removed=2_000), LIMITS)
    assert "entfernt 2000 von 6000 Personen (33 %)" in drop.detail
    assert office.persons == 4_000
