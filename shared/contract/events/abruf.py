"""Events of the retrieval path (§ 34a BMG): a query as the front end sends it, the request to a
state's register and its answer, the router's outcome and the released answer.

Answers travel sealed (`shared.platform.sealed`) for the MiN front end: the register seals them,
and only the front end, which hands them to the user, can open them. The metadata beside the box
(status, hit references, data items) is what § 40 BMG logs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.account import Postanschrift
from shared.contract.events.application import Behoerdenart, Zugangsart
from shared.contract.events.base import Event
from shared.contract.events.review import Datenumfang


class Suchart(StrEnum):
    PERSONENSUCHE = "personensuche"  # § 34a Abs. 2 BMG, one person identified by name
    FREIE_SUCHE = "freie_suche"  # § 34a Abs. 3 BMG, persons not identified by name


class Zweck(StrEnum):
    """Why a health insurer retrieves: statutory tasks are fee-free retrieval (§ 34 Abs. 6 BMG);
    a voluntary service is fee-based registry information (§§ 44, 49 BMG), not this path."""

    GESETZLICHE_AUFGABE = "gesetzliche_aufgabe"
    FREIWILLIGE_LEISTUNG = "freiwillige_leistung"


class Datenelement(StrEnum):
    """Data items a query may ask for: § 34 Abs. 1 Satz 1 (all public bodies) and Satz 2
    (security authorities only) BMG."""

    NAMEN = "namen"  # Satz 1 Nr. 1–5
    GEBURT = "geburt"  # Nr. 6
    GESCHLECHT = "geschlecht"  # Nr. 7
    STAATSANGEHOERIGKEITEN = "staatsangehoerigkeiten"  # Nr. 8
    ANSCHRIFTEN = "anschriften"  # Nr. 9, 10
    GESETZLICHER_VERTRETER = "gesetzlicher_vertreter"  # Nr. 11
    FAMILIENSTAND = "familienstand"  # Nr. 12
    EHEGATTE = "ehegatte"  # Nr. 13
    KINDER = "kinder"  # Nr. 14
    STERBEDATEN = "sterbedaten"  # Nr. 16 (Nr. 15, the blocks, come as flags with every answer)
    AUSWEISDATEN = "ausweisdaten"  # Satz 2 Nr. 1
    PASSVERSAGUNG = "passversagung"  # Satz 2 Nr. 2 (§ 3 Abs. 2 Nr. 4)
    WAFFEN_SPRENGSTOFF = "waffen_sprengstoff"  # Satz 2 Nr. 3 (§ 3 Abs. 2 Nr. 7, 8)
    WOHNUNGSGEBER = "wohnungsgeber"  # Satz 2 Nr. 4 (§ 3 Abs. 2 Nr. 10)


class Suchkriterien(Event):
    """Auswahldaten. Every criterion anybody might send is a field, so that a criterion the
    requester may not use is refused with its reason code instead of being ignored; criteria
    nobody may use at all are here for the same reason."""

    familienname: str | None = None
    frueherer_name: str | None = None
    vornamen: str | None = None
    ordensname: str | None = None
    kuenstlername: str | None = None
    geburtsdatum: str | None = Field(None, description="JJJJMMTT, 00 for unknown parts")
    geburtsdatum_bis: str | None = Field(None, description="freie Suche: end of a birth range")
    geburtsort: str | None = None
    geschlecht: str | None = None
    staatsangehoerigkeit: str | None = None
    familienstand: str | None = None
    strasse: str | None = None
    hausnummer: str | None = None
    postleitzahl: str | None = None
    sterbedatum: str | None = None
    sterbeort: str | None = None
    # § 34 Abs. 1 Satz 2 Nr. 3: freie Suche criteria of security authorities only
    waffenrechtliche_erlaubnis: bool | None = None
    sprengstoffrechtliche_erlaubnis: bool | None = None
    # never criteria (§ 38 Abs. 2 BMG): Satz 2 Nr. 1 and 4, co-registered persons, blocks
    ausweis_seriennummer: str | None = None
    wohnungsgeber: str | None = None
    ehegatte_familienname: str | None = None
    auskunftssperre: bool | None = None

    def given(self) -> dict[str, object]:
        return {k: v for k, v in self.model_dump().items() if v not in (None, "")}


class Identifizierung(Event):
    """The person sought. § 49 Abs. 4 Nr. 1: Familienname or a former one, at least one
    Vorname, and an address or two further items of Abs. 5 (never Geschlecht with
    Familienstand). The Wohnort is the office's AGS in the request."""

    familienname: str | None = None
    frueherer_name: str | None = None
    vornamen: str | None = None
    # an address in the municipality of the office asked
    strasse: str | None = None
    hausnummer: str | None = None
    postleitzahl: str | None = None
    # § 49 Abs. 5
    ordensname: str | None = None  # Nr. 1
    kuenstlername: str | None = None  # Nr. 2
    geburtsdatum: str | None = Field(None, description="Nr. 3, JJJJMMTT")
    geburtsort: str | None = None  # Nr. 4
    geschlecht: str | None = None  # Nr. 5
    gesetzlicher_vertreter: str | None = Field(None, description="Nr. 6, Vor- und Familienname")
    einzugsdatum: str | None = Field(None, description="Nr. 7, JJJJMMTT")
    auszugsdatum: str | None = Field(None, description="Nr. 8, JJJJMMTT")
    familienstand: str | None = None  # Nr. 9
    eheschliessung_datum: str | None = Field(None, description="Nr. 10, JJJJMMTT")
    eheschliessung_ort: str | None = None  # Nr. 10
    ehegatte: str | None = Field(None, description="Nr. 11, Vor- und Familienname")
    sterbedatum: str | None = Field(None, description="Nr. 12, JJJJMMTT")
    sterbeort: str | None = None  # Nr. 13

    def given(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v not in (None, "")}


