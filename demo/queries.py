"""`python -m demo.queries [SECONDS]`: retrieval traffic like the MiN front end sends it, from the
tenants the demo feed got provisioned, about persons of the synthetic registers (same seed as
their load), and prints each released answer: status, Vorgangsnummer, where it was logged.

A mix: Personensuche in Niedersachsen and Bayern, a phonetic search, a freie Suche with
wildcards, a query for Nordrhein-Westfalen (over the states' link, `demo.verbund` plays its
gateway), a query for a state whose register is not connected (answered with the technical
error once the router's deadline passes), a refused one (minimum criteria not met), and one on a
person with an Auskunftssperre: the neutral answer, then the registration office's worklist, where
the demo plays the office's clerk (`sb-<AGS>`), who answers after hearing the person (§ 34a Abs. 5
Satz 2, § 51 Abs. 2 BMG), and the office's answer under its own Vorgangsnummer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from demo.feed import Skipped, kafka, publish
from services.register_mirror.generator import Generator
from shared.contract.events.account import TenantState, TenantStatus, UserStatus
from shared.contract.events.manuell import Bearbeitungsstatus, OfficeCase
from shared.contract.topics import Topics
from shared.platform.broker import json_or_none
from shared.platform.pki import init_operator, load_operator_key
from shared.platform.settings import get_settings

SOURCE = "/demo/min-frontend"
KNOWN = 2000  # the first persons of each generated register; every demo load has at least these


def persons(land: str) -> list[tuple[str, Any]]:
    return list(Generator(land, seed=1).persons(KNOWN))


class Tenants:
    """The active tenants and their active users, followed on the compacted tenant state for as
    long as the demo runs: a user the demo's administrator change locked is not asked with again,
    and a tenant provisioned later joins in."""

    def __init__(self) -> None:
        self.current: dict[str, tuple[str, list[str]]] = {}
        self.skipped = Skipped()

    def apply(self, key: str | None, state: dict[str, Any] | None) -> None:
        if state is None:  # a tombstone, or a record that is no tenant state
            if key is not None:
                self.current.pop(key, None)
            return
        try:
            tenant = TenantState.model_validate(state)
        except ValidationError:
            self.skipped.one(Topics.TENANT_STATE.name)
            return
        users = [u.username for u in tenant.users if u.status is UserStatus.ACTIVE]
        # another state's central body asks through its gateway (demo.verbund), not here
        if tenant.status is TenantStatus.ACTIVE and users and tenant.land is None:
            self.current[tenant.tenant_id] = (tenant.authority_name, users)
        else:
            self.current.pop(tenant.tenant_id, None)

    def pick(self) -> tuple[str, tuple[str, str]] | None:
        if not self.current:
            return None
        tenant_id = random.choice(sorted(self.current))
        authority, users = self.current[tenant_id]
        return tenant_id, (authority, random.choice(users))

    async def follow(self, stop: asyncio.Event) -> None:
        follower = await kafka().follow(Topics.TENANT_STATE.name, from_beginning=True)
        try:
            while not stop.is_set():
                for r in await follower.next(0.5):
                    state = json_or_none(r.value)
                    if r.value and state is None:
                        self.skipped.one(r.topic)
                    self.apply(r.key, state)
        finally:
            await follower.close()


def query_body(tenant_id: str, authority: str, user: str, **search: Any) -> dict[str, Any]:
    """A query as the MiN front end sends it, from `user` of the tenant, with `search`."""
    return {
        "query_id": f"DEMO-{uuid.uuid4().hex[:12]}",
        "tenant_id": tenant_id,
        "anfragende": {
            "behoerde": authority[:120],
            "anschrift": "Schiffgraben 12, 30159 Hannover",
            "erreichbarkeit": "+49 511 120-0",
            "aktenzeichen": f"AZ {random.randint(100, 999)}/2026",
            "anlass": "Ermittlung der Anschrift im Verwaltungsverfahren",
            "kennung": user,
        },
        "requested_at": datetime.now(UTC).isoformat(),
        **search,
    }


# what the demo asks, in this order first, then at random by these shares
KINDS = (
    ("personensuche", 0.45),
    ("gesperrt", 0.03),
    ("phonetisch", 0.1),
    ("freie_suche", 0.15),
    ("neutral", 0.1),
    ("verfahren", 0.05),
    ("nrw", 0.05),
    ("hessen", 0.03),
    ("mindestkriterien", 0.07),
)


def next_query(
    tenant: tuple[str, tuple[str, str]],
    ni: list[tuple[str, Any]],
    by: list[tuple[str, Any]],
    n: int,
) -> tuple[str, dict[str, Any]]:
    """The n-th demo query: each kind once, then a random mix."""
    blocked = [(ags, p) for ags, p in ni if p.auskunftssperre is not None]
    tenant_id, (authority, user) = tenant
    if n < len(KINDS):
        kind = KINDS[n][0]
    else:
        kind = random.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    bayern = kind == "personensuche" and random.random() < 0.3
    ags, p = random.choice(blocked if kind == "gesperrt" and blocked else by if bayern else ni)
    name = {"familienname": p.familienname, "vornamen": p.vornamen[0]}
    caller: dict[str, Any] = {}
    if kind == "personensuche":
        what = "Personensuche " + ("Bayern" if bayern else "Niedersachsen")
        search = {"gemeindeschluessel": [ags], "kriterien": name | {"geburtsdatum": p.geburtsdatum}}
    elif kind == "phonetisch":
        what = "phonetische Personensuche"
        search = {
            "gemeindeschluessel": [ags],
            "phonetisch": True,
            "kriterien": name | {"geschlecht": p.geschlecht},
        }
    elif kind == "freie_suche":
        what = "freie Suche mit Platzhalter"
        search = {
            "suchart": "freie_suche",
            "gemeindeschluessel": [ags[:5]],
            "kriterien": {"familienname": p.familienname[:3] + "*", "geburtsdatum": p.geburtsdatum},
        }
    elif kind == "gesperrt":
        what = f"{GESPERRT} (neutrale Antwort, Arbeitsliste {ags})"
        search = {"gemeindeschluessel": [ags], "kriterien": name | {"geburtsdatum": p.geburtsdatum}}
    elif kind == "neutral":
        # nobody found, or a block: the same neutral answer (§ 34a Abs. 5 BMG)
        what = "Person nicht im Register (neutrale Antwort)"
        search = {"gemeindeschluessel": [ags], "kriterien": name | {"geburtsdatum": "18000101"}}
    elif kind == "verfahren":
        # a specialist application the tenant never registered (NMeldVO 2022 § 26 Abs. 2)
        what = "Fachverfahren, nicht registriert"
        search = {"gemeindeschluessel": [ags], "kriterien": name | {"geburtsdatum": p.geburtsdatum}}
        caller = {"verfahren": "Schattenverfahren"}
    elif kind == "nrw":
        what = "Personensuche Nordrhein-Westfalen (über den Verbund)"
        search = {"gemeindeschluessel": ["05315000"], "kriterien": name | {"geschlecht": "w"}}
    elif kind == "hessen":
        what = "Personensuche Hessen (kein Register angebunden)"
        search = {"gemeindeschluessel": ["06412000"], "kriterien": name | {"geschlecht": "w"}}
    else:
        what = "ohne Mindestkriterien"
        search = {"gemeindeschluessel": [ags], "kriterien": {"familienname": p.familienname}}
    search.setdefault("suchart", "personensuche")
    body = query_body(tenant_id, authority, user, **search)
    if caller:
        body["anfragende"] = body["anfragende"] | {"kennung": None, **caller}
        body["client_certificate_fingerprint"] = "00" * 32
    return what, body


GESPERRT = "Person mit Auskunftssperre"


def describe(body: dict[str, Any], asked: dict[str, str]) -> str:
    what = asked.pop(body["query_id"], "")
    if body.get("bezugsvorgang"):
        what = f"Antwort der Meldebehörde auf {body['bezugsvorgang']}"
    elif what.startswith(GESPERRT):
        asked[body["query_id"]] = what  # the office's answer follows
    if body["ausgang"] == "answered":
        status = {"01": "eindeutig", "02": "Trefferliste", "03": "neutral", "04": "Ergebnisliste"}
        outcome = f"{body['ergebnisstatus']} {status[body['ergebnisstatus']]}"
    else:
        n = body["nichterstellung"]
        outcome = f"✘ {n['code']} {n['grund']}"
    released = datetime.fromisoformat(body["released_at"])
    latency = (released - datetime.fromisoformat(body["requested_at"])).total_seconds() * 1000
    return (
        f"✉ {outcome:<28} {body['vorgangsnummer']}  {body['protokoll']:<24} "
        f"{latency:>6.0f} ms  {what}"
    )


async def follow(stop: asyncio.Event, asked: dict[str, str]) -> None:
    """Prints the released answers to what this feed asked, from now on (no consumer group)."""
    follower = await kafka().follow(Topics.QUERY_DELIVERED.name)
    skipped = Skipped()
    try:
        while not stop.is_set():
            for r in await follower.next(0.5):
                body = json_or_none(r.value)
                if body is None:
                    skipped.one(r.topic)
                elif body.get("query_id") in asked:
                    try:
                        print(describe(body, asked), flush=True)
                    except Exception:  # an answer of another shape than the demo expects
                        skipped.one(r.topic)
    finally:
        await follower.close()


async def clerk(stop: asyncio.Event, asked: dict[str, str]) -> None:
    """Plays the clerks of the registration offices: a case of a query this feed asked comes on
    the office's worklist; the clerk heard the person, excluded a danger and answers (§ 51 Abs. 2
    BMG), signed with the clerk's key (certificate role `meldebehoerde-<AGS>`)."""
    pki = get_settings().pki_dir
    producer = kafka()
    follower = await kafka().follow(Topics.OFFICE_CASE.name)
    skipped = Skipped()
    try:
        while not stop.is_set():
            for r in await follower.next(0.5):
                body = json_or_none(r.value)
                try:
                    case = OfficeCase.model_validate(body)
                except ValidationError:
                    skipped.one(r.topic)
                    continue
                anfrage = case.handover.anfrage
                if (
                    case.status is not Bearbeitungsstatus.OPEN
                    or anfrage is None
                    or anfrage.query_id not in asked
                ):
                    continue
                name = f"sb-{case.gemeindeschluessel}"
                init_operator(pki, name, f"meldebehoerde-{case.gemeindeschluessel}")
                print(
                    f"☰ worklist    {case.case_id}  Meldebehörde {case.gemeindeschluessel}",
                    flush=True,
                )
                await asyncio.sleep(1.0)  # a moment to read it
                command = {
                    "command_id": f"DEMO-{uuid.uuid4().hex[:12]}",
                    "case_id": case.case_id,
                    "operator_id": name,
                    "action": "answer",
                    "text": "Die betroffene Person wurde angehört; eine Gefahr ist nicht "
                    "erkennbar (§ 51 Abs. 2 BMG).",
                }
                await publish(
                    producer, Topics.OFFICE_COMMAND, case.case_id, command, "/demo/meldebehoerde",
                    signed_by=load_operator_key(pki, name),
                )  # fmt: skip
                print(f"✍ answered    {case.case_id}  by {name}, person heard", flush=True)
    finally:
        await follower.close()
        await producer.__aexit__()


async def main(interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ni, by = persons("03"), persons("09")
    known = Tenants()
    following = asyncio.create_task(known.follow(stop))
    asked: dict[str, str] = {}
    sent = 0
    follower = asyncio.create_task(follow(stop, asked))
    clerks = asyncio.create_task(clerk(stop, asked))
    producer = kafka()
    try:
        await asyncio.sleep(3)  # the follower is at the end before the first answer
        while not stop.is_set():
            tenant = known.pick()
            if tenant is None:
                print("… waiting for a provisioned tenant (demo feed)", flush=True)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.0)
                continue
            what, body = next_query(tenant, ni, by, sent)
            sent += 1
            asked[body["query_id"]] = what
            await publish(producer, Topics.QUERY_REQUESTED, body["query_id"], body, SOURCE)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        stop.set()
        await producer.__aexit__()
        await follower
        await following
        await clerks


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0))
