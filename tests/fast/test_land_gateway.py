"""land_gateway on FastStream's in-memory broker (§ 39 Abs. 3 BMG, NMeldVO 2022 § 26 Abs. 1):
another state's request, signed by its pinned gateway, becomes a query of its tenant here, once; one
signed by any other key, unsigned or addressed to another state is a dead letter with the reason;
its released answer goes back signed; this state's queries go out signed (none that the router
has given up on, no portal request), and the peer's answer becomes the register response. The
in-memory store and the real PostgreSQL one (marked integration)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from services.land_gateway.app import GatewaySettings, LandGateway, PeerSetting
from shared.contract.deadletter import DeadLetter
from shared.contract.envelope import decode_headers
from shared.contract.events.abruf import QueryDelivered, RegisterRequest
from shared.contract.events.verbund import GatewayRequest, GatewayResponse
from shared.contract.topics import Topics, in_namespace
from shared.platform.operator_signatures import GATEWAY, OperatorKey, pinned
from shared.platform.settings import get_settings
from tests.fakes.land_gateway import MemoryGatewayStore
from tests.helpers import database_url
from tests.identities import operator_key
from tests.inmemory import InMemory

SAMPLES = Path(__file__).parents[1] / "contract" / "samples"
NOW = datetime.now(UTC)
BY = "min09."
TO_BAYERN = in_namespace(Topics.GATEWAY_REQUEST, BY)
ANSWER_TO_BAYERN = in_namespace(Topics.GATEWAY_RESPONSE, BY)
WATCH = (
    Topics.QUERY_REQUESTED,
    Topics.REGISTER_RESPONSE,
    Topics.REGISTER_PORTAL_RESPONSE,
    TO_BAYERN.name,
    ANSWER_TO_BAYERN.name,
    Topics.GATEWAY_REQUEST.dlq,
    Topics.GATEWAY_RESPONSE.dlq,
)


def fingerprint(key: OperatorKey) -> str:
    return hashlib.sha256(key.certificate.public_bytes(Encoding.DER)).hexdigest()


BAYERN = operator_key("gateway-09", "land-gateway")
OURS = operator_key("gateway-03", "land-gateway")
PEERS = {  # Bayern's certificate as the file its central body handed over
    "09": PeerSetting(
        namespace=BY,
        tenant_id="L03-at-09",
        verfahren="Verbund Niedersachsen",
        certificate_file=get_settings().pki_dir / "operators" / "gateway-09.pem",
    )
}
Gateways = Callable[[], InMemory]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.integration)])
def gateways(request: pytest.FixtureRequest) -> Gateways:
    def build() -> InMemory:
        if request.param == "postgres":
            settings = GatewaySettings(database_url=database_url(), gateway_peers=PEERS)
            return InMemory(LandGateway(settings, clock=lambda: NOW), *WATCH)
        store = MemoryGatewayStore()
        service = LandGateway(GatewaySettings(gateway_peers=PEERS), clock=lambda: NOW)
        service.store = lambda conn: store
        return InMemory(service, *WATCH, stores=[store])

    return build


def sample(event_type: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{event_type}.json").read_text("utf-8"))


def bavarian_request(**changes: Any) -> GatewayRequest:
    body = sample("de.meldespiegel.gateway.request.v1")
    body |= {"vorgangsnummer": f"09-20261205-{uuid.uuid4().hex[:20].upper()}",
             "tenant_id": "L09-at-03"}  # fmt: skip
    body["kopf"] |= changes.pop("kopf", {})
    return GatewayRequest.model_validate(body | changes)


async def test_a_request_from_the_pinned_gateway_becomes_a_query_of_its_land_once(
    gateways: Gateways,
) -> None:
    """NMeldVO 2022 § 26 Abs. 1; § 34 Abs. 2 Satz 3 BMG: no doubt about who asks."""
    r = bavarian_request(kennung="m.huber")
    others = [bavarian_request(), bavarian_request(), bavarian_request(kopf={"leser": "land:05"})]
    async with gateways() as run:
        key = r.vorgangsnummer
        await run.deliver(Topics.GATEWAY_REQUEST, r, key=key, signed_by=BAYERN, seal=GATEWAY)
        await run.deliver(Topics.GATEWAY_REQUEST, r, key=key, signed_by=BAYERN, seal=GATEWAY)
        stranger = operator_key("gateway-05", "land-gateway")
        await run.deliver(Topics.GATEWAY_REQUEST, others[0], signed_by=stranger, seal=GATEWAY)
        await run.deliver(Topics.GATEWAY_REQUEST, others[1])  # unsigned
        await run.deliver(Topics.GATEWAY_REQUEST, others[2], signed_by=BAYERN, seal=GATEWAY)
    [q] = run.bodies(Topics.QUERY_REQUESTED)
    assert q["query_id"] == f"LAND09-{r.vorgangsnummer}"
    assert q["tenant_id"] == "L09-at-03"
    assert q["anfragende"]["verfahren"] == r.verfahren
    assert q["anfragende"]["fremde_kennung"] == "m.huber"
    assert q["anfragende"]["behoerde"] == r.abrufende_stelle.behoerdenname
    assert q["client_certificate_fingerprint"] == fingerprint(BAYERN)
    assert (q["antwortschluessel"], q["antwortkontext"]) == (r.antwortschluessel, key)
    assert (q["abrufende_stelle"], q["als_sicherheitsbehoerde"]) == ("kommunalverwaltung", False)
    assert q["gemeindeschluessel"] == r.steuerung.suchbereich
    reasons = [
        DeadLetter.of(decode_headers(m.raw_message.headers)).error  # type: ignore[union-attr]
        for m in run.messages[Topics.GATEWAY_REQUEST.dlq]
    ]
    assert [e.split(":")[0].rsplit(" ", 1)[-1] for e in reasons] == [
        "GATEWAY_NOT_PINNED",
        "SIGNATURE_MISSING",
        "MISADDRESSED",
    ]


async def test_the_released_answer_goes_back_signed_once(gateways: Gateways) -> None:
    r = bavarian_request()
    released = sample("de.meldespiegel.gateway.released.v1")
    async with gateways() as run:
        await run.deliver(Topics.GATEWAY_REQUEST, r, signed_by=BAYERN, seal=GATEWAY)
        ours = QueryDelivered.model_validate(released | {"query_id": f"LAND09-{r.vorgangsnummer}"})
        await run.deliver(Topics.GATEWAY_RELEASED, ours)
        await run.deliver(Topics.GATEWAY_RELEASED, ours)  # again (the office's later answer)
        await run.deliver(Topics.GATEWAY_RELEASED, QueryDelivered.model_validate(released))
    [message] = run.messages[ANSWER_TO_BAYERN.name]
    body = json.loads(message.body)
    assert body["bezug"] == r.vorgangsnummer
    assert body["vorgangsnummer"] == ours.vorgangsnummer
    assert (body["kopf"]["autor"], body["kopf"]["leser"]) == ("land:03", "land:09")
    assert (body["anzahl"], body["datenelemente"], body["antwort"]) == (
        1,
        ["namen", "anschriften"],
        ours.antwort,
    )
    raw = message.raw_message
    signer = pinned(GATEWAY, raw.topic, raw.key, decode_headers(raw.headers), raw.value)
    assert signer == fingerprint(OURS)


async def test_our_queries_go_out_signed_and_the_answer_comes_back_as_the_register_response(
    gateways: Gateways,
) -> None:
    base = sample("de.meldespiegel.register.request.v1")
    nummer = f"03-20261205-{uuid.uuid4().hex[:20].upper()}"
    fresh = RegisterRequest.model_validate(
        base | {"vorgangsnummer": nummer, "gemeindeschluessel": ["09162000"],
                "requested_at": NOW.isoformat()}
    )  # fmt: skip
    stale = fresh.model_copy(
        update={"vorgangsnummer": nummer + "X", "requested_at": NOW - timedelta(minutes=5)}
    )
    portal = RegisterRequest.model_validate(
        fresh.model_dump() | {"vorgangsnummer": nummer + "P",
                              "auskunftsart": "einfache_melderegisterauskunft"}
    )  # fmt: skip
    answer = sample("de.meldespiegel.gateway.response.v1")
    answer |= {"bezug": nummer, "vorgangsnummer": "09-20261205-ANSWERED0000000000000"}
    answer["kopf"] |= {"autor": "land:09", "leser": "land:03"}
    requests = Topics.register_request("09")
    async with gateways() as run:
        for r in (fresh, stale, portal):
            await run.deliver(requests, r, key=r.vorgangsnummer)
        response = GatewayResponse.model_validate(answer)
        await run.deliver(Topics.GATEWAY_RESPONSE, response, signed_by=OURS, seal=GATEWAY)
        await run.deliver(Topics.GATEWAY_RESPONSE, response, signed_by=BAYERN, seal=GATEWAY)
        await run.deliver(Topics.GATEWAY_RESPONSE, response, signed_by=BAYERN, seal=GATEWAY)
    [sent] = run.messages[TO_BAYERN.name]
    body = json.loads(sent.body)
    assert (body["vorgangsnummer"], body["tenant_id"], body["verfahren"]) == (
        nummer,
        "L03-at-09",
        "Verbund Niedersachsen",
    )
    assert (body["kopf"]["autor"], body["kopf"]["nachrichtentyp"]) == ("land:03", "1330")
    raw = sent.raw_message
    assert pinned(GATEWAY, raw.topic, raw.key, decode_headers(raw.headers), raw.value) == (
        fingerprint(OURS)
    )
    [refused] = run.bodies(Topics.REGISTER_PORTAL_RESPONSE)
    assert refused["nichterstellung"]["code"] == "22"
    [reg] = run.bodies(Topics.REGISTER_RESPONSE)  # once; our own key's signature refused
    assert (reg["vorgangsnummer"], reg["land"], reg["fremder_vorgang"]) == (
        nummer,
        "09",
        "09-20261205-ANSWERED0000000000000",
    )
    assert reg["query_id"] == fresh.query_id
    [dead] = run.messages[Topics.GATEWAY_RESPONSE.dlq]
    letter = DeadLetter.of(decode_headers(dead.raw_message.headers))
    assert letter is not None
    assert "GATEWAY_NOT_PINNED" in letter.error
