"""`python -m demo.verbund [SECONDS]`: plays Nordrhein-Westfalen's central body and its gateway,
the peer the local run's land_gateway is given (§ 39 Abs. 3 BMG, NMeldVO 2022 § 26 Abs. 1):

- it applies to the operator as the central body of Land 05 (the demo feed signs the
  recommendation like every other), and once its tenant "Land 05" exists, the Verfahrensbetreuung
  registers its gateway as the tenant's procedure, with the gateway's certificate;
- then every SECONDS it asks, for an authority of its state, about a person in Niedersachsen,
  signed with its gateway's key (`gateway-05` of the local PKI), and prints the answer it gets
  back, opened with its own front-end key, which the answer was sealed for;
- and it answers Niedersachsen's queries for its municipalities (the queries feed's
  "Nordrhein-Westfalen") with the neutral answer, sealed for Niedersachsen's front end: there is
  no register of Land 05 here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import signal
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from demo.feed import OPERATOR, Skipped, kafka, publish, sample, submit
from demo.queries import persons
from services.register_mirror.domain import NEUTRAL_INHALT
from shared.contract.events.account import TenantState
from shared.contract.events.verbund import GatewayRequest, GatewayResponse
from shared.contract.topics import Topics, in_namespace
from shared.law.vorgangsnummer import vorgangsnummer
from shared.platform import kafka_security
from shared.platform.broker import json_or_none
from shared.platform.kafka_admin import ensure_topics
from shared.platform.operator_signatures import GATEWAY
from shared.platform.pki import load_operator_key
from shared.platform.sealed import open_sealed, seal
from shared.platform.settings import get_settings

LAND = "05"
NAMESPACE = "nrw."  # the topics Nordrhein-Westfalen's gateway reads (MELDESPIEGEL_GATEWAY_PEERS)
VERFAHREN = "Verbund Nordrhein-Westfalen"
SOURCE = "/demo/nrw-gateway"
TO_US = in_namespace(Topics.GATEWAY_REQUEST, NAMESPACE)  # Niedersachsen's queries for us
ANSWERS_TO_US = in_namespace(Topics.GATEWAY_RESPONSE, NAMESPACE)
CENTRAL_BODY = (
    "Zentrale Stelle Nordrhein-Westfalen, IT.NRW",
    "zentrale_stelle_land",
    "Mauerstraße 51",
    "40476",
    "Düsseldorf",
)
BODY = {  # the authority of Land 05 the demo asks for
    "sicherheitsbehoerde": False,
    "behoerdenart": "kommunalverwaltung",
    "behoerdenname": "Stadt Köln, Amt für öffentliche Ordnung",
    "anschrift": "Willy-Brandt-Platz 2, 50679 Köln",
    "erreichbarkeit": "+49 221 221-0",
}


class NrwGateway:
    def __init__(self) -> None:
        settings = get_settings()
        self.key = load_operator_key(settings.pki_dir, f"gateway-{LAND}")
        self.fingerprint = hashlib.sha256(
            self.key.certificate.public_bytes(Encoding.DER)
        ).hexdigest()
        self.front_end = X25519PrivateKey.generate()  # its own front end's, for this run
        self.producer = kafka()
        self.tenant: TenantState | None = None
        self.asked: dict[str, str] = {}  # Vorgangsnummer -> what was asked

    async def publish_signed(self, topic: Any, key: str, body: dict[str, Any]) -> None:
        await publish(self.producer, topic, key, body, SOURCE, signed_by=self.key, seal=GATEWAY)

    # -- its registration ------------------------------------------------------------------

    def land_05(self, records: list[Any], skipped: Skipped) -> TenantState | None:
        """The newest state of its tenant among these records of the tenant topic."""
        for r in records:
            try:
                state = TenantState.model_validate(json_or_none(r.value))
            except ValidationError:
                if r.value:
                    skipped.one(r.topic)
                continue
            if state.land == LAND:
                self.tenant = state
        return self.tenant

    async def registered(self, stop: asyncio.Event) -> TenantState | None:
        """Its tenant Land 05 with the gateway as a procedure: applies, and has the procedure
        registered, where that is still missing (a run before may have done both)."""
        skipped = Skipped()
        follower = await kafka().follow(Topics.TENANT_STATE.name)
        try:
            if self.land_05(await kafka().read(Topics.TENANT_STATE.name), skipped) is None:
                body = sample(CENTRAL_BODY, ("frau", "Maren", "Quast"),
                              **{"authority.state": LAND})  # fmt: skip
                await submit(self.producer, body, "central body of Nordrhein-Westfalen")
            registering = False
            while not stop.is_set():
                tenant = self.tenant
                if tenant is not None and any(v.name == VERFAHREN for v in tenant.verfahren):
                    print(f"⇄ Land 05     tenant {tenant.tenant_id}, gateway registered "
                          f"({self.fingerprint[:16]}…)", flush=True)  # fmt: skip
                    return tenant
                if tenant is not None and not registering:
                    await self.register_gateway(tenant.tenant_id)
                    registering = True
                self.land_05(await follower.next(0.5), skipped)
        finally:
            await follower.close()
        return None

    async def register_gateway(self, tenant_id: str) -> None:
        """The Verfahrensbetreuung registers the gateway as the tenant's procedure (NMeldVO 2022
        § 26 Abs. 2), as `meldespiegel tenant register-procedure` does."""
        operator = load_operator_key(get_settings().pki_dir, OPERATOR)
        command = {
            "command_id": f"DEMO-{uuid.uuid4().hex[:12]}",
            "tenant_id": tenant_id,
            "actor": {"kind": "operator", "id": OPERATOR},
            "action": "register_procedure",
            "reason": "Gateway der zentralen Stelle Nordrhein-Westfalen",
            "new_procedure": {
                "name": VERFAHREN,
                "verantwortliche_person": "Leitung der zentralen Stelle, IT.NRW",
                "certificate_fingerprint": self.fingerprint,
            },
        }
        await publish(self.producer, Topics.ACCOUNT_COMMAND, tenant_id, command,
                      "/demo/operators", signed_by=operator)  # fmt: skip

    # -- asking Niedersachsen ----------------------------------------------------------------

    async def ask(self, tenant: TenantState, p: tuple[str, Any]) -> None:
        ags, person = p
        nummer = vorgangsnummer(LAND, datetime.now(UTC))
        public = self.front_end.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        now = datetime.now(UTC).isoformat()
        request = {
            "kopf": {"nachricht_uuid": str(uuid.uuid4()), "nachrichtentyp": "1330",
                     "erstellungszeitpunkt": now, "autor": f"land:{LAND}", "leser": "land:03"},
            "vorgangsnummer": nummer,
            "tenant_id": tenant.tenant_id,
            "verfahren": VERFAHREN,
            "abrufende_stelle": BODY,
            "aktenzeichen": f"32-{random.randint(1000, 9999)}/2026",
            "anlass_des_abrufs": "Ermittlung der Anschrift im Bußgeldverfahren",
            "kennung": "k.schmitz",
            "suchart": "personensuche",
            "auswahldaten": {"familienname": person.familienname,
                             "vornamen": person.vornamen[0],
                             "geburtsdatum": person.geburtsdatum},
            "steuerung": {"anforderungselemente": ["namen", "anschriften"],
                          "suchbereich": [ags]},
            "antwortschluessel": public,
            "requested_at": now,
        }  # fmt: skip
        GatewayRequest.model_validate(request)  # what the contract says, before it leaves
        self.asked[nummer] = f"{person.familienname}, {ags}"
        await self.publish_signed(Topics.GATEWAY_REQUEST, nummer, request)

    def answered(self, body: dict[str, Any]) -> str | None:
        """An answer to one of its queries, opened with its front end's key."""
        response = GatewayResponse.model_validate(body)
        what = self.asked.pop(response.bezug, None)
        if what is None:
            return None
        if response.antwort is None:
            n = response.nichterstellung
            outcome = f"✘ {n.code} {n.grund}" if n else "?"
        else:
            opened = json.loads(
                open_sealed(self.front_end, response.antwort, response.bezug.encode())
            )
            found = opened.get("person", {})
            outcome = f"{response.ergebnisstatus} {found.get('familienname', 'neutral')}"
        return (
            f"⇄ Land 05     {response.bezug}  answered by 03 ({outcome}), logged there as "
            f"{response.vorgangsnummer} for Land 05  [{what}]"
        )

    # -- answering Niedersachsen -------------------------------------------------------------

    async def answer(self, body: dict[str, Any]) -> str:
        """Niedersachsen's query for a municipality of Land 05: the neutral answer."""
        request = GatewayRequest.model_validate(body)
        now = datetime.now(UTC)
        inhalt = json.dumps(NEUTRAL_INHALT, ensure_ascii=False, sort_keys=True).encode()
        response = {
            "kopf": {"nachricht_uuid": str(uuid.uuid4()), "nachrichtentyp": "1331",
                     "erstellungszeitpunkt": now.isoformat(), "autor": f"land:{LAND}",
                     "leser": request.kopf.autor},
            "bezug": request.vorgangsnummer,
            "vorgangsnummer": vorgangsnummer(LAND, now),
            "ergebnisstatus": "03",
            "antwort": seal(bytes.fromhex(request.antwortschluessel), inhalt,
                            request.vorgangsnummer.encode()),
            "answered_at": now.isoformat(),
        }  # fmt: skip
        await self.publish_signed(Topics.GATEWAY_RESPONSE, request.vorgangsnummer, response)
        return f"⇄ Land 05     {request.vorgangsnummer}  asked by 03, answered: 03 neutral"

    async def follow(self, stop: asyncio.Event) -> None:
        follower = await kafka().follow(TO_US.name, ANSWERS_TO_US.name)
        skipped = Skipped()
        try:
            while not stop.is_set():
                for r in await follower.next(0.5):
                    body = json_or_none(r.value)
                    try:
                        line = (
                            await self.answer(body or {})
                            if r.topic == TO_US.name
                            else self.answered(body or {})
                        )
                    except (ValidationError, ValueError):
                        skipped.one(r.topic)
                        continue
                    if line:
                        print(line, flush=True)
        finally:
            await follower.close()


async def main(interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = get_settings()
    # Nordrhein-Westfalen's gateway topics, as its own installation would have them
    await ensure_topics(
        settings.kafka_bootstrap, settings.kafka_replication_factor,
        settings.kafka_min_insync_replicas, specs=[TO_US, ANSWERS_TO_US],
        **kafka_security.client_options(settings),
    )  # fmt: skip
    gateway = NrwGateway()
    following = asyncio.create_task(gateway.follow(stop))
    ni = persons("03")
    try:
        tenant = await gateway.registered(stop)
        while tenant is not None and not stop.is_set():
            await gateway.ask(tenant, random.choice(ni))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        stop.set()
        await gateway.producer.__aexit__()
        await following


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 6.0))