class Anfragende(Event):
    """What every request carries (BMeldDAV 2021 § 11), also for the § 40 BMG log."""

    behoerde: str
    anschrift: str
    erreichbarkeit: str
    aktenzeichen: str
    anlass: str
    kennung: str | None = Field(None, description="the requesting person's user name")
    verfahren: str | None = Field(None, description="the procedure's name, for machine access")
    fremde_kennung: str | None = Field(
        None,
        description="a query forwarded by another state's central body: the requesting person's "
        "Kennung there (the central body calls as its procedure)",
    )

    @property
    def abrufer(self) -> str:
        return self.kennung or self.verfahren or ""


class QueryRequested(Event):
    """`min.query.requested.v1`: a query from the MiN front end or a specialist application."""

    query_id: str = Field(min_length=1, max_length=80)
    tenant_id: str
    anfragende: Anfragende
    suchart: Suchart
    gemeindeschluessel: list[str] = Field(
        description="Personensuche: exactly one AGS; freie Suche: Gemeinden (8 digits), "
        "Landkreise (5) or the whole state (2)"
    )
    kriterien: Suchkriterien = Field(default_factory=Suchkriterien)
    identifikationsmerkmal: str | None = Field(
        None, description="from an earlier hit list, instead of the criteria"
    )
    phonetisch: bool = False
    angeforderte_daten: list[Datenelement] = Field(default_factory=list)
    verzicht_auf_weitere_bearbeitung: bool = Field(
        False, description="§ 38 Abs. 5 BMG: no manual follow-up of a neutral answer"
    )
    zweck: Zweck = Zweck.GESETZLICHE_AUFGABE
    client_certificate_fingerprint: str | None = Field(
        None,
        description="machine access: SHA-256 fingerprint of the client certificate the calling "
        "procedure presented, as the gateway that ended its TLS connection saw it",
    )
    abrufende_stelle: Behoerdenart | None = Field(
        None,
        description="a query forwarded by another state's central body: the kind of the body "
        "that retrieves, as that state attests (who is told of a request on a blocked person "
        "depends on it)",
    )
    als_sicherheitsbehoerde: bool | None = Field(
        None,
        description="a query forwarded by another state's central body: the body retrieves as a "
        "§ 34 Abs. 4 Satz 1 BMG authority, with the data of § 34 Abs. 1 Satz 2, as that state "
        "admitted it (XMeld `sicherheitsbehoerde`)",
    )
    antwortschluessel: str | None = Field(
        None,
        description="a query forwarded by another state's central body: the X25519 public key "
        "(hex) of that state's front end, which the answer is sealed for",
    )
    antwortkontext: str | None = Field(
        None, description="with `antwortschluessel`: that state's Vorgangsnummer of the query"
    )
    requested_at: datetime


