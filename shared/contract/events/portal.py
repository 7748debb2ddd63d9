"""Events of the portal for simple registry information (§§ 44, 49 BMG; PortalV): requesters'
registrations and their approval, requests with the identification of the person sought, the
answers as logged and released, and the fee statements.

An answer's content never travels readable: the register seals it for a key made for this one
request (`antwortschluessel`), whose private half only the portal holds and destroys when the
requester has fetched the answer. What travels beside the box is what PortalV § 3 logs."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.abruf import (
    Ergebnisstatus,
    Identifizierung,
    Nichterstellung,
    RegisterResponse,
)
from shared.contract.events.account import Postanschrift
from shared.contract.events.application import Anrede
from shared.contract.events.base import Event

# -- registration (PortalV § 2 Nr. 1) ---------------------------------------------------------


class Anfragendenart(StrEnum):
    NATUERLICHE_PERSON = "natuerliche_person"
    UNTERNEHMEN = "unternehmen"


class AnfragendenAnschrift(Event):
    strasse_hausnummer: str | None = None
    postleitzahl: str | None = None
    ort: str | None = None
    staat: str = "Deutschland"


class Identitaetsnachweis(Event):
    """How a natural person's identity was established: the document and its reference (e.g. the
    eID transaction or the Personalausweis serial checked by the operator), never a copy."""

    art: str | None = Field(
        None, description="personalausweis | reisepass | eid | aufenthaltstitel"
    )
    referenz: str | None = None


class Registereintrag(Event):
    registergericht: str | None = Field(None, description="e.g. Amtsgericht Hannover")
    registernummer: str | None = Field(None, description="e.g. HRB 12345")


class VerantwortlichePerson(Event):
    anrede: Anrede | None = None
    vorname: str | None = None
    familienname: str | None = None


class RegistrationSubmitted(Event):
    """`min.portal.registration.submitted.v1`: a private person or company asks to be registered
    as a requester. Fields are lenient so that a missing one becomes a listed defect."""

    registration_id: str = Field(min_length=1, max_length=80)
    art: Anfragendenart
    # natural person
    anrede: Anrede | None = None
    vorname: str | None = None
    familienname: str | None = None
    geburtsdatum: date | None = None
    identitaetsnachweis: Identitaetsnachweis | None = None
    # company
    firma: str | None = None
    handelsregister: Registereintrag | None = None
    verantwortliche_person: VerantwortlichePerson | None = None
    # both
    anschrift: AnfragendenAnschrift | None = None
    email: str | None = None
    antwortschluessel: str | None = Field(
        None, description="the requester's X25519 public key (hex): answers are sealed for it"
    )
    submitted_at: datetime


class Registrierungsstatus(StrEnum):
    UNVOLLSTAENDIG = "unvollstaendig"  # defects listed; a corrected registration may follow
    IN_PRUEFUNG = "in_pruefung"  # complete, waiting for the operator's approval
    ZUGELASSEN = "zugelassen"
    ABGELEHNT = "abgelehnt"
    GESPERRT = "gesperrt"  # locked by an operator: no sign-in, no request, until unlocked
    AUSGESETZT = "ausgesetzt"  # suspended with a reason (e.g. suspected misuse) until lifted


class Registrierungsmangel(Event):
    code: str
    feld: str
    text: str


class RequesterState(Event):
    """`min.portal.requester.v1` (compacted, key registration_id): a registration's state."""

    registration_id: str
    art: Anfragendenart
    name: str = Field(description="the person's or the company's name")
    status: Registrierungsstatus
    maengel: list[Registrierungsmangel] = Field(default_factory=list)
    begruendung: str | None = None
    kennung: str | None = Field(None, description="the account name, once approved")
    version: int
    updated_at: datetime


class RegistrationDecision(Event):
    """`min.portal.registration.decision.v1`: an operator approves or refuses a registration."""

    decision_id: str = Field(min_length=1)
    registration_id: str = Field(min_length=1)
    operator_id: str = Field(min_length=1)
    zulassen: bool
    begruendung: str = Field(min_length=1)
    decided_at: datetime


class RequesterAction(StrEnum):
    LOCK = "lock"
    UNLOCK = "unlock"  # also after five failed sign-ins
    SUSPEND = "suspend"
    LIFT = "lift"


class RequesterCommand(Event):
    """`min.portal.requester-command.v1`: an operator locks, unlocks, suspends or lifts an
    approved requester's account, with a reason."""

    command_id: str = Field(min_length=1)
    registration_id: str = Field(min_length=1)
    action: RequesterAction
    operator_id: str = Field(min_length=1)
    begruendung: str = Field(min_length=1)
    at: datetime


class RequesterCommandRejected(Event):
    """`min.portal.requester-command-rejected.v1`: a requester command that was not applied."""

    command_id: str
    registration_id: str
    grund: str
    text: str
    at: datetime


class RegistrationDecisionRejected(Event):
    """`min.portal.registration.decision-rejected.v1`: a decision that could not be applied."""

    decision_id: str
    registration_id: str
    grund: str
    text: str
    at: datetime


class Briefanschrift(Event):
    """The address on `min.portal.credentials.v1` (superseded by `Postanschrift` in v2)."""

    anrede: Anrede | None = None
    vorname: str
    familienname: str
    firma: str | None = None
    strasse_hausnummer: str
    postleitzahl: str
    ort: str


REQUESTER_CREDENTIAL_PURPOSE = "requester_initial"  # what the sealed password is bound to


class RequesterCredentials(Event):
    """`min.portal.credentials.v2`: the account name goes by e-mail, the initial password by
    letter; the password is only in `sealed_secret`, sealed for mail_dispatch. The letter's
    address is the one `Postanschrift` the authorities' credentials use too."""

    registration_id: str
    kennung: str
    email: str
    address: Postanschrift
    sealed_secret: str
    password_expires_at: datetime
    issued_at: datetime


