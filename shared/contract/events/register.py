"""The register's own events: a person's record as the municipalities deliver it (one record per
person per AGS, NMeldVO 2022 § 23 Abs. 2), the deliveries, and the delivery log (§ 23 Abs. 3)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.account import Postanschrift
from shared.contract.events.base import Event


class Wohnungsstatus(StrEnum):
    HAUPTWOHNUNG = "hauptwohnung"
    NEBENWOHNUNG = "nebenwohnung"
    ALLEINIGE_WOHNUNG = "alleinige_wohnung"


class Anschrift(Event):
    strasse: str
    hausnummer: str
    postleitzahl: str
    wohnort: str
    gemeindeschluessel: str = Field(pattern=r"^\d{8}$")
    status: Wohnungsstatus = Wohnungsstatus.ALLEINIGE_WOHNUNG
    einzugsdatum: date | None = None
    auszugsdatum: date | None = None  # set: an earlier address
    bedingter_sperrvermerk: bool = False  # § 52 Abs. 1 BMG: care home, shelter, treatment centre

    @property
    def derzeitig(self) -> bool:
        return self.auszugsdatum is None


class Bezugsperson(Event):
    """Legal representative, spouse or minor child (§ 34 Abs. 1 Satz 1 Nr. 11, 13, 14 BMG)."""

    familienname: str
    vornamen: list[str]
    geburtsname: str | None = None
    doktorgrad: str | None = None
    geburtsdatum: str | None = None
    geschlecht: str | None = None
    anschrift: str | None = None
    sterbedatum: str | None = None
    gesperrt: bool = False  # an Auskunftssperre or bedingter Sperrvermerk of this person


class Ausweis(Event):
    """§ 34 Abs. 1 Satz 2 Nr. 1 BMG: security authorities only."""

    art: str  # Personalausweis, Reisepass, ...
    seriennummer: str
    ausstellungsbehoerde: str
    ausstellungsdatum: date
    gueltig_bis: date


class Auskunftssperre(Event):
    """§ 51 BMG. `veranlasst_von_sicherheitsbehoerde`: set at a § 34 Abs. 4 authority's request,
    which is then told of every request instead of, or besides, the person (§ 34 Abs. 5)."""

    bis: date
    veranlassende_behoerde: str | None = None
    veranlasst_von_sicherheitsbehoerde: bool = False
    veranlassende_behoerde_anschrift: Postanschrift | None = Field(
        None, description="where the authority's notices of requests go (§ 34 Abs. 5 BMG)"
    )


class Personendatensatz(Event):
    """One person's record in one municipality's register (identified by AGS + Ordnungsmerkmal)."""

    ordnungsmerkmal: str = Field(min_length=1, max_length=40)
    familienname: str = Field(min_length=1)
    fruehere_namen: list[str] = Field(default_factory=list)
    vornamen: list[str] = Field(min_length=1)
    doktorgrad: str | None = None
    ordensname: str | None = None
    kuenstlername: str | None = None
    geburtsdatum: str = Field(pattern=r"^\d{8}$", description="JJJJMMTT; 00 for unknown parts")
    geburtsort: str
    geburtsstaat: str | None = None
    geschlecht: str = Field(pattern=r"^[mwdx]$")
    staatsangehoerigkeiten: list[str] = Field(default_factory=list)
    anschriften: list[Anschrift] = Field(min_length=1)
    gesetzlicher_vertreter: list[Bezugsperson] = Field(default_factory=list)
    familienstand: str | None = None
    eheschliessung_datum: str | None = None
    eheschliessung_ort: str | None = None
    ehegatte: Bezugsperson | None = None
    kinder: list[Bezugsperson] = Field(default_factory=list)
    ausweise: list[Ausweis] = Field(default_factory=list)
    passversagung: list[str] = Field(default_factory=list)  # § 3 Abs. 2 Nr. 4
    waffenrechtliche_erlaubnis: bool = False  # § 3 Abs. 2 Nr. 7
    sprengstoffrechtliche_erlaubnis: bool = False  # § 3 Abs. 2 Nr. 8
    wohnungsgeber: str | None = None  # § 3 Abs. 2 Nr. 10
    sterbedatum: str | None = Field(None, pattern=r"^\d{8}$")
    sterbeort: str | None = None
    auskunftssperre: Auskunftssperre | None = None

    @property
    def bedingter_sperrvermerk(self) -> bool:
        return any(a.bedingter_sperrvermerk for a in self.anschriften if a.derzeitig)

    def hauptwohnung(self) -> Anschrift | None:
        current = [a for a in self.anschriften if a.derzeitig]
        for status in (Wohnungsstatus.ALLEINIGE_WOHNUNG, Wohnungsstatus.HAUPTWOHNUNG):
            for a in current:
                if a.status is status:
                    return a
        return current[0] if current else None


class Lieferart(StrEnum):
    """NMeldVO 2022 § 23 Abs. 2: daily change messages, an empty message on days without
    changes, and a full delivery on the operator's request."""

    AENDERUNG = "aenderung"
    VOLLBESTAND = "vollbestand"
    LEERMITTEILUNG = "leermitteilung"


class Meldebehoerde(Event):
    gemeindeschluessel: str = Field(pattern=r"^\d{8}$")
    name: str


class RegisterDelivery(Event):
    """`min.register.delivery.v1`: a municipality's delivery to the state's register. A full
    delivery may come in parts (`teil` of `teile`); it replaces the AGS's records once complete."""

    delivery_id: str = Field(min_length=1, max_length=80)
    absender: Meldebehoerde
    art: Lieferart
    teil: int = Field(1, ge=1)
    teile: int = Field(1, ge=1)
    datensaetze: list[Personendatensatz] = Field(default_factory=list)
    entfernt: list[str] = Field(default_factory=list, description="Ordnungsmerkmale to remove")
    erstellt_am: datetime


class LieferStatus(StrEnum):
    APPLIED = "applied"
    PART_RECEIVED = "part_received"  # a part of a full delivery, applied with the last part
    REJECTED = "rejected"


class DeliveryLogged(Event):
    """`min.register.delivery-log.v1`: each delivery as logged (NMeldVO 2022 § 23 Abs. 3):
    sending office, time, kind and number of records; a refused delivery with the reason."""

    delivery_id: str
    absender: Meldebehoerde
    art: Lieferart
    teil: int
    teile: int
    anzahl_datensaetze: int
    anzahl_entfernt: int
    status: LieferStatus
    grund: str | None = None
    empfangen_am: datetime
    land: str = Field(description="Landesschlüssel of the register that logged it")


class Lieferauffaelligkeit(StrEnum):
    """What delivery_monitor raises for an office's deliveries (NMeldVO 2022 § 23 Abs. 2)."""

    AUSGEBLIEBEN = "ausgeblieben"  # neither changes nor an empty message within the day
    ABGEWIESEN = "abgewiesen"  # the register refused a delivery
    EINBRUCH = "einbruch"  # far fewer persons than the office's last full delivery


class DeliveryAlert(Event):
    """`min.register.delivery-alerts.v1`: an office's deliveries need attention."""

    alert_id: str
    absender: Meldebehoerde
    land: str
    kind: Lieferauffaelligkeit
    detail: str = Field(description="German sentence for the operator")
    last_delivery_at: datetime | None = None
    raised_at: datetime
