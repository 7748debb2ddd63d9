"""Completeness of an access application: the rules of the operator's application procedure (seed
000: *Antrag auf Zugang zum Melderegisterdatenspiegel*). Pure functions, no I/O.

Intake checks that everything the procedure demands is there and well-formed; whether access is
legally admissible is legal review's decision. An application needs:
- the access type, one per application (einfache Behördenauskunft or Sicherheitsbehörde, § 34a BMG);
- the applying authority's name and kind;
- the administrator form: salutation, first name, surname, e-mail, phone, office name, street and
  number, postcode and town;
- the assurance of compliance with the BMG, in particular § 39 Abs. 1, and the measures taken;
- the signature of the head of the authority and the official seal;
- the network channel (Landesnetz or DOI), or the reason why neither is possible;
- for security authorities, who logs the retrievals (§ 40 Abs. 3 BMG).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from shared.contract.events.application import (
    Anrede,
    ApplicationAccepted,
    ApplicationIncomplete,
    ApplicationRefused,
    ApplicationSubmitted,
    Behoerdenart,
    CompleteAdministrator,
    CompleteApplication,
    Kontakt,
    Mangel,
    Netzzugang,
    Protokollierung,
    Zugangsart,
)
from shared.platform.fingerprints import normalise_fingerprint

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 ()/\-]{6,30}$")
_POSTCODE = re.compile(r"^[0-9]{5}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{64}$")
_STATE_CODES = {f"{n:02d}" for n in range(1, 17)}  # Landesschlüssel 01 SH … 16 TH
_E = TypeVar("_E", bound=StrEnum)
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")


class Status(StrEnum):
    """An application's status; approved and rejected are legal review's decisions."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    INCOMPLETE = "incomplete"
    REFUSED = "refused"
    REDELIVERED = "redelivered"
    APPROVED = "approved"  # legal review's decision, closing the application
    REJECTED = "rejected"


class Refusal(StrEnum):
    DUPLICATE_APPLICATION_FOR_ROLE = "DUPLICATE_APPLICATION_FOR_ROLE"


@dataclass(frozen=True)
class DefectKind:
    code: str
    field: str
    message: str

    def __call__(self, **values: object) -> Mangel:
        return Mangel(code=self.code, field=self.field, message=self.message.format(**values))


