"""Access application (*Antrag auf Zugang zum Melderegisterdatenspiegel*) and intake's outcomes.

The submitted application is what an upstream system delivers: a scanned paper application or an
e-form. Every item may be missing or wrong, because deciding completeness is intake's job and the
authority gets a letter naming each defect. Only the JSON structure is binding: a value of the wrong
JSON type breaks the contract and goes to the dead-letter topic instead.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from shared.contract.events.base import Event

APPLICATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"


class Zugangsart(StrEnum):
    """Access type; one application and one tenant per type (seed 000)."""

    EINFACHE_BEHOERDENAUSKUNFT = "einfache_behoerdenauskunft"  # § 34a BMG, § 34 Abs. 1 Satz 1 data
    SICHERHEITSBEHOERDE = "sicherheitsbehoerde"  # § 34a BMG + § 34 Abs. 1 Satz 2, Abs. 4 Satz 1


class Anrede(StrEnum):
    HERR = "herr"
    FRAU = "frau"
    DIVERS = "divers"
    KEINE_ANGABE = "keine_angabe"


class Netzzugang(StrEnum):
    """How the authority reaches the register (seed 000, einfache Behördenauskunft)."""

    LANDESNETZ = "landesnetz"
    DOI = "doi"  # DOI network, applied for at the Bundesverwaltungsamt
    SONSTIGER = "sonstiger"  # needs a reason; individual decision with the Interior Ministry


class Protokollierung(StrEnum):
    """Who logs a security authority's retrievals (§ 40 Abs. 3 BMG)."""

    EIGENPROTOKOLLIERUNG = "eigenprotokollierung"  # the authority logs itself
    AUFTRAGSVERARBEITUNG = "auftragsverarbeitung"  # the operator logs on commission (Art. 28 DSGVO)


class Behoerdenart(StrEnum):
    """Kind of the applying body. The first thirteen are the security authorities of
    § 34 Abs. 4 Satz 1 BMG; which kind may have which access is legal review's decision."""

    POLIZEI = "polizei"
    STAATSANWALTSCHAFT = "staatsanwaltschaft"
    AMTSANWALTSCHAFT = "amtsanwaltschaft"
    STRAFGERICHT = "strafgericht"  # courts in criminal prosecution, enforcement or prison matters
    JUSTIZVOLLZUG = "justizvollzug"
    VERFASSUNGSSCHUTZ = "verfassungsschutz"
    BUNDESNACHRICHTENDIENST = "bundesnachrichtendienst"
    MILITAERISCHER_ABSCHIRMDIENST = "militaerischer_abschirmdienst"
    ZOLLFAHNDUNG = "zollfahndung"
    HAUPTZOLLAMT = "hauptzollamt"
    STEUERFAHNDUNG = "steuerfahndung"  # Finanzbehörden, soweit strafverfolgend tätig
    ZENTRALSTELLE_SANKTIONSDURCHSETZUNG = "zentralstelle_sanktionsdurchsetzung"
    BUNDESAMT_FUER_JUSTIZ = "bundesamt_fuer_justiz"
    KOMMUNALVERWALTUNG = "kommunalverwaltung"
    LANDESVERWALTUNG = "landesverwaltung"
    BUNDESVERWALTUNG = "bundesverwaltung"
    GERICHT = "gericht"  # courts outside criminal matters
    GESETZLICHE_KRANKENKASSE = "gesetzliche_krankenkasse"
    SONSTIGE_OEFFENTLICHE_STELLE = "sonstige_oeffentliche_stelle"
    PRIVATE_STELLE = "private_stelle"
    # another state's central body that retrieves for the bodies of its state (§ 39 Abs. 3 BMG,
    # NMeldVO 2022 § 26 Abs. 1): its tenant is "Land NN"
    ZENTRALE_STELLE_LAND = "zentrale_stelle_land"


# § 34 Abs. 4 Satz 1 BMG, Nr. 1–13
SICHERHEITSBEHOERDEN: dict[Behoerdenart, str] = {
    Behoerdenart.POLIZEI: "Nr. 1",
    Behoerdenart.STAATSANWALTSCHAFT: "Nr. 2",
    Behoerdenart.AMTSANWALTSCHAFT: "Nr. 3",
    Behoerdenart.STRAFGERICHT: "Nr. 4",
    Behoerdenart.JUSTIZVOLLZUG: "Nr. 5",
    Behoerdenart.VERFASSUNGSSCHUTZ: "Nr. 6",
    Behoerdenart.BUNDESNACHRICHTENDIENST: "Nr. 7",
    Behoerdenart.MILITAERISCHER_ABSCHIRMDIENST: "Nr. 8",
    Behoerdenart.ZOLLFAHNDUNG: "Nr. 9",
    Behoerdenart.HAUPTZOLLAMT: "Nr. 10",
    Behoerdenart.STEUERFAHNDUNG: "Nr. 11",
    Behoerdenart.ZENTRALSTELLE_SANKTIONSDURCHSETZUNG: "Nr. 12",
    Behoerdenart.BUNDESAMT_FUER_JUSTIZ: "Nr. 13",
}


class Behoerde(Event):
    name: str | None = Field(None, description="Bezeichnung der Behörde")
    kind: str | None = Field(None, description="Behördenart, a value of `Behoerdenart`")
    state: str | None = Field(None, description="Landesschlüssel of the authority's state, 01–16")
    identifier: str | None = Field(
        None, description="Behördenkennung (e.g. DVDV key) where the upstream system knows it"
    )


