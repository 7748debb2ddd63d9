"""`python -m demo.gemeinden`: a registration office's deliveries to the mirror, and what the
monitoring makes of them (NMeldVO 2022 § 23 Abs. 2, 3).

The demo's office (Emden, 03402000) delivers one change, then a delivery the register refuses
(part 3 of 2), and then nothing more. delivery_monitor raises `abgewiesen` for the refusal at
once and `ausgeblieben` once the office has been silent for its deadline, which the local run
shortens from the day (26 h) to 72 s so that it shows. Each logged delivery and each alert is
printed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

from demo.feed import Skipped, kafka, publish
from shared.contract.events.register import DeliveryAlert, DeliveryLogged
from shared.contract.topics import Topics
from shared.platform.broker import json_or_none

OFFICE = {"gemeindeschluessel": "03402000", "name": "Stadt Emden"}
SOURCE = "/demo/meldebehoerde-emden"


def delivery(**more: Any) -> dict[str, Any]:
    """A change with one person who moved in."""
    nummer = uuid.uuid4().hex[:10].upper()
    person = {
        "ordnungsmerkmal": f"EMD{nummer}",
        "familienname": "Brinkmann",
        "vornamen": ["Hauke"],
        "geburtsdatum": "19850412",
        "geburtsort": "Celle",
        "geschlecht": "m",
        "staatsangehoerigkeiten": ["deutsch"],
        "anschriften": [
            {"strasse": "Am Delft", "hausnummer": "7", "postleitzahl": "26721",
             "wohnort": "Emden", "gemeindeschluessel": OFFICE["gemeindeschluessel"],
             "status": "alleinige_wohnung", "einzugsdatum": datetime.now(UTC).date().isoformat()}
        ],
    }  # fmt: skip
    return {
        "delivery_id": f"L-EMD-{nummer}",
        "absender": OFFICE,
        "art": "aenderung",
        "datensaetze": [person],
        "erstellt_am": datetime.now(UTC).isoformat(),
        **more,
    }


def described(topic: str, body: dict[str, Any]) -> str | None:
    if topic == Topics.REGISTER_DELIVERY_LOG.name:
        logged = DeliveryLogged.model_validate(body)
        if logged.absender.gemeindeschluessel != OFFICE["gemeindeschluessel"]:
            return None
        why = f": {logged.grund}" if logged.grund else ""
        return f"⛁ delivery    {logged.delivery_id}  {logged.absender.name} {logged.status}{why}"
    alert = DeliveryAlert.model_validate(body)
    return (
        f"⚑ delivery    {alert.absender.gemeindeschluessel} {alert.absender.name}  "
        f"{alert.kind.value}: {alert.detail}"
    )


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    producer = kafka()
    topics = (Topics.REGISTER_DELIVERY_LOG.name, Topics.REGISTER_DELIVERY_ALERTS.name)
    follower = await kafka().follow(*topics)
    skipped = Skipped()
    try:
        await asyncio.sleep(3)
        for d in (delivery(), delivery(teil=3, teile=2)):
            await publish(producer, Topics.REGISTER_DELIVERY, OFFICE["gemeindeschluessel"], d,
                          SOURCE)  # fmt: skip
        while not stop.is_set():
            for r in await follower.next(0.5):
                try:
                    line = described(r.topic, json_or_none(r.value) or {})
                except ValueError:
                    skipped.one(r.topic)
                    continue
                if line:
                    print(line, flush=True)
    finally:
        await follower.close()
        await producer.__aexit__()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(main())