class Defects:
    """Every defect intake can find: a stable code, the item, and the sentence for the letter."""

    ACCESS_TYPE_MISSING = DefectKind(
        "ACCESS_TYPE_MISSING",
        "access_type",
        "Die Art des beantragten Zugangs ist nicht angegeben (einfache Behördenauskunft oder "
        "Datenabruf als Sicherheitsbehörde). Für jede Rolle ist ein gesonderter Antrag zu stellen.",
    )
    ACCESS_TYPE_UNKNOWN = DefectKind(
        "ACCESS_TYPE_UNKNOWN",
        "access_type",
        "Die angegebene Art des Zugangs „{value}“ gibt es nicht; möglich sind die einfache "
        "Behördenauskunft und der Datenabruf als Sicherheitsbehörde (§ 34a BMG).",
    )
    AUTHORITY_NAME_MISSING = DefectKind(
        "AUTHORITY_NAME_MISSING", "authority.name", "Die Bezeichnung der Behörde fehlt."
    )
    AUTHORITY_KIND_MISSING = DefectKind(
        "AUTHORITY_KIND_MISSING", "authority.kind", "Die Art der Behörde ist nicht angegeben."
    )
    AUTHORITY_KIND_UNKNOWN = DefectKind(
        "AUTHORITY_KIND_UNKNOWN",
        "authority.kind",
        "Die angegebene Art der Behörde „{value}“ ist nicht bekannt.",
    )
    AUTHORITY_STATE_INVALID = DefectKind(
        "AUTHORITY_STATE_INVALID",
        "authority.state",
        "Der angegebene Landesschlüssel „{value}“ ist ungültig (01 bis 16).",
    )
    ADMIN_SALUTATION_MISSING = DefectKind(
        "ADMIN_SALUTATION_MISSING",
        "administrator.salutation",
        "Die Anrede der Administratorin bzw. des Administrators fehlt.",
    )
    ADMIN_SALUTATION_UNKNOWN = DefectKind(
        "ADMIN_SALUTATION_UNKNOWN",
        "administrator.salutation",
        "Die angegebene Anrede „{value}“ ist nicht vorgesehen.",
    )
    ADMIN_FIRST_NAME_MISSING = DefectKind(
        "ADMIN_FIRST_NAME_MISSING",
        "administrator.first_name",
        "Der Vorname der Administratorin bzw. des Administrators fehlt.",
    )
    ADMIN_SURNAME_MISSING = DefectKind(
        "ADMIN_SURNAME_MISSING",
        "administrator.surname",
        "Der Name der Administratorin bzw. des Administrators fehlt.",
    )
    ADMIN_EMAIL_MISSING = DefectKind(
        "ADMIN_EMAIL_MISSING",
        "administrator.email",
        "Die E-Mail-Adresse der Administratorin bzw. des Administrators fehlt; an sie wird der "
        "Account übermittelt.",
    )
    ADMIN_EMAIL_INVALID = DefectKind(
        "ADMIN_EMAIL_INVALID",
        "administrator.email",
        "Die E-Mail-Adresse „{value}“ ist keine gültige E-Mail-Adresse.",
    )
    ADMIN_PHONE_MISSING = DefectKind(
        "ADMIN_PHONE_MISSING",
        "administrator.phone",
        "Die Telefonnummer der Administratorin bzw. des Administrators fehlt.",
    )
    ADMIN_PHONE_INVALID = DefectKind(
        "ADMIN_PHONE_INVALID",
        "administrator.phone",
        "Die Telefonnummer „{value}“ ist keine gültige Telefonnummer.",
    )
    OFFICE_NAME_MISSING = DefectKind(
        "OFFICE_NAME_MISSING", "administrator.office_name", "Der Name der Dienststelle fehlt."
    )
    OFFICE_STREET_MISSING = DefectKind(
        "OFFICE_STREET_MISSING",
        "administrator.street_and_number",
        "Straße und Hausnummer der Dienststelle fehlen; an diese Anschrift geht das "
        "Initialpasswort "
        "per Post.",
    )
    OFFICE_POSTCODE_MISSING = DefectKind(
        "OFFICE_POSTCODE_MISSING",
        "administrator.postcode",
        "Die Postleitzahl der Dienststelle fehlt.",
    )
    OFFICE_POSTCODE_INVALID = DefectKind(
        "OFFICE_POSTCODE_INVALID",
        "administrator.postcode",
        "Die Postleitzahl „{value}“ ist keine gültige fünfstellige Postleitzahl.",
    )
    OFFICE_TOWN_MISSING = DefectKind(
        "OFFICE_TOWN_MISSING", "administrator.town", "Der Ort der Dienststelle fehlt."
    )
    ADMIN_SMIME_CERTIFICATE_INVALID = DefectKind(
        "ADMIN_SMIME_CERTIFICATE_INVALID",
        "administrator.smime_certificate_pem",
        "Das beigefügte S/MIME-Zertifikat ist kein Zertifikat im PEM-Format.",
    )
    COMPLIANCE_ASSURANCE_MISSING = DefectKind(
        "COMPLIANCE_ASSURANCE_MISSING",
        "compliance.assured",
        "Die Zusicherung, die gesetzlichen Vorgaben des Bundesmeldegesetzes, insbesondere "
        "§ 39 Abs. 1 BMG, einzuhalten, fehlt.",
    )
    COMPLIANCE_MEASURES_MISSING = DefectKind(
        "COMPLIANCE_MEASURES_MISSING",
        "compliance.measures",
        "Es ist nicht angegeben, mit welchen technischen und organisatorischen Maßnahmen die "
        "Behörde die Anforderungen des § 39 Abs. 1 BMG gewährleistet.",
    )
    SIGNATURE_MISSING = DefectKind(
        "SIGNATURE_MISSING",
        "signature.head_of_authority_signed",
        "Die Unterschrift der Behördenleitung fehlt.",
    )
    OFFICIAL_SEAL_MISSING = DefectKind(
        "OFFICIAL_SEAL_MISSING", "signature.official_seal", "Das Dienstsiegel fehlt."
    )
    NETWORK_CHANNEL_MISSING = DefectKind(
        "NETWORK_CHANNEL_MISSING",
        "network.channel",
        "Es ist nicht angegeben, ob der Zugriff über das Landesnetz oder das DOI-Netz erfolgt.",
    )
    NETWORK_CHANNEL_UNKNOWN = DefectKind(
        "NETWORK_CHANNEL_UNKNOWN",
        "network.channel",
        "Der angegebene Netzzugang „{value}“ ist nicht vorgesehen (Landesnetz, DOI-Netz oder "
        "begründete Ausnahme).",
    )
    NETWORK_REASON_MISSING = DefectKind(
        "NETWORK_REASON_MISSING",
        "network.reason_if_other",
        "Es ist nicht begründet, warum ein Zugang über das Landesnetz oder das DOI-Netz nicht "
        "realisierbar ist; ohne Begründung ist keine Einzelfallentscheidung möglich.",
    )
    LOGGING_ARRANGEMENT_MISSING = DefectKind(
        "LOGGING_ARRANGEMENT_MISSING",
        "logging_arrangement",
        "Für den Datenabruf als Sicherheitsbehörde fehlt die Angabe, wie die Abrufe protokolliert "
        "werden: Sicherheitsbehörden protokollieren selbst (§ 40 Abs. 3 BMG) oder beauftragen "
        "parallel zum Antrag die Protokollierung im Wege der Auftragsverarbeitung.",
    )
    LOGGING_ARRANGEMENT_UNKNOWN = DefectKind(
        "LOGGING_ARRANGEMENT_UNKNOWN",
        "logging_arrangement",
        "Die angegebene Protokollierung „{value}“ ist nicht vorgesehen (Eigenprotokollierung oder "
        "Auftragsverarbeitung).",
    )
    CLIENT_CERTIFICATE_FINGERPRINT_INVALID = DefectKind(
        "CLIENT_CERTIFICATE_FINGERPRINT_INVALID",
        "client_certificate_fingerprint",
        "Der Fingerabdruck des Clientzertifikats ist kein SHA-256-Fingerabdruck (64 Hexadezimal"
        "zeichen).",
    )

    @classmethod
    def all(cls) -> list[DefectKind]:
        return [v for v in vars(cls).values() if isinstance(v, DefectKind)]