class Administrator(Event):
    """The form *Nutzerdaten der Administratorin/des Administrators* (annex to the application)."""

    salutation: str | None = Field(None, description="a value of `Anrede`")
    first_name: str | None = None
    surname: str | None = None
    email: str | None = None
    phone: str | None = None
    office_name: str | None = Field(None, description="Name der Dienststelle")
    street_and_number: str | None = Field(
        None, description="Straße und Hausnummer der Dienststelle"
    )
    postcode: str | None = Field(None, description="PLZ der Dienststelle")
    town: str | None = Field(None, description="Ort der Dienststelle")
    smime_certificate_pem: str | None = Field(
        None, description="S/MIME certificate for encrypted mail and later password resets"
    )


class Zusicherung(Event):
    """Assurance of compliance with the BMG, in particular § 39 Abs. 1, and the measures taken."""

    assured: bool | None = None
    measures: str | None = Field(None, description="measures the authority takes (§ 39 Abs. 1 BMG)")


class Unterschrift(Event):
    head_of_authority_signed: bool | None = Field(
        None, description="Unterschrift der Behördenleitung"
    )
    official_seal: bool | None = Field(None, description="Dienstsiegel")
    signatory: str | None = None
    signed_on: date | None = None


class Netz(Event):
    channel: str | None = Field(None, description="a value of `Netzzugang`")
    reason_if_other: str | None = Field(
        None, description="why neither Landesnetz nor DOI is possible (required for `sonstiger`)"
    )


class ApplicationSubmitted(Event):
    """`min.application.submitted.v1`: an access application as delivered upstream."""

    application_id: str = Field(
        pattern=APPLICATION_ID_PATTERN,
        description="the upstream system's id of this application (scan or e-form id)",
    )
    received_on: date | None = Field(None, description="date of receipt at the operator")
    intake_channel: str | None = Field(None, description="post (scanned) or e_form")
    access_type: str | None = Field(None, description="a value of `Zugangsart`")
    authority: Behoerde = Field(default_factory=Behoerde)
    administrator: Administrator = Field(default_factory=Administrator)
    compliance: Zusicherung = Field(default_factory=Zusicherung)
    signature: Unterschrift = Field(default_factory=Unterschrift)
    network: Netz = Field(default_factory=Netz)
    logging_arrangement: str | None = Field(
        None, description="for security authorities: a value of `Protokollierung`"
    )
    only_administrator_change: bool = Field(
        False, description="nur Änderung des Administrators, keine Neuanlage des Mandanten"
    )
    client_certificate_fingerprint: str | None = Field(
        None,
        description="SHA-256 fingerprint if access shall be restricted to a client certificate",
    )


# ----------------------------------------------------------------------------- intake's outcomes


class Kontakt(Event):
    """Whom a notice goes to, as far as the application names it."""

    authority_name: str | None = None
    salutation: str | None = None
    first_name: str | None = None
    surname: str | None = None
    email: str | None = None
    office_name: str | None = None
    street_and_number: str | None = None
    postcode: str | None = None
    town: str | None = None

    @classmethod
    def of(cls, authority_name: str | None, adm: Administrator | CompleteAdministrator) -> Kontakt:
        """The administrator at the office, whom notices about an application go to."""
        return cls(
            authority_name=authority_name,
            salutation=None if adm.salutation is None else str(adm.salutation),
            first_name=adm.first_name,
            surname=adm.surname,
            email=adm.email,
            office_name=adm.office_name,
            street_and_number=adm.street_and_number,
            postcode=adm.postcode,
            town=adm.town,
        )


class Mangel(Event):
    """One defect of an application: a stable code for machines, a sentence for the letter."""

    code: str
    field: str = Field(description="dotted path of the item in the submitted application")
    message: str = Field(description="German sentence fit for the letter to the authority")


class CompleteAdministrator(Event):
    salutation: Anrede
    first_name: str
    surname: str
    email: str
    phone: str
    office_name: str
    street_and_number: str
    postcode: str
    town: str
    smime_certificate_pem: str | None = None


class CompleteApplication(Event):
    """An application with every item present and normalised; what legal review decides on."""

    application_id: str
    authority_key: str = Field(description="stable key of the authority (identifier or name+PLZ)")
    access_type: Zugangsart
    authority_name: str
    authority_kind: Behoerdenart
    authority_state: str | None = None
    authority_identifier: str | None = None
    administrator: CompleteAdministrator
    compliance_measures: str
    signatory: str | None = None
    signed_on: date | None = None
    network_channel: Netzzugang
    network_reason: str | None = None
    logging_arrangement: Protokollierung | None = None
    only_administrator_change: bool = False
    client_certificate_fingerprint: str | None = None

    def contact(self) -> Kontakt:
        """Whom notices about this application go to: the administrator at the office."""
        return Kontakt.of(self.authority_name, self.administrator)


class ApplicationAccepted(Event):
    """`min.application.accepted.v1`: complete, handed on to legal review."""

    application: CompleteApplication
    accepted_at: datetime


class ApplicationIncomplete(Event):
    """`min.application.incomplete.v1`: every defect found, for the letter back to the authority."""

    application_id: str
    contact: Kontakt
    defects: list[Mangel] = Field(min_length=1)
    decided_at: datetime


class ApplicationRefused(Event):
    """`min.application.refused.v1`: refused at intake without examining the content."""

    application_id: str
    contact: Kontakt
    reason_code: str
    message: str = Field(description="German sentence fit for the letter to the authority")
    conflicting_application_id: str | None = None
    decided_at: datetime
