"""How long the logs of retrievals are kept (§ 40 Abs. 5 BMG, for the portal path through § 49
Abs. 6 BMG): at least twelve months, deleted by the end of the calendar year after the one an
entry was written in. The operator's protocol log and a municipal register's own log both keep
their entries by this rule; the calendar is Germany's (Europe/Berlin)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")


def deletion_due(written_at: datetime) -> datetime:
    """Due on 31 December of the year after writing (Berlin time), or twelve months after
    writing if that is later (an entry of 31 December)."""
    local = written_at.astimezone(BERLIN)
    last_day = datetime(local.year + 1, 12, 31, tzinfo=BERLIN)
    try:
        twelve_months = local.replace(year=local.year + 1)
    except ValueError:  # 29 February
        twelve_months = local.replace(year=local.year + 1, day=28) + timedelta(days=1)
    return max(last_day, twelve_months).astimezone(UTC)


def berlin_day(at: datetime) -> date:
    return at.astimezone(BERLIN).date()


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=BERLIN).astimezone(UTC)


def day_due(day: date) -> datetime:
    """When every entry written on this Berlin day is due: the deadline of its last instant."""
    return deletion_due(day_start(day + timedelta(days=1)) - timedelta(microseconds=1))


def kept_from(now: datetime) -> datetime:
    """The oldest writing time whose entry is not yet due: entries written before it may go.
    Until 31 December the entries of the year before last are due; from then on those of last
    year too, each twelve months after it was written."""
    local = now.astimezone(BERLIN)
    if local < datetime(local.year, 12, 31, tzinfo=BERLIN):
        return datetime(local.year - 1, 1, 1, tzinfo=BERLIN).astimezone(UTC)
    return (local.replace(year=local.year - 1) + timedelta(microseconds=1)).astimezone(UTC)