@dataclass(frozen=True)
class Decision:
    """What intake decided about one application and the event that says so."""

    status: Status
    event: ApplicationAccepted | ApplicationIncomplete | ApplicationRefused
    authority_key: str | None = None
    access_type: Zugangsart | None = None


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _enum_value(
    enum: type[_E], value: str | None, missing: DefectKind, unknown: DefectKind, found: list[Mangel]
) -> _E | None:
    if _blank(value):
        found.append(missing())
        return None
    try:
        return enum(value.strip().lower())  # type: ignore[union-attr]
    except ValueError:
        found.append(unknown(value=value))
        return None


def _required(value: str | None, missing: DefectKind, found: list[Mangel]) -> str | None:
    if _blank(value):
        found.append(missing())
        return None
    return " ".join(value.split())  # type: ignore[union-attr]


def _matching(
    value: str | None,
    pattern: re.Pattern[str],
    missing: DefectKind,
    invalid: DefectKind,
    found: list[Mangel],
) -> str | None:
    text = _required(value, missing, found)
    if text is not None and not pattern.match(text):
        found.append(invalid(value=text))
        return None
    return text


def authority_key(identifier: str | None, name: str, postcode: str) -> str:
    """The same authority across applications: its official identifier, else its name and PLZ."""
    if identifier and identifier.strip():
        return "id:" + identifier.strip().lower()
    folded = unicodedata.normalize("NFKC", name).casefold()
    return f"name:{' '.join(folded.split())}|{postcode}"