class RequesterCredentialsV1(Event):
    """`min.portal.credentials.v1`, written before v2 with the portal's own address spelling;
    mail_dispatch still reads what is left of it (`domain.upgrade_requester_credentials`)."""

    registration_id: str
    kennung: str
    email: str
    anschrift: Briefanschrift
    sealed_secret: str
    password_expires_at: datetime
    issued_at: datetime


# -- requests (§ 49 Abs. 4, 5 BMG) ----------------------------------------------------------


class GewerblicherZweck(StrEnum):
    """§ 44 Abs. 1 Satz 2 BMG: a commercial use must be stated. Advertising and address trading
    are named so that they can be refused (§ 44 Abs. 3 Nr. 2), not silently accepted."""

    FORDERUNGSMANAGEMENT = "forderungsmanagement"
    VERTRAGSABWICKLUNG = "vertragsabwicklung"
    RECHTSVERFOLGUNG = "rechtsverfolgung"
    ERBENERMITTLUNG = "erbenermittlung"
    FREIWILLIGE_LEISTUNG_KRANKENKASSE = "freiwillige_leistung_krankenkasse"
    SONSTIGER = "sonstiger"
    WERBUNG = "werbung"
    ADRESSHANDEL = "adresshandel"


class PortalRequest(Event):
    """`min.portal.request.v1`: a registered requester's request, from the portal's front end."""

    request_id: str = Field(min_length=1, max_length=80)
    kennung: str = Field(min_length=1)
    gemeindeschluessel: str = Field(description="AGS of the registration office asked")
    identifizierung: Identifizierung
    phonetisch: bool = False
    gewerblich: bool = Field(description="whether the data are used for commercial purposes")
    gewerblicher_zweck: GewerblicherZweck | None = None
    zweck_beschreibung: str | None = Field(None, max_length=500)
    erklaerung_keine_werbung_kein_adresshandel: bool = Field(
        False, description="§ 44 Abs. 3 Nr. 2 BMG: the declaration, required for every request"
    )
    verzicht_auf_weitere_bearbeitung: bool = Field(
        False, description="§ 49 Abs. 7 BMG: no further processing of a neutral answer"
    )
    requested_at: datetime


class Anfragekopie(Event):
    """What the log keeps of a request (PortalV § 3 Abs. 1 Nr. 1, 2, 4, 5)."""

    request_id: str
    kennung: str
    registration_id: str | None
    gemeindeschluessel: str
    identifizierung: Identifizierung
    phonetisch: bool
    gewerblich: bool
    gewerblicher_zweck: GewerblicherZweck | None
    zweck_beschreibung: str | None
    erklaerung_keine_werbung_kein_adresshandel: bool
    verzicht_auf_weitere_bearbeitung: bool
    requested_at: datetime


class PortalAnswered(Event):
    """`min.portal.answered.v1`: the register's answer (or the portal's refusal) to one request,
    not yet released: protocol_log logs it (PortalV § 3), then releases it."""

    vorgangsnummer: str
    anfrage: Anfragekopie
    land: str | None = None
    response: RegisterResponse | None = None
    nichterstellung: Nichterstellung | None = Field(
        None, description="the portal's refusal or a technical error; no register answered"
    )
    forwarded_at: datetime | None = Field(None, description="when it went to the register")
    answered_at: datetime


class PortalFetched(Event):
    """`min.portal.fetched.v1`: the requester fetched the answer; protocol_log logs the time it was
    forwarded to the requester (PortalV § 3 Abs. 1 Nr. 3)."""

    vorgangsnummer: str
    kennung: str
    weitergeleitet_am: datetime


class PortalAusgang(StrEnum):
    BEAUSKUNFTET = "beauskunftet"  # the register answered (01 or the neutral 03)
    ABGELEHNT = "abgelehnt"  # refused, or a technical error


class PortalReleased(Event):
    """`min.portal.released.v1`: the answer released after its log entry is durable. The box is
    sealed for the request's own key; the requester fetches it from the portal's API."""

    request_id: str
    vorgangsnummer: str
    kennung: str
    gemeindeschluessel: str
    ausgang: PortalAusgang
    ergebnisstatus: Ergebnisstatus | None = None
    nichterstellung: Nichterstellung | None = None
    antwort: str | None = Field(None, description="sealed for the request's key")
    requested_at: datetime
    released_at: datetime
    protokoll: str


# -- fees (§ 49 Abs. 3 Nr. 4 BMG) -----------------------------------------------------------


class StatementRequested(Event):
    """`min.portal.statement-requested.v1`: an operator asks for the statements of a month (a
    month still running gives a provisional one). Finished months are stated by themselves."""

    request_id: str = Field(min_length=1)
    monat: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    requested_by: str = Field(min_length=1)
    requested_at: datetime


class Abrechnungsart(StrEnum):
    ANFRAGENDER = "anfragender"  # what one requester owes, per office
    MELDEBEHOERDE = "meldebehoerde"  # what one office is owed, per requester


class Abrechnungsposten(Event):
    gegenueber: str = Field(description="the office's AGS, or the requester's Kennung")
    eindeutig: int
    neutral: int
    betrag_cent: int


class Statement(Event):
    """`min.portal.statement.v1`: one month's fees for one requester or one office."""

    statement_id: str
    art: Abrechnungsart
    monat: str
    empfaenger: str = Field(description="Kennung of the requester, or AGS of the office")
    posten: list[Abrechnungsposten]
    anzahl: int
    summe_cent: int
    abgeschlossen: bool = Field(description="the month is over; otherwise provisional")
    created_at: datetime
