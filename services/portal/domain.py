"""The portal's rules, free of I/O (§§ 44, 49 BMG; PortalV §§ 2–4).

- Registration (PortalV § 2 Nr. 1): a natural person with name, birth date, address and the
  reference of the identity document checked; a company with its name, register court and
  number, address and the person responsible. Every defect is listed at once, as intake does.
- Request: only a registered requester who has set their own password; the declaration that the
  data serve neither advertising nor address trading (§ 44 Abs. 3 Nr. 2 BMG); a commercial use
  states its purpose (§ 44 Abs. 1 Satz 2), which must not be advertising or address trading;
  the person sought identified as § 49 Abs. 4 demands (`shared.law.melderegisterauskunft`).
- Fees (§ 49 Abs. 3 Nr. 4 BMG): each office's schedule, by the longest AGS prefix configured
  (an office, a district, a state, or `*`), per kind of answer; the monthly statements per
  requester and per office.
"""

from __future__ import annotations

import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from shared.contract.events.abruf import Ergebnisstatus, Nichterstellung
from shared.contract.events.account import Postanschrift
from shared.contract.events.portal import (
    Abrechnungsart,
    Abrechnungsposten,
    AnfragendenAnschrift,
    Anfragendenart,
    GewerblicherZweck,
    PortalRequest,
    RegistrationSubmitted,
    Registrierungsmangel,
    Registrierungsstatus,
    RequesterAction,
    Statement,
    VerantwortlichePerson,
)
from shared.law.abruf import ablehnung
from shared.law.aufbewahrung import BERLIN
from shared.law.melderegisterauskunft import pruefe_identifizierung
from shared.platform.passwords import ascii_slug
from shared.platform.signin import MAX_FAILED_LOGINS

