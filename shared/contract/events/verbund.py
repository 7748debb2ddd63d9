"""Retrieval between the states (§ 39 Abs. 3 BMG): another state's central body asks this state's
register for the bodies of its state, and this state's gateway asks theirs. The messages follow
XMeld's retrieval messages (1330/1332 requests, 1331/1333 answers, `nachrichtenkopf.g2g`), as
JSON; where they differ, `docs/architecture.md` says so.

A request names the requesting state's registration here (its tenant "Land NN", NMeldVO 2022
§ 26 Abs. 1) and the procedure it calls as; each record is signed by the sending gateway, whose
certificate's fingerprint is what the receiving side has registered for that procedure. The
answer is sealed end to end for the requesting state's front end, under that state's
Vorgangsnummer, as OSCI encrypts content for its addressee: neither gateway can read it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.abruf import (
    Datenelement,
    Ergebnisstatus,
    Nichterstellung,
    Suchart,
    Suchkriterien,
)
from shared.contract.events.application import Behoerdenart
from shared.contract.events.base import Event

LAND_KENNUNG = r"^land:\d{2}$"


class Nachrichtentyp(StrEnum):
    """XMeld's message numbers of the retrieval group."""

    PERSONENSUCHE = "1330"
    PERSONENSUCHE_ANTWORT = "1331"
    FREIE_SUCHE = "1332"
    FREIE_SUCHE_ANTWORT = "1333"


class Nachrichtenkopf(Event):
    """XMeld's `nachrichtenkopf.g2g`: the message's id, type and time, its author and reader. A
    state is addressed as `land:<Landesschlüssel>` (XMeld: DVDV keys such as `ags:<AGS>`)."""

    nachricht_uuid: str = Field(min_length=1, max_length=80)
    nachrichtentyp: Nachrichtentyp
    erstellungszeitpunkt: datetime
    autor: str = Field(pattern=LAND_KENNUNG)
    leser: str = Field(pattern=LAND_KENNUNG)


class AbrufberechtigteStelle(Event):
    """XMeld's `datenAbrufendeStelle`: the body the query is for, as its state attests."""

    sicherheitsbehoerde: bool = Field(
        description="retrieves as a § 34 Abs. 4 Satz 1 BMG authority (the data of § 34 Abs. 1 "
        "Satz 2), as its state admitted it"
    )
    behoerdenart: Behoerdenart | None = Field(
        None,
        description="the body's kind (XMeld carries only the flag): who is told of a request on "
        "a blocked person depends on it; a security authority names it",
    )
    behoerdenname: str = Field(min_length=1)
    anschrift: str = Field(min_length=1)
    erreichbarkeit: str = Field(min_length=1)


class Steuerungsinformationen(Event):
    anforderungselemente: list[Datenelement] = Field(default_factory=list)
    verzicht_auf_mitteilung: bool = Field(False, description="§ 38 Abs. 5 BMG")
    suchbereich: list[str] = Field(description="AGS, Kreise (5 digits) or the state (2)")
    phonetisch: bool = False


class GatewayRequest(Event):
    """`min.gateway.request.v1`: another state's query for this state's register (XMeld 1330 or
    1332), from its gateway."""

    kopf: Nachrichtenkopf
    vorgangsnummer: str = Field(min_length=1, max_length=60, description="the requesting state's")
    tenant_id: str = Field(description="the requesting state's registration here (Land NN)")
    verfahren: str = Field(min_length=1, description="the procedure it calls as")
    abrufende_stelle: AbrufberechtigteStelle
    aktenzeichen: str = Field(min_length=1)
    anlass_des_abrufs: str = Field(min_length=1)
    kennung: str | None = Field(None, description="the requesting person's, in that state")
    suchart: Suchart
    auswahldaten: Suchkriterien = Field(default_factory=Suchkriterien)
    identifikationsmerkmal: str | None = None
    steuerung: Steuerungsinformationen
    antwortschluessel: str = Field(
        pattern=r"^[0-9a-fA-F]{64}$",
        description="X25519 public key of the requesting state's front end",
    )
    requested_at: datetime


class GatewayResponse(Event):
    """`min.gateway.response.v1`: this state's answer to another state's query (XMeld 1331 or
    1333), after this state logged it (§ 40 BMG)."""

    kopf: Nachrichtenkopf
    bezug: str = Field(description="the requesting state's Vorgangsnummer")
    vorgangsnummer: str = Field(description="the answering state's, under which it logged")
    ergebnisstatus: Ergebnisstatus | None = None
    nichterstellung: Nichterstellung | None = None
    anzahl: int = 0
    datenelemente: list[Datenelement] = Field(default_factory=list)
    antwort: str | None = Field(None, description="sealed for the requesting state's front end")
    answered_at: datetime