class Auskunftsart(StrEnum):
    BEHOERDENAUSKUNFT = "behoerdenauskunft"  # § 34a BMG, a public body's retrieval
    EINFACHE_MELDEREGISTERAUSKUNFT = "einfache_melderegisterauskunft"  # §§ 44, 49 BMG, portal


class RegisterRequest(Event):
    """`min.register.request.<Land>.v1`: an authorised query for one state's register, from the
    router (an authority's retrieval) or from the portal (a simple registry information, with
    the identification of § 49 Abs. 4 BMG and the request's own answer key)."""

    vorgangsnummer: str
    query_id: str
    tenant_id: str
    auskunftsart: Auskunftsart = Auskunftsart.BEHOERDENAUSKUNFT
    zugangsart: Zugangsart | None = Field(None, description="authority retrievals only")
    datenumfang: Datenumfang | None = Field(None, description="authority retrievals only")
    anfragende: Anfragende
    suchart: Suchart
    gemeindeschluessel: list[str]
    kriterien: Suchkriterien = Field(default_factory=Suchkriterien)
    identifizierung: Identifizierung | None = Field(None, description="portal requests only")
    antwortschluessel: str | None = Field(
        None,
        description="portal requests, and queries forwarded by another state's central body: "
        "X25519 public key (hex) the answer is sealed for",
    )
    antwortkontext: str | None = Field(
        None,
        description="what the answer is sealed under, if not this Vorgangsnummer: the forwarding "
        "state's Vorgangsnummer",
    )
    identifikationsmerkmal: str | None = None
    phonetisch: bool = False
    angeforderte_daten: list[Datenelement] = Field(default_factory=list)
    verzicht_auf_weitere_bearbeitung: bool = False
    abrufende_stelle: Behoerdenart | None = Field(
        None,
        description="the requesting body's kind (is it a § 34 Abs. 4 Satz 1 BMG authority?); "
        "who is told of a request on a blocked person depends on it, not on the access role",
    )
    sperrdaten_berechtigt: bool = Field(
        False,
        description="§ 34a Abs. 6 BMG: the requesting user is the head of the body or "
        "specially authorised by it to receive data despite an Auskunftssperre",
    )
    requested_at: datetime

    @property
    def sicherheitsbehoerde(self) -> bool:
        return self.zugangsart is Zugangsart.SICHERHEITSBEHOERDE


class Ergebnisstatus(StrEnum):
    """XMeld code list `datenabruf.ergebnisstatus`."""

    EINDEUTIG = "01"  # person uniquely identified, data sent
    TREFFERLISTE = "02"
    NEUTRAL = "03"  # not identified, or an Auskunftssperre: the answer does not say which
    ERGEBNISLISTE = "04"  # freie Suche


class Treffer(Event):
    """A record the answer drew on, for the log (§ 40 Abs. 1 Nr. 7 / Abs. 2 BMG)."""

    gemeindeschluessel: str
    ordnungsmerkmal: str


class Nichterstellung(Event):
    """Why no answer was made: an XMeld `datenabruf.nichterstellung.grund` code, our own reason
    within it, and a German sentence for the user."""

    code: str = Field(pattern=r"^\d{2}$")
    grund: str
    text: str


class RegisterResponse(Event):
    """`min.register.response.v1`: a register's answer to one Vorgangsnummer."""

    vorgangsnummer: str
    query_id: str
    land: str = Field(description="Landesschlüssel of the answering register")
    ergebnisstatus: Ergebnisstatus | None = None
    nichterstellung: Nichterstellung | None = None
    treffer: list[Treffer] = Field(default_factory=list)
    anzahl: int = 0
    datenelemente: list[Datenelement] = Field(default_factory=list)
    antwort: str | None = Field(None, description="the answer, sealed for the front end")
    answered_at: datetime
    fremder_vorgang: str | None = Field(
        None,
        description="answered by another state's register through its gateway: that state's "
        "Vorgangsnummer, under which its log holds the records the answer drew on",
    )