IDENTITAETSNACHWEISE = frozenset({"personalausweis", "reisepass", "eid", "aufenthaltstitel"})
# § 8 HRV and the other registers: HRA, HRB, Genossenschafts-, Partnerschafts-, Vereinsregister
_REGISTERNUMMER = re.compile(r"^(HRA|HRB|GnR|PR|VR|GsR)\s?\d{1,6}(\s?[A-Z]{1,2})?$")
_PLZ = re.compile(r"^\d{5}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SCHLUESSEL = re.compile(r"^[0-9a-fA-F]{64}$")
VERBOTENE_ZWECKE = frozenset({GewerblicherZweck.WERBUNG, GewerblicherZweck.ADRESSHANDEL})


# -- registration --------------------------------------------------------------------------


def _mangel(code: str, feld: str, text: str) -> Registrierungsmangel:
    return Registrierungsmangel(code=code, feld=feld, text=text)


def _fehlt(feld: str, was: str) -> Registrierungsmangel:
    return _mangel("FEHLT", feld, f"{was} fehlt.")


def maengel(reg: RegistrationSubmitted, heute: date) -> list[Registrierungsmangel]:
    """Everything that keeps the requester's identity from being established (PortalV § 2
    Nr. 1), or the answers from being encrypted for them (§ 4 Nr. 1)."""
    found: list[Registrierungsmangel] = []
    if reg.art is Anfragendenart.NATUERLICHE_PERSON:
        if not reg.vorname:
            found.append(_fehlt("vorname", "Der Vorname"))
        if not reg.familienname:
            found.append(_fehlt("familienname", "Der Familienname"))
        if reg.geburtsdatum is None:
            found.append(_fehlt("geburtsdatum", "Das Geburtsdatum"))
        elif reg.geburtsdatum >= heute:
            found.append(
                _mangel(
                    "UNGUELTIG",
                    "geburtsdatum",
                    "Das Geburtsdatum liegt nicht in der Vergangenheit.",
                )
            )
        nachweis = reg.identitaetsnachweis
        if nachweis is None or not nachweis.art or not nachweis.referenz:
            found.append(
                _fehlt(
                    "identitaetsnachweis",
                    "Der Identitätsnachweis (Art des Dokuments und Referenz der Prüfung)",
                )
            )
        elif nachweis.art.lower() not in IDENTITAETSNACHWEISE:
            found.append(
                _mangel(
                    "UNGUELTIG",
                    "identitaetsnachweis.art",
                    "Als Identitätsnachweis gelten Personalausweis, Reisepass, eID oder "
                    "Aufenthaltstitel.",
                )
            )
    else:
        if not reg.firma:
            found.append(_fehlt("firma", "Die Firma"))
        register = reg.handelsregister
        if register is None or not register.registergericht:
            found.append(_fehlt("handelsregister.registergericht", "Das Registergericht"))
        if register is None or not register.registernummer:
            found.append(_fehlt("handelsregister.registernummer", "Die Registernummer"))
        elif not _REGISTERNUMMER.match(register.registernummer):
            found.append(
                _mangel(
                    "UNGUELTIG",
                    "handelsregister.registernummer",
                    "Die Registernummer ist als Registerart und Nummer anzugeben, z. B. HRB 12345.",
                )
            )
        person = reg.verantwortliche_person
        if person is None or not person.vorname or not person.familienname:
            found.append(
                _fehlt(
                    "verantwortliche_person", "Die verantwortliche Person (Vor- und Familienname)"
                )
            )
    a = reg.anschrift
    if a is None or not a.strasse_hausnummer:
        found.append(_fehlt("anschrift.strasse_hausnummer", "Straße und Hausnummer"))
    if a is None or not a.ort:
        found.append(_fehlt("anschrift.ort", "Der Ort"))
    if a is None or not a.postleitzahl:
        found.append(_fehlt("anschrift.postleitzahl", "Die Postleitzahl"))
    elif a.staat == "Deutschland" and not _PLZ.match(a.postleitzahl):
        found.append(
            _mangel("UNGUELTIG", "anschrift.postleitzahl", "Die Postleitzahl hat fünf Ziffern.")
        )
    if not reg.email:
        found.append(_fehlt("email", "Die E-Mail-Adresse (für den Accountnamen)"))
    elif not _EMAIL.match(reg.email):
        found.append(_mangel("UNGUELTIG", "email", "Die E-Mail-Adresse ist ungültig."))
    if not reg.antwortschluessel:
        found.append(
            _fehlt(
                "antwortschluessel",
                "Der öffentliche Schlüssel, für den die Auskünfte verschlüsselt werden "
                "(§ 4 Nr. 1 PortalV)",
            )
        )
    elif not _SCHLUESSEL.match(reg.antwortschluessel):
        found.append(
            _mangel(
                "UNGUELTIG",
                "antwortschluessel",
                "Der Schlüssel ist als X25519-Schlüssel (32 Bytes, hexadezimal) anzugeben.",
            )
        )
    return found


def name_of(reg: RegistrationSubmitted) -> str:
    if reg.art is Anfragendenart.UNTERNEHMEN:
        return reg.firma or ""
    return " ".join(p for p in (reg.vorname, reg.familienname) if p)


def postanschrift(reg: RegistrationSubmitted) -> Postanschrift:
    """The letter goes to the person, or to the company for the attention of its responsible
    person; only registrations without defects get here."""
    a = reg.anschrift or AnfragendenAnschrift()
    wo = {
        "street_and_number": a.strasse_hausnummer or "",
        "postcode": a.postleitzahl or "",
        "town": a.ort or "",
    }
    if reg.art is Anfragendenart.UNTERNEHMEN:
        p = reg.verantwortliche_person or VerantwortlichePerson()
        return Postanschrift(
            salutation=p.anrede.value if p.anrede else None,
            first_name=p.vorname or "",
            surname=p.familienname or "",
            authority_name=reg.firma,
            **wo,
        )
    return Postanschrift(
        salutation=reg.anrede.value if reg.anrede else None,
        first_name=reg.vorname or "",
        surname=reg.familienname or "",
        **wo,
    )


def kennung_fuer(name: str) -> str:
    """e.g. `anf-weissmueller-7kq2mx`: readable, and not guessable from the name alone."""
    suffix = "".join(secrets.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(6))
    return f"anf-{ascii_slug(name)[:24] or 'x'}-{suffix}"


@dataclass(frozen=True)
class Entscheidungsfehler:
    grund: str
    text: str


# what an operator's requester command does to an approved account (PortalV § 1 Abs. 2: the
# portal keeps its own user management): from which states, to which
REQUESTER_TRANSITIONS: dict[
    RequesterAction, tuple[frozenset[Registrierungsstatus], Registrierungsstatus]
] = {
    RequesterAction.LOCK: (
        frozenset({Registrierungsstatus.ZUGELASSEN, Registrierungsstatus.AUSGESETZT}),
        Registrierungsstatus.GESPERRT,
    ),
    RequesterAction.UNLOCK: (
        frozenset({Registrierungsstatus.GESPERRT, Registrierungsstatus.ZUGELASSEN}),
        Registrierungsstatus.ZUGELASSEN,
    ),
    RequesterAction.SUSPEND: (
        frozenset({Registrierungsstatus.ZUGELASSEN}),
        Registrierungsstatus.AUSGESETZT,
    ),
    RequesterAction.LIFT: (
        frozenset({Registrierungsstatus.AUSGESETZT}),
        Registrierungsstatus.ZUGELASSEN,
    ),
}


def requester_change(
    status: Registrierungsstatus | None,
    failed_logins: int,
    action: RequesterAction,
    operator_id: str,
    operators: frozenset[str],
) -> Registrierungsstatus | Entscheidungsfehler:
    """The account's status after the command, or why it cannot be applied. Unlocking an
    approved account is what ends a lock after five failed sign-ins (it forgets them)."""
    if operator_id not in operators:
        return Entscheidungsfehler(
            "OPERATOR_UNBEKANNT", f"{operator_id} darf Konten des Portals nicht ändern."
        )
    if status is None:
        return Entscheidungsfehler("UNBEKANNT", "Die Registrierung ist unbekannt.")
    allowed, after = REQUESTER_TRANSITIONS[action]
    if status not in allowed or (
        action is RequesterAction.UNLOCK
        and status is Registrierungsstatus.ZUGELASSEN
        and failed_logins < MAX_FAILED_LOGINS
    ):
        return Entscheidungsfehler(
            "NICHT_ANWENDBAR",
            f"Die Registrierung ist {status.value}; {action.value} ist darauf nicht anwendbar.",
        )
    return after


def pruefe_entscheidung(
    status: Registrierungsstatus | None, operator_id: str, operators: frozenset[str]
) -> Entscheidungsfehler | None:
    if operator_id not in operators:
        return Entscheidungsfehler(
            "OPERATOR_UNBEKANNT", f"{operator_id} darf über Registrierungen nicht entscheiden."
        )
    if status is None:
        return Entscheidungsfehler("UNBEKANNT", "Die Registrierung ist unbekannt.")
    if status is not Registrierungsstatus.IN_PRUEFUNG:
        return Entscheidungsfehler(
            "NICHT_IN_PRUEFUNG",
            f"Die Registrierung ist {status.value}; entschieden wird nur über vollständige, "
            "noch offene Registrierungen.",
        )
    return None


# -- requests ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Anfragender:
    """What a request is authorised from: the requester's account."""

    kennung: str
    registration_id: str
    status: Registrierungsstatus
    must_change_password: bool


def _abgelehnt(grund: str, text: str) -> Nichterstellung:
    return ablehnung("17", grund, text)


def pruefe_anfrage(
    request: PortalRequest, anfragender: Anfragender | None
) -> Nichterstellung | None:
    """Whether the portal may forward the request to the register; the first problem, or None."""
    if anfragender is None:
        return _abgelehnt("ANFRAGENDER_UNBEKANNT", "Die Kennung ist im Portal nicht registriert.")
    if anfragender.status is not Registrierungsstatus.ZUGELASSEN:
        return _abgelehnt("ANFRAGENDER_GESPERRT", "Die Kennung ist nicht zur Anfrage zugelassen.")
    if anfragender.must_change_password:
        return _abgelehnt(
            "ERSTANMELDUNG_OFFEN",
            "Vor der ersten Anfrage ist das Initialpasswort bei der Anmeldung zu ändern.",
        )
    if not request.erklaerung_keine_werbung_kein_adresshandel:
        return _abgelehnt(
            "ERKLAERUNG_FEHLT",
            "Die Erklärung, die Daten nicht für Zwecke der Werbung oder des Adresshandels zu "
            "verwenden, fehlt; ohne sie wird keine Auskunft erteilt (§ 44 Abs. 3 Nr. 2 BMG).",
        )
    if request.gewerblicher_zweck in VERBOTENE_ZWECKE:
        return _abgelehnt(
            "ZWECK_UNZULAESSIG",
            "Für Zwecke der Werbung oder des Adresshandels wird keine Auskunft erteilt "
            "(§ 44 Abs. 3 Nr. 2 BMG).",
        )
    if request.gewerblich and request.gewerblicher_zweck is None:
        return _abgelehnt(
            "GEWERBLICHER_ZWECK_FEHLT",
            "Werden die Daten für gewerbliche Zwecke verwendet, ist der Zweck anzugeben "
            "(§ 44 Abs. 1 Satz 2 BMG).",
        )
    if request.gewerblicher_zweck is GewerblicherZweck.SONSTIGER and not request.zweck_beschreibung:
        return _abgelehnt(
            "GEWERBLICHER_ZWECK_FEHLT",
            "Ein sonstiger gewerblicher Zweck ist zu beschreiben (§ 44 Abs. 1 Satz 2 BMG).",
        )
    return pruefe_identifizierung(request.gemeindeschluessel, request.identifizierung)


# -- fees ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tarif:
    """One office's fees in cent, by kind of answer."""

    eindeutig: int
    neutral: int


Gebuehrenordnung = Mapping[str, Tarif]  # AGS prefix (8, 5 or 2 digits) or "*" -> Tarif


def gebuehrenordnung(config: Mapping[str, Mapping[str, int]]) -> dict[str, Tarif]:
    """From the setting: {"03": {"eindeutig": 700, "neutral": 700}, "03241001": {...}, ...}."""
    schedule = {}
    for prefix, fees in config.items():
        if prefix != "*" and not re.fullmatch(r"\d{2}|\d{5}|\d{8}", prefix):
            raise ValueError(f"fee schedule: {prefix!r} is neither an AGS prefix nor '*'")
        tarif = Tarif(int(fees["eindeutig"]), int(fees["neutral"]))
        if tarif.eindeutig < 0 or tarif.neutral < 0:
            raise ValueError(f"fee schedule: negative fee for {prefix}")
        schedule[prefix] = tarif
    return schedule


def gebuehr(
    schedule: Gebuehrenordnung, gemeindeschluessel: str, status: Ergebnisstatus
) -> tuple[str | None, int]:
    """The schedule that applies to the answering office and the fee for this answer; (None, 0)
    where no schedule is configured. Only answers a register gave are charged; a refusal, or
    a technical error, costs nothing."""
    for prefix in (gemeindeschluessel, gemeindeschluessel[:5], gemeindeschluessel[:2], "*"):
        tarif = schedule.get(prefix)
        if tarif is not None:
            betrag = tarif.eindeutig if status is Ergebnisstatus.EINDEUTIG else tarif.neutral
            return prefix, betrag
    return None, 0


@dataclass(frozen=True)
class Buchung:
    vorgangsnummer: str
    kennung: str
    gemeindeschluessel: str
    ergebnisstatus: Ergebnisstatus
    betrag_cent: int


def _posten(gegenueber: str, buchungen: list[Buchung]) -> Abrechnungsposten:
    return Abrechnungsposten(
        gegenueber=gegenueber,
        eindeutig=sum(1 for b in buchungen if b.ergebnisstatus is Ergebnisstatus.EINDEUTIG),
        neutral=sum(1 for b in buchungen if b.ergebnisstatus is not Ergebnisstatus.EINDEUTIG),
        betrag_cent=sum(b.betrag_cent for b in buchungen),
    )


def abrechnungen(
    buchungen: Iterable[Buchung], monat: str, abgeschlossen: bool, now: datetime
) -> list[Statement]:
    """The month's statements: one per requester (its lines per office) and one per office (its
    lines per requester). Both sides sum the same bookings."""
    gruppen: dict[tuple[Abrechnungsart, str], dict[str, list[Buchung]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for b in buchungen:
        gruppen[(Abrechnungsart.ANFRAGENDER, b.kennung)][b.gemeindeschluessel].append(b)
        gruppen[(Abrechnungsart.MELDEBEHOERDE, b.gemeindeschluessel)][b.kennung].append(b)
    out = []
    for (art, empfaenger), zeilen in sorted(gruppen.items()):
        posten = [_posten(g, bs) for g, bs in sorted(zeilen.items())]
        out.append(
            Statement(
                statement_id=f"{monat}:{art.value}:{empfaenger}",
                art=art,
                monat=monat,
                empfaenger=empfaenger,
                posten=posten,
                anzahl=sum(p.eindeutig + p.neutral for p in posten),
                summe_cent=sum(p.betrag_cent for p in posten),
                abgeschlossen=abgeschlossen,
                created_at=now,
            )
        )
    return out


def monat_von(at: datetime) -> str:
    """The accounting month of a booking, Berlin time."""
    return f"{at.astimezone(BERLIN):%Y-%m}"


def monatsgrenzen(monat: str) -> tuple[datetime, datetime]:
    """The month's start and the next month's start, Berlin time."""
    year, month = (int(p) for p in monat.split("-"))
    start = datetime(year, month, 1, tzinfo=BERLIN)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=BERLIN)
    return start, end


def vorheriger_monat(monat: str) -> str:
    year, month = (int(p) for p in monat.split("-"))
    return f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"
