"""The gateway between the states' registers (§ 39 Abs. 3 BMG). Pure translation, no I/O.

Outbound: the router routes a query for another state's municipality to that state's request
topic; where a peer gateway is configured for it, this gateway sends it there as an XMeld-style
request (1330/1332) under the registration this state's central body holds with that state
(NMeldVO 2022 § 26 Abs. 1 there), with this state's front-end key, so that the answer comes back
sealed for it. The peer's answer (1331/1333) becomes the register response the router waits for,
with the peer's Vorgangsnummer, under which the peer's log holds the hits.

Inbound: another state's request, signed by a gateway whose certificate is pinned for that state,
becomes a query of its tenant "Land NN" that the router authorises like every machine caller
(the registered procedure and its certificate), the register answers and protocol_log logs; once
released, the answer goes back to that state's gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from shared.contract.events.abruf import (
    Anfragende,
    Ausgang,
    Auskunftsart,
    QueryDelivered,
    QueryRequested,
    RegisterRequest,
    RegisterResponse,
    Suchart,
)
from shared.contract.events.verbund import (
    AbrufberechtigteStelle,
    GatewayRequest,
    GatewayResponse,
    Nachrichtenkopf,
    Nachrichtentyp,
    Steuerungsinformationen,
)
from shared.law.abruf import ablehnung


class Peer(BaseModel):
    """Another state's gateway, as this installation knows it."""

    namespace: str = Field(description="the topic namespace its gateway reads, e.g. `min.`")
    tenant_id: str = Field(description="this state's registration there (its tenant Land NN)")
    verfahren: str = Field(description="the procedure this state calls as there")
    certificate_fingerprint: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of its gateway's certificate"
    )


@dataclass(frozen=True)
class Eingang:
    """Another state's query taken on: where its answer goes."""

    query_id: str
    land: str
    bezug: str  # that state's Vorgangsnummer
    freie_suche: bool


def kennung(land: str) -> str:
    return f"land:{land}"


def land_of_kennung(value: str) -> str:
    return value.removeprefix("land:")


def query_id(land: str, vorgangsnummer: str) -> str:
    """The query id another state's query has here: unique per state and Vorgangsnummer."""
    return f"LAND{land}-{vorgangsnummer}"


def request_refusal(request: RegisterRequest, land: str, now: datetime) -> RegisterResponse | None:
    """A request this gateway does not forward: a simple registry information goes to the other
    state's portal, not over the states' retrieval link."""
    if request.auskunftsart is not Auskunftsart.EINFACHE_MELDEREGISTERAUSKUNFT:
        return None
    return RegisterResponse(
        vorgangsnummer=request.vorgangsnummer,
        query_id=request.query_id,
        land=land,
        nichterstellung=ablehnung(
            "22",
            "SUCHBEREICH",
            "Der Suchbereich liegt außerhalb der Zuständigkeit dieses Registers; einfache "
            "Melderegisterauskünfte eines anderen Landes erteilt dessen Portal.",
        ),
        answered_at=now,
    )


def outbound(
    request: RegisterRequest,
    own_state: str,
    land: str,
    peer: Peer,
    front_end_key: str,
    message_id: str,
    now: datetime,
) -> GatewayRequest:
    """This state's query as the request to another state's gateway."""
    a = request.anfragende
    stelle = request.abrufende_stelle
    typ = (
        Nachrichtentyp.PERSONENSUCHE
        if request.suchart is Suchart.PERSONENSUCHE
        else Nachrichtentyp.FREIE_SUCHE
    )
    return GatewayRequest(
        kopf=Nachrichtenkopf(
            nachricht_uuid=message_id,
            nachrichtentyp=typ,
            erstellungszeitpunkt=now,
            autor=kennung(own_state),
            leser=kennung(land),
        ),
        vorgangsnummer=request.vorgangsnummer,
        tenant_id=peer.tenant_id,
        verfahren=peer.verfahren,
        abrufende_stelle=AbrufberechtigteStelle(
            sicherheitsbehoerde=request.sicherheitsbehoerde,
            behoerdenart=stelle,
            behoerdenname=a.behoerde,
            anschrift=a.anschrift,
            erreichbarkeit=a.erreichbarkeit,
        ),
        aktenzeichen=a.aktenzeichen,
        anlass_des_abrufs=a.anlass,
        kennung=a.abrufer or None,
        suchart=request.suchart,
        auswahldaten=request.kriterien,
        identifikationsmerkmal=request.identifikationsmerkmal,
        steuerung=Steuerungsinformationen(
            anforderungselemente=request.angeforderte_daten,
            verzicht_auf_mitteilung=request.verzicht_auf_weitere_bearbeitung,
            suchbereich=request.gemeindeschluessel,
            phonetisch=request.phonetisch,
        ),
        antwortschluessel=front_end_key,
        requested_at=request.requested_at,
    )