def assess(app: ApplicationSubmitted) -> CompleteApplication | list[Mangel]:
    """All defects of the application, or the complete, normalised application."""
    found: list[Mangel] = []
    d = Defects
    access = _enum_value(
        Zugangsart, app.access_type, d.ACCESS_TYPE_MISSING, d.ACCESS_TYPE_UNKNOWN, found
    )

    auth = app.authority
    name = _required(auth.name, d.AUTHORITY_NAME_MISSING, found)
    kind = _enum_value(
        Behoerdenart, auth.kind, d.AUTHORITY_KIND_MISSING, d.AUTHORITY_KIND_UNKNOWN, found
    )
    state = None if _blank(auth.state) else auth.state.strip()  # type: ignore[union-attr]
    if state is not None and state not in _STATE_CODES:
        found.append(d.AUTHORITY_STATE_INVALID(value=state))

    adm = app.administrator
    salutation = _enum_value(
        Anrede, adm.salutation, d.ADMIN_SALUTATION_MISSING, d.ADMIN_SALUTATION_UNKNOWN, found
    )
    first_name = _required(adm.first_name, d.ADMIN_FIRST_NAME_MISSING, found)
    surname = _required(adm.surname, d.ADMIN_SURNAME_MISSING, found)
    email = _matching(adm.email, _EMAIL, d.ADMIN_EMAIL_MISSING, d.ADMIN_EMAIL_INVALID, found)
    phone = _matching(adm.phone, _PHONE, d.ADMIN_PHONE_MISSING, d.ADMIN_PHONE_INVALID, found)
    office = _required(adm.office_name, d.OFFICE_NAME_MISSING, found)
    street = _required(adm.street_and_number, d.OFFICE_STREET_MISSING, found)
    postcode = _matching(
        adm.postcode, _POSTCODE, d.OFFICE_POSTCODE_MISSING, d.OFFICE_POSTCODE_INVALID, found
    )
    town = _required(adm.town, d.OFFICE_TOWN_MISSING, found)
    smime = None if _blank(adm.smime_certificate_pem) else adm.smime_certificate_pem
    if smime is not None and not _PEM_CERT.search(smime):
        found.append(d.ADMIN_SMIME_CERTIFICATE_INVALID())

    if app.compliance.assured is not True:
        found.append(d.COMPLIANCE_ASSURANCE_MISSING())
    measures = _required(app.compliance.measures, d.COMPLIANCE_MEASURES_MISSING, found)
    if app.signature.head_of_authority_signed is not True:
        found.append(d.SIGNATURE_MISSING())
    if app.signature.official_seal is not True:
        found.append(d.OFFICIAL_SEAL_MISSING())

    channel = _enum_value(
        Netzzugang, app.network.channel, d.NETWORK_CHANNEL_MISSING, d.NETWORK_CHANNEL_UNKNOWN, found
    )
    reason = None if _blank(app.network.reason_if_other) else app.network.reason_if_other
    if channel is Netzzugang.SONSTIGER and reason is None:
        found.append(d.NETWORK_REASON_MISSING())

    logging_arrangement: Protokollierung | None = None
    if access is Zugangsart.SICHERHEITSBEHOERDE:
        logging_arrangement = _enum_value(
            Protokollierung,
            app.logging_arrangement,
            d.LOGGING_ARRANGEMENT_MISSING,
            d.LOGGING_ARRANGEMENT_UNKNOWN,
            found,
        )
    # for einfache Behördenauskunft the operator logs (§ 40 Abs. 1, 2 BMG); a tick is irrelevant

    fingerprint = None
    if not _blank(app.client_certificate_fingerprint):
        fingerprint = normalise_fingerprint(app.client_certificate_fingerprint)  # type: ignore[arg-type]
        if not _FINGERPRINT.match(fingerprint):
            found.append(d.CLIENT_CERTIFICATE_FINGERPRINT_INVALID())

    if found:
        return found
    # no defect: every required item is present; CompleteApplication re-checks the types
    return CompleteApplication(
        application_id=app.application_id,
        authority_key=authority_key(auth.identifier, name, postcode),
        access_type=access,
        authority_name=name,
        authority_kind=kind,
        authority_state=state,
        authority_identifier=auth.identifier or None,
        administrator=CompleteAdministrator(
            salutation=salutation,
            first_name=first_name,
            surname=surname,
            email=email,
            phone=phone,
            office_name=office,
            street_and_number=street,
            postcode=postcode,
            town=town,
            smime_certificate_pem=smime,
        ),
        compliance_measures=measures,
        signatory=app.signature.signatory,
        signed_on=app.signature.signed_on,
        network_channel=channel,
        network_reason=reason,
        logging_arrangement=logging_arrangement,
        only_administrator_change=app.only_administrator_change,
        client_certificate_fingerprint=fingerprint,
    )


def needs_duplicate_check(complete: CompleteApplication) -> bool:
    # an administrator change concerns an existing tenant; it may follow its application
    return not complete.only_administrator_change


def decide(
    app: ApplicationSubmitted,
    assessment: CompleteApplication | list[Mangel],
    *,
    now: datetime,
    open_application_id: str | None,
) -> Decision:
    """The outcome: incomplete with every defect; refused where the authority already has an
    application for the role that is open or approved (one access per role, seed 000); or
    accepted for legal review."""
    if isinstance(assessment, list):
        return Decision(
            Status.INCOMPLETE,
            ApplicationIncomplete(
                application_id=app.application_id,
                contact=Kontakt.of(app.authority.name, app.administrator),
                defects=assessment,
                decided_at=now,
            ),
        )
    if open_application_id is not None and needs_duplicate_check(assessment):
        return Decision(
            Status.REFUSED,
            ApplicationRefused(
                application_id=app.application_id,
                contact=Kontakt.of(app.authority.name, app.administrator),
                reason_code=Refusal.DUPLICATE_APPLICATION_FOR_ROLE,
                message=(
                    "Für diese Behörde liegt bereits ein Antrag auf Zugang derselben Art vor, der "
                    f"bearbeitet wird oder bewilligt ist (Antrag {open_application_id}). Je Rolle "
                    "gibt es einen Zugang; soll nur die Administratorin bzw. der Administrator "
                    "geändert werden, ist dies im Antrag anzukreuzen."
                ),
                conflicting_application_id=open_application_id,
                decided_at=now,
            ),
            assessment.authority_key,
            assessment.access_type,
        )
    return Decision(
        Status.ACCEPTED,
        ApplicationAccepted(application=assessment, accepted_at=now),
        assessment.authority_key,
        assessment.access_type,
    )