class QueryAnswered(Event):
    """`min.query.answered.v1`: a register's answer with its query, for protocol_log to log and
    release."""

    vorgangsnummer: str
    query: QueryRequested
    zugangsart: Zugangsart
    protokollierung: str = Field(description="operator | commissioned | self")
    land: str = Field(description="Landesschlüssel of the register that answered")
    response: RegisterResponse
    routed_at: datetime
    verfahren_verantwortlich: str | None = Field(
        None, description="machine access: the person responsible for the procedure"
    )
    bezugsvorgang: str | None = Field(
        None,
        description="a registration office's answer after manual processing: the Vorgangsnummer "
        "of the retrieval it answers (§ 34a Abs. 5 Satz 2 BMG)",
    )


class QueryRejected(Event):
    """`min.query.rejected.v1`: a query refused or not answerable, with its reason."""

    vorgangsnummer: str
    query: QueryRequested
    zugangsart: Zugangsart | None = None
    protokollierung: str = "operator"
    nichterstellung: Nichterstellung
    rejected_at: datetime
    verfahren_verantwortlich: str | None = Field(
        None, description="machine access: the person responsible for the procedure"
    )


class Ausgang(StrEnum):
    ANSWERED = "answered"
    REJECTED = "rejected"


class QueryDelivered(Event):
    """`min.query.delivered.v1`: the released answer (or refusal), after its protocol entry is
    durable. The only answer the front end may hand to the user."""

    query_id: str
    vorgangsnummer: str
    tenant_id: str
    ausgang: Ausgang
    ergebnisstatus: Ergebnisstatus | None = None
    nichterstellung: Nichterstellung | None = None
    antwort: str | None = Field(None, description="sealed for the front end")
    requested_at: datetime
    released_at: datetime
    protokoll: str = Field(
        description="where the entry is: operator:<seq>, tenant:<id>:<seq>, self"
    )
    bezugsvorgang: str | None = Field(
        None,
        description="a registration office's answer after manual processing: the Vorgangsnummer "
        "of the retrieval it answers, whose neutral answer came before",
    )
    anzahl: int = Field(0, description="records the answer drew on")
    datenelemente: list[Datenelement] = Field(
        default_factory=list, description="the data items the answer holds"
    )


class Uebergabegrund(StrEnum):
    AUSKUNFTSSPERRE = "auskunftssperre"
    BEDINGTER_SPERRVERMERK = "bedingter_sperrvermerk"  # § 52 Abs. 2 BMG: hear the person first


class RegisterHandover(Event):
    """`min.register.handover.v1`: a retrieval handed over for manual processing by the competent
    registration office (§ 34a Abs. 5 BMG; XMeld 1322)."""

    vorgangsnummer: str
    gemeindeschluessel: str
    ordnungsmerkmal: str
    grund: Uebergabegrund
    tenant_id: str
    auskunftsart: Auskunftsart = Auskunftsart.BEHOERDENAUSKUNFT
    zugangsart: Zugangsart | None = None
    anfragende: Anfragende
    suchart: Suchart
    kriterien: Suchkriterien
    handed_over_at: datetime
    anfrage: RegisterRequest | None = Field(
        None,
        description="the request as the register received it (XMeld 1322 carries the original "
        "message), for the office's answer",
    )


class Benachrichtigter(StrEnum):
    BETROFFENE_PERSON = "betroffene_person"
    VERANLASSENDE_BEHOERDE = "veranlassende_behoerde"


class BlockNotice(Event):
    """`min.register.block-notice.v1`: the person with an Auskunftssperre, or the authority that
    had it set, is told of a request (§ 51 Abs. 3, § 34 Abs. 5 BMG)."""

    vorgangsnummer: str
    gemeindeschluessel: str
    ordnungsmerkmal: str
    empfaenger: Benachrichtigter
    veranlassende_behoerde: str | None = None
    anfragende_behoerde: str
    noticed_at: datetime
    anschrift: Postanschrift | None = Field(
        None,
        description="where the letter goes, as the register holds it: the person's address in "
        "the municipality, or the authority's",
    )
