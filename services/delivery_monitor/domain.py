"""Watching the registration offices' deliveries to the Melderegisterdatenspiegel. Pure rules, no
I/O.

NMeldVO 2022 § 23 Abs. 2 Satz 2: every office transmits each day the changes of its register
(Änderungsmitteilungen) or a message that there were none (Leermitteilung); Satz 3: the whole
register again on the operator's request (Vollbestand); Abs. 3: the operator logs each
transmission (register_mirror's delivery log, which this reads). Three things need the
operator's attention:
- nothing from an office within the day (its last delivery older than `max_gap`, or its first
  logged one if none counted; a refused one does not count), raised once until it delivers
  again;
- a delivery the register refused, with the register's reason;
- far fewer persons than before: a Vollbestand below (1 - `drop_share`) of the office's last one,
  or changes that remove more than `drop_share` of its persons.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from shared.contract.events.register import (
    DeliveryLogged,
    Lieferart,
    Lieferauffaelligkeit,
    LieferStatus,
)


@dataclass(frozen=True)
class Thresholds:
    max_gap: timedelta = timedelta(hours=26)  # a day, and the night's transmission run
    drop_share: float = 0.2


@dataclass(frozen=True)
class Office:
    """What is known of one office's deliveries."""

    gemeindeschluessel: str
    name: str
    land: str
    last_delivery_at: datetime | None = None  # the last one that counts (not refused)
    known_since: datetime | None = None  # its first logged delivery, refused or not
    persons: int | None = None  # after its last Vollbestand, less what changes removed
    full_so_far: int = 0  # records of a Vollbestand whose parts are still arriving
    missing_alerted_at: datetime | None = None


@dataclass(frozen=True)
class Finding:
    kind: Lieferauffaelligkeit
    detail: str


def after_delivery(
    office: Office | None, logged: DeliveryLogged, thresholds: Thresholds
) -> tuple[Office, list[Finding]]:
    """The office after a logged delivery, and what it calls for."""
    sender = logged.absender
    known = office or Office(
        sender.gemeindeschluessel, sender.name, logged.land, known_since=logged.empfangen_am
    )
    if logged.status is LieferStatus.REJECTED:
        return known, [
            Finding(
                Lieferauffaelligkeit.ABGEWIESEN,
                f"Die Lieferung {logged.delivery_id} ({logged.art.value}) von {sender.name} "
                f"wurde abgewiesen: {(logged.grund or 'ohne Angabe').rstrip('.')}.",
            )
        ]
    delivered = replace(
        known, name=sender.name, last_delivery_at=logged.empfangen_am, missing_alerted_at=None
    )
    if logged.status is LieferStatus.PART_RECEIVED:
        return replace(delivered, full_so_far=known.full_so_far + logged.anzahl_datensaetze), []
    findings: list[Finding] = []
    if logged.art is Lieferart.VOLLBESTAND:
        total = known.full_so_far + logged.anzahl_datensaetze
        before = known.persons
        if before and total < (1 - thresholds.drop_share) * before:
            findings.append(
                Finding(
                    Lieferauffaelligkeit.EINBRUCH,
                    f"Der Vollbestand von {sender.name} umfasst {total} Personen, der letzte "
                    f"{before} ({_share(before - total, before)} weniger).",
                )
            )
        return replace(delivered, persons=total, full_so_far=0), findings
    persons = known.persons
    if logged.art is Lieferart.AENDERUNG and persons:
        removed = logged.anzahl_entfernt
        if removed > thresholds.drop_share * persons:
            findings.append(
                Finding(
                    Lieferauffaelligkeit.EINBRUCH,
                    f"Die Änderungsmitteilung {logged.delivery_id} von {sender.name} entfernt "
                    f"{removed} von {persons} Personen ({_share(removed, persons)}).",
                )
            )
        persons = max(0, persons - removed)
    return replace(delivered, persons=persons), findings


def missing(office: Office, now: datetime, thresholds: Thresholds) -> Finding | None:
    """Nothing from the office within the day, and not yet said since its last delivery."""
    last = office.last_delivery_at or office.known_since
    if last is None or office.missing_alerted_at is not None or now - last < thresholds.max_gap:
        return None
    return Finding(
        Lieferauffaelligkeit.AUSGEBLIEBEN,
        f"Von {office.name} ({office.gemeindeschluessel}) ist seit {_since(now - last)} weder "
        "eine Änderungsmitteilung noch eine Leermitteilung eingegangen (§ 23 Abs. 2 NMeldVO).",
    )


def _since(gap: timedelta) -> str:
    hours = gap.total_seconds() / 3600
    if hours >= 2:
        return f"{hours:.0f} Stunden"
    minutes = max(1, round(gap.total_seconds() / 60))
    return f"{minutes} Minute" if minutes == 1 else f"{minutes} Minuten"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %"