def inbound(request: GatewayRequest, fingerprint: str, now: datetime) -> QueryRequested:
    """Another state's request as a query of its tenant here, the body's kind and access as that
    state attests them (the router checks that they fit)."""
    stelle = request.abrufende_stelle
    land = land_of_kennung(request.kopf.autor)
    return QueryRequested(
        query_id=query_id(land, request.vorgangsnummer),
        tenant_id=request.tenant_id,
        anfragende=Anfragende(
            behoerde=stelle.behoerdenname,
            anschrift=stelle.anschrift,
            erreichbarkeit=stelle.erreichbarkeit,
            aktenzeichen=request.aktenzeichen,
            anlass=request.anlass_des_abrufs,
            verfahren=request.verfahren,
            fremde_kennung=request.kennung,
        ),
        suchart=request.suchart,
        gemeindeschluessel=request.steuerung.suchbereich,
        kriterien=request.auswahldaten,
        identifikationsmerkmal=request.identifikationsmerkmal,
        phonetisch=request.steuerung.phonetisch,
        angeforderte_daten=request.steuerung.anforderungselemente,
        verzicht_auf_weitere_bearbeitung=request.steuerung.verzicht_auf_mitteilung,
        client_certificate_fingerprint=fingerprint,
        abrufende_stelle=stelle.behoerdenart,
        als_sicherheitsbehoerde=stelle.sicherheitsbehoerde,
        antwortschluessel=request.antwortschluessel,
        antwortkontext=request.vorgangsnummer,
        requested_at=now,
    )


def answer(
    delivered: QueryDelivered, eingang: Eingang, own_state: str, message_id: str, now: datetime
) -> GatewayResponse:
    """The released answer (or refusal), logged here, for the requesting state's gateway."""
    answered = delivered.ausgang is Ausgang.ANSWERED
    return GatewayResponse(
        kopf=Nachrichtenkopf(
            nachricht_uuid=message_id,
            nachrichtentyp=(
                Nachrichtentyp.FREIE_SUCHE_ANTWORT
                if eingang.freie_suche
                else Nachrichtentyp.PERSONENSUCHE_ANTWORT
            ),
            erstellungszeitpunkt=now,
            autor=kennung(own_state),
            leser=kennung(eingang.land),
        ),
        bezug=eingang.bezug,
        vorgangsnummer=delivered.vorgangsnummer,
        ergebnisstatus=delivered.ergebnisstatus if answered else None,
        nichterstellung=delivered.nichterstellung,
        anzahl=delivered.anzahl,
        datenelemente=delivered.datenelemente,
        antwort=delivered.antwort,
        answered_at=delivered.released_at,
    )


def register_response(
    response: GatewayResponse, query_id_here: str, now: datetime
) -> RegisterResponse:
    """Another state's answer as the register response this state's router waits for."""
    return RegisterResponse(
        vorgangsnummer=response.bezug,
        query_id=query_id_here,
        land=land_of_kennung(response.kopf.autor),
        ergebnisstatus=response.ergebnisstatus,
        nichterstellung=response.nichterstellung,
        anzahl=response.anzahl,
        datenelemente=response.datenelemente,
        antwort=response.antwort,
        answered_at=now,
        fremder_vorgang=response.vorgangsnummer,
    )
