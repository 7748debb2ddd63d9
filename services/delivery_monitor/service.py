"""delivery_monitor's handlers: each logged delivery, and the periodic look for silent offices."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from services.delivery_monitor import domain
from services.delivery_monitor.domain import Finding, Office, Thresholds
from services.delivery_monitor.store import Offices
from shared.contract.events.register import DeliveryAlert, DeliveryLogged, Meldebehoerde
from shared.contract.topics import Topics
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing

log = get_logger(__name__)


def _alert(office: Office, finding: Finding, now: datetime) -> Outgoing:
    log.warning(
        "delivery alert",
        gemeindeschluessel=office.gemeindeschluessel,
        kind=finding.kind.value,
    )
    return Outgoing(
        Topics.REGISTER_DELIVERY_ALERTS,
        DeliveryAlert(
            alert_id=str(uuid.uuid4()),
            absender=Meldebehoerde(gemeindeschluessel=office.gemeindeschluessel, name=office.name),
            land=office.land,
            kind=finding.kind,
            detail=finding.detail,
            last_delivery_at=office.last_delivery_at,
            raised_at=now,
        ),
        subject=office.gemeindeschluessel,
    )


async def handle_logged(
    store: Offices, logged: DeliveryLogged, now: datetime, thresholds: Thresholds
) -> Sequence[Outgoing]:
    before = await store.office(logged.absender.gemeindeschluessel, lock=True)
    office, findings = domain.after_delivery(before, logged, thresholds)
    await store.save(office)
    return [_alert(office, f, now) for f in findings]


async def check_silent(store: Offices, now: datetime, thresholds: Thresholds) -> list[Outgoing]:
    """Offices from which nothing came within the day: an alert each, once until they deliver."""
    out = []
    for office in await store.silent_since(now - thresholds.max_gap):
        finding = domain.missing(office, now, thresholds)
        if finding is None:
            continue
        await store.save(replace(office, missing_alerted_at=now))
        out.append(_alert(office, finding, now))
    return out
