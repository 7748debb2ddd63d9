"""delivery_monitor's handler and its look for silent offices on FastStream's in-memory broker, with
a clock the test moves; the in-memory store and the real PostgreSQL one (marked integration)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.delivery_monitor.app import DeliveryMonitor, DeliverySettings
from shared.contract.events.register import DeliveryLogged, Lieferart, LieferStatus, Meldebehoerde
from shared.contract.topics import Topics
from tests.fakes.delivery_monitor import MemoryOfficeStore
from tests.helpers import database_url
from tests.inmemory import InMemory

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
APPLIED = LieferStatus.APPLIED


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


Monitor = Callable[[Clock], InMemory]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def monitor(request: pytest.FixtureRequest) -> Monitor:
    def build(clock: Clock) -> InMemory:
        if request.param == "postgres":
            settings = DeliverySettings(database_url=database_url())
            return InMemory(DeliveryMonitor(settings, clock=clock), Topics.REGISTER_DELIVERY_ALERTS)
        store = MemoryOfficeStore()
        service = DeliveryMonitor(DeliverySettings(), clock=clock)
        service.store = lambda conn: store
        return InMemory(service, Topics.REGISTER_DELIVERY_ALERTS, stores=[store])

    return build


def logged(
    ags: str, art: Lieferart, at: datetime, status: LieferStatus = LieferStatus.APPLIED
) -> DeliveryLogged:
    return DeliveryLogged(
        delivery_id=f"L-{secrets.token_hex(4)}",
        absender=Meldebehoerde(gemeindeschluessel=ags, name=f"Gemeinde {ags}"),
        art=art,
        teil=1,
        teile=1,
        anzahl_datensaetze=5,
        anzahl_entfernt=0,
        status=status,
        grund="Schema verletzt" if status is LieferStatus.REJECTED else None,
        empfangen_am=at,
        land="03",
    )


async def test_a_silent_office_and_a_refused_delivery_raise_alerts_nmeldvo_23_abs_2(
    monitor: Monitor,
) -> None:
    clock = Clock()
    quiet, busy = (f"03{secrets.randbelow(10**6):06d}" for _ in range(2))
    async with monitor(clock) as run:

        async def deliver(ags: str, art: Lieferart, status: LieferStatus = APPLIED) -> None:
            await run.deliver(Topics.REGISTER_DELIVERY_LOG, logged(ags, art, clock.now, status))

        await deliver(quiet, Lieferart.AENDERUNG)
        await deliver(busy, Lieferart.LEERMITTEILUNG)
        await deliver(busy, Lieferart.AENDERUNG, LieferStatus.REJECTED)
        clock.now = START + timedelta(hours=20)
        await deliver(busy, Lieferart.LEERMITTEILUNG)
        clock.now = START + timedelta(hours=27)
        await run.service.check_silent()
        await run.service.check_silent()  # once, not at every look
    mine = [a for a in run.bodies(Topics.REGISTER_DELIVERY_ALERTS)
            if a["absender"]["gemeindeschluessel"] in (quiet, busy)]  # fmt: skip
    assert [(a["absender"]["gemeindeschluessel"], a["kind"]) for a in mine] == [
        (busy, "abgewiesen"),
        (quiet, "ausgeblieben"),
    ]
    assert "Schema verletzt" in mine[0]["detail"]
    assert mine[1]["last_delivery_at"].startswith("2026-12-01T02:00")
