"""land_gateway's handlers: this state's queries out to other states' gateways and their answers
back; other states' queries in, and their released answers back out."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from services.land_gateway import domain
from services.land_gateway.domain import Eingang, Peer
from services.land_gateway.store import Gateways
from shared.contract.events.abruf import QueryDelivered, RegisterRequest, Suchart
from shared.contract.events.verbund import GatewayRequest, GatewayResponse
from shared.contract.topics import Topics, in_namespace
from shared.platform.broker import UnprovenCommand
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing
from shared.platform.operator_signatures import Refusal

log = get_logger(__name__)
Sign = Callable[[str, bytes, Mapping[str, str], bytes], dict[str, str]]


def _message_id() -> str:
    return str(uuid.uuid4())


async def handle_outbound(
    store: Gateways,
    requests: Sequence[RegisterRequest],
    land: str,
    peer: Peer,
    own_state: str,
    front_end_key: str,
    sign: Sign,
    now: datetime,
    max_age: timedelta,
) -> list[list[Outgoing]]:
    """This state's queries for another state's register, to that state's gateway, signed. A
    query older than the router waits for is not sent: its Vorgang has ended with the technical
    error, and its criteria have no business in another state (a gateway that starts on a
    backlog, or after an outage)."""
    out: list[list[Outgoing]] = []
    sent: list[tuple[str, str, str]] = []
    for request in requests:
        if now - request.requested_at > max_age:
            log.warning("query too old to send", vorgangsnummer=request.vorgangsnummer, land=land)
            out.append([])
            continue
        refused = domain.request_refusal(request, land, now)
        if refused is not None:
            out.append([Outgoing(Topics.REGISTER_PORTAL_RESPONSE, refused)])
            continue
        message = domain.outbound(request, own_state, land, peer, front_end_key, _message_id(), now)
        sent.append((request.vorgangsnummer, request.query_id, land))
        topic = in_namespace(Topics.GATEWAY_REQUEST, peer.namespace)
        out.append([Outgoing(topic, message, subject=request.vorgangsnummer, sign=sign)])
    await store.sent(sent, now)
    if sent:
        log.info("queries sent to another state", land=land, count=len(sent))
    return out


def _pinned(autor: str, fingerprint: str | Refusal, peers: Mapping[str, Peer]) -> tuple[str, str]:
    """The sending state and its gateway's fingerprint, if the record is signed by the gateway
    pinned for it; otherwise the record goes to the dead-letter topic with the reason."""
    land = domain.land_of_kennung(autor)
    if isinstance(fingerprint, Refusal):
        raise UnprovenCommand(f"{fingerprint.code}: {fingerprint.message}")
    peer = peers.get(land)
    if peer is None:
        raise UnprovenCommand(f"GATEWAY_UNKNOWN: Für das Land {land} ist kein Gateway eingetragen.")
    if fingerprint != peer.certificate_fingerprint:
        raise UnprovenCommand(
            f"GATEWAY_NOT_PINNED: Signiert mit dem Zertifikat {fingerprint}, nicht mit dem für "
            f"das Land {land} eingetragenen."
        )
    return land, fingerprint


async def handle_inbound(
    store: Gateways,
    request: GatewayRequest,
    fingerprint: str | Refusal,
    peers: Mapping[str, Peer],
    own_state: str,
    now: datetime,
) -> Sequence[Outgoing]:
    """Another state's query, from its pinned gateway: a query of its tenant here, once."""
    land, pinned_fingerprint = _pinned(request.kopf.autor, fingerprint, peers)
    if request.kopf.leser != domain.kennung(own_state):
        raise UnprovenCommand(f"MISADDRESSED: Die Anfrage ist an {request.kopf.leser} gerichtet.")
    freie = request.suchart is Suchart.FREIE_SUCHE
    eingang = Eingang(
        domain.query_id(land, request.vorgangsnummer), land, request.vorgangsnummer, freie
    )
    if not await store.receive(eingang, now):
        log.info("another state's query again", land=land, bezug=request.vorgangsnummer)
        return []
    query = domain.inbound(request, pinned_fingerprint, now)
    log.info("another state's query taken on", land=land, query_id=query.query_id)
    return [Outgoing(Topics.QUERY_REQUESTED, query, subject=query.query_id)]


async def handle_released(
    store: Gateways,
    released: QueryDelivered,
    peers: Mapping[str, Peer],
    own_state: str,
    sign: Sign,
    now: datetime,
) -> Sequence[Outgoing]:
    """Another state's query, answered (or refused) and logged here: back to its gateway, signed,
    once (a registration office's later answer to it is not forwarded)."""
    eingang = await store.take_received(released.query_id, now)
    peer = peers.get(eingang.land) if eingang else None
    if eingang is None or peer is None:
        log.warning("release for no waiting query of another state", query_id=released.query_id)
        return []
    response = domain.answer(released, eingang, own_state, _message_id(), now)
    log.info("answer to another state", land=eingang.land, vorgangsnummer=released.vorgangsnummer)
    topic = in_namespace(Topics.GATEWAY_RESPONSE, peer.namespace)
    return [Outgoing(topic, response, subject=eingang.bezug, sign=sign)]


async def handle_response(
    store: Gateways,
    response: GatewayResponse,
    fingerprint: str | Refusal,
    peers: Mapping[str, Peer],
    now: datetime,
) -> Sequence[Outgoing]:
    """Another state's answer, from its pinned gateway: the register response the router waits
    for (once; a late or repeated one is dropped, the router has closed the Vorgang)."""
    _pinned(response.kopf.autor, fingerprint, peers)  # or a dead letter
    query_id = await store.take_sent(response.bezug, now)
    if query_id is None:
        log.warning("answer to an unknown or answered query", bezug=response.bezug)
        return []
    answer = domain.register_response(response, query_id, now)
    return [Outgoing(Topics.REGISTER_RESPONSE, answer, subject=response.bezug)]


async def forget(store: Gateways, before: datetime) -> list[Outgoing]:
    count = await store.forget(before)
    if count:
        log.info("answered exchanges deleted", count=count)
    return []
