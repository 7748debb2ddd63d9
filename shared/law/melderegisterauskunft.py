"""The law of the simple registry information through a portal in one place (§ 44, § 49 Abs. 4
and 5 BMG): how the person sought must be identified, and what the answer holds.

Pure functions: the portal checks a request with them before it goes to a register, and the
register checks again before it searches, so that no register answers a request the law does not
allow, whoever sent it. Refusals reuse the XMeld-style `Nichterstellung` of the authority path.
"""

from __future__ import annotations

import re

from shared.contract.events.abruf import Nichterstellung, Suchkriterien
from shared.contract.events.portal import Identifizierung
from shared.contract.laender import land_of
from shared.law.abruf import MAX_TEXT, ablehnung
from shared.law.suchnormalisierung import has_wildcard

# § 49 Abs. 5 BMG: the further items, by number; date and place of a marriage are one item
ZUSATZMERKMALE: dict[str, int] = {
    "ordensname": 1,
    "kuenstlername": 2,
    "geburtsdatum": 3,
    "geburtsort": 4,
    "geschlecht": 5,
    "gesetzlicher_vertreter": 6,
    "einzugsdatum": 7,
    "auszugsdatum": 8,
    "familienstand": 9,
    "eheschliessung_datum": 10,
    "eheschliessung_ort": 10,
    "ehegatte": 11,
    "sterbedatum": 12,
    "sterbeort": 13,
}
GESCHLECHT, FAMILIENSTAND = 5, 9
DATUMSFELDER = (
    "geburtsdatum",
    "einzugsdatum",
    "auszugsdatum",
    "eheschliessung_datum",
    "sterbedatum",
)
NEUTRALE_AUSKUNFT = (
    "Eine Auskunft kann nicht erteilt werden: Die Person wurde nicht eindeutig identifiziert, "
    "oder der Auskunft steht ein gesetzlicher Hinderungsgrund entgegen (§§ 44, 49, 51, 52 BMG)."
)
# § 44 Abs. 1 Satz 1 BMG: the only data a simple registry information gives
AUSKUNFTSDATEN = ("familienname", "vornamen", "doktorgrad", "derzeitige_anschriften", "verstorben")
_DATUM = re.compile(r"^\d{8}$")
_AGS = re.compile(r"^\d{8}$")


def _unzulaessig(grund: str, text: str) -> Nichterstellung:
    return ablehnung("18", grund, text)


def hat_anschrift(i: Identifizierung) -> bool:
    """An address in the municipality asked: the street and the house number."""
    return bool(i.strasse and i.hausnummer)


def zusatzmerkmale(i: Identifizierung) -> set[int]:
    given = i.given()
    return {nr for name, nr in ZUSATZMERKMALE.items() if name in given}


def pruefe_identifizierung(gemeindeschluessel: str, i: Identifizierung) -> Nichterstellung | None:
    """Whether the person sought is identified as § 49 Abs. 4 Nr. 1 BMG demands; the first
    problem found, or None."""
    if not _AGS.match(gemeindeschluessel) or land_of(gemeindeschluessel) is None:
        return ablehnung(
            "17",
            "AGS_UNGUELTIG",
            "Die Anfrage muss die Meldebehörde mit ihrem amtlichen Gemeindeschlüssel (8 Ziffern) "
            "nennen.",
        )
    given = i.given()
    for name, value in given.items():
        if len(value) > MAX_TEXT:
            return ablehnung("17", "TEXT_ZU_LANG", f"Das Feld '{name}' ist zu lang.")
        if has_wildcard(value):
            return ablehnung(
                "17",
                "PLATZHALTER_UNZULAESSIG",
                "Platzhalter sind in der automatisierten Melderegisterauskunft nicht zulässig; "
                "die Person ist eindeutig zu bezeichnen (§ 49 Abs. 4 BMG).",
            )
    for name in DATUMSFELDER:
        value = given.get(name)
        if value and not _DATUM.match(value):
            return ablehnung("17", "FORMAT", f"'{name}' ist als JJJJMMTT anzugeben.")
    if not (i.familienname or i.frueherer_name) or not i.vornamen:
        return _unzulaessig(
            "NAME_FEHLT",
            "Die Person ist mit dem Familiennamen oder einem früheren Familiennamen und "
            "mindestens einem Vornamen zu bezeichnen (§ 49 Abs. 4 Nr. 1 BMG).",
        )
    merkmale = zusatzmerkmale(i)
    if {GESCHLECHT, FAMILIENSTAND} <= merkmale:
        return _unzulaessig(
            "GESCHLECHT_MIT_FAMILIENSTAND",
            "Geschlecht und Familienstand dürfen nicht zusammen verwendet werden "
            "(§ 49 Abs. 4 Nr. 1, Abs. 5 Nr. 5 und 9 BMG).",
        )
    if not hat_anschrift(i) and len(merkmale) < 2:
        return _unzulaessig(
            "IDENTIFIZIERUNG_UNZUREICHEND",
            "Zum Namen ist eine Anschrift (Straße und Hausnummer) oder sind zwei weitere Daten "
            "nach § 49 Abs. 5 BMG anzugeben (§ 49 Abs. 4 Nr. 1 BMG).",
        )
    return None


def suchkriterien(i: Identifizierung) -> Suchkriterien:
    """What the register's name index is searched with; the other items are compared with the
    candidates' records."""
    return Suchkriterien(
        familienname=i.familienname,
        frueherer_name=i.frueherer_name,
        vornamen=i.vornamen,
        ordensname=i.ordensname,
        kuenstlername=i.kuenstlername,
        geburtsdatum=i.geburtsdatum,
        geburtsort=i.geburtsort,
        geschlecht=i.geschlecht,
        strasse=i.strasse,
        hausnummer=i.hausnummer,
        postleitzahl=i.postleitzahl,
        sterbedatum=i.sterbedatum,
        sterbeort=i.sterbeort,
    )
