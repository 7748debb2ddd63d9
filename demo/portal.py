"""`python -m demo.portal [SECONDS]`: a company requester on the portal path, as its front end
and the requester would act: it registers, an operator approves it, it takes the initial
password from its letter (opened here with mail_dispatch's key, as the letter would be read),
changes it, then asks for simple registry information about persons of the synthetic register
and fetches each answer, opened with its own key. Every few requests one lacks the declaration
against advertising and address trading, and is refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import signal
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from demo.feed import Skipped, kafka, publish
from demo.queries import persons
from services.portal.app import PortalSettings
from services.portal.service import answer_context
from shared.contract.events.portal import REQUESTER_CREDENTIAL_PURPOSE
from shared.contract.topics import Topics
from shared.platform.broker import json_or_none
from shared.platform.pki import LETTER_KEY, load_operator_key
from shared.platform.sealed import credential_context, load_private_key, open_sealed, public_bytes

SOURCE = "/demo/portal-frontend"
PASSWORD = "Demo-Portal-2026!"


def now() -> str:
    return datetime.now(UTC).isoformat()


async def first(
    topic: str, key: str | None, stop: asyncio.Event, done: Any = None
) -> dict[str, Any]:
    """The first record (under `key`, if given; read from the beginning) for which `done`
    holds."""
    follower = await kafka().follow(topic, from_beginning=True)
    skipped = Skipped()
    try:
        while not stop.is_set():
            for r in await follower.next(0.5):
                body = json_or_none(r.value)
                if body is None:
                    skipped.one(r.topic)
                    continue
                try:
                    if (key is None or r.key == key) and (done is None or done(body)):
                        return body
                except Exception:  # a record of another shape than the demo expects
                    skipped.one(r.topic)
    finally:
        await follower.close()
    raise SystemExit(0)


async def main(interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = PortalSettings()
    operator = load_operator_key(settings.pki_dir, settings.portal_operators[0])
    key = X25519PrivateKey.generate()
    reg_id = f"DEMO-R-{uuid.uuid4().hex[:8]}"
    producer = kafka()
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.portal_api_port}", timeout=10)
    try:
        await publish(producer, Topics.PORTAL_REGISTRATION_SUBMITTED, reg_id, {
            "registration_id": reg_id, "art": "unternehmen", "firma": "Forderungsservice Demo GmbH",
            "handelsregister": {"registergericht": "Amtsgericht Hannover",
                                "registernummer": "HRB 20261"},
            "verantwortliche_person": {"anrede": "frau", "vorname": "Petra",
                                       "familienname": "Demo"},
            "anschrift": {"strasse_hausnummer": "Am Markt 1", "postleitzahl": "30159",
                          "ort": "Hannover"},
            "email": "auskunft@forderungsservice.example",
            "antwortschluessel": public_bytes(key).hex(),
            "submitted_at": now()}, SOURCE)  # fmt: skip
        await first(Topics.PORTAL_REQUESTER.name, reg_id, stop)
        await publish(producer, Topics.PORTAL_REGISTRATION_DECISION, reg_id, {
            "decision_id": f"D-{reg_id}", "registration_id": reg_id,
            "operator_id": settings.portal_operators[0], "zulassen": True,
            "begruendung": "Handelsregisterauszug geprüft.",
            "decided_at": now()}, "/demo/operators", signed_by=operator)  # fmt: skip
        credentials = await first(Topics.PORTAL_CREDENTIALS.name, reg_id, stop)
        kennung = credentials["kennung"]
        letter_key = load_private_key((settings.pki_dir / LETTER_KEY).read_bytes())
        context = credential_context(kennung, REQUESTER_CREDENTIAL_PURPOSE)
        initial = open_sealed(letter_key, credentials["sealed_secret"], context).decode()
        changed = await api.post("/portal/passwort", json={
            "kennung": kennung, "passwort": initial, "neues_passwort": PASSWORD})  # fmt: skip
        print(f"portal: requester {kennung} approved, password changed ({changed.status_code})")
        signed = await api.post(
            "/portal/anmeldung", json={"kennung": kennung, "passwort": PASSWORD}
        )
        bearer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        ni = persons("03")
        n = 0
        while not stop.is_set():
            n += 1
            ags, p = random.choice(ni)
            request_id = f"DEMO-PR-{uuid.uuid4().hex[:10]}"
            await publish(producer, Topics.PORTAL_REQUEST, kennung, {
                "request_id": request_id, "kennung": kennung, "gemeindeschluessel": ags,
                "identifizierung": {"familienname": p.familienname, "vornamen": p.vornamen[0],
                                    "geburtsdatum": p.geburtsdatum, "geburtsort": p.geburtsort},
                "gewerblich": True, "gewerblicher_zweck": "forderungsmanagement",
                "erklaerung_keine_werbung_kein_adresshandel": n % 5 != 0,
                "requested_at": now()}, SOURCE)  # fmt: skip
            released = await first(
                Topics.PORTAL_RELEASED.name,
                None,
                stop,
                lambda b, r=request_id: b.get("request_id") == r,
            )
            got = await api.post(
                "/portal/antwort",
                json={"vorgangsnummer": released["vorgangsnummer"]},
                headers=bearer,
            )
            if got.status_code == 401:  # the token ran out: sign in again
                signed = await api.post(
                    "/portal/anmeldung", json={"kennung": kennung, "passwort": PASSWORD}
                )
                bearer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
                got = await api.post(
                    "/portal/antwort",
                    json={"vorgangsnummer": released["vorgangsnummer"]},
                    headers=bearer,
                )
            body = got.json()
            if body.get("antwort"):
                context = answer_context(released["vorgangsnummer"], kennung)
                inhalt = json.loads(open_sealed(key, body["antwort"], context))
                outcome = (
                    "eindeutig: "
                    + ", ".join(
                        a["strasse"] + " " + a["hausnummer"]
                        for a in inhalt.get("person", {}).get("derzeitige_anschriften", [])
                    )
                    if inhalt["ergebnisstatus"] == "01"
                    else "neutrale Antwort"
                )
            else:
                outcome = "✘ " + (body.get("nichterstellung") or {}).get(
                    "grund", str(got.status_code)
                )
            print(f"portal ✉ {released['vorgangsnummer']}  {outcome}", flush=True)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        await api.aclose()
        await producer.__aexit__()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0))
