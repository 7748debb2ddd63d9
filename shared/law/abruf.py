"""The law of the automated retrieval in one place: what a request must carry, which search
criteria and data items a requester may use, and the reasons a request is refused.

Sources (current law, see `docs/architecture.md`): § 34 Abs. 1, § 34a, § 38 Abs. 1 and 2 BMG;
BMeldDAV 2021 §§ 4–11 and its Anlage (Nr. 2: exactly one AGS in Personensuche; Nr. 7: wildcards;
Nr. 8: 120 characters); XMeld code lists `datenabruf.ergebnisstatus` and
`datenabruf.nichterstellung.grund`. Codes 04–08 name the data item the requester is not entitled
to (weapons, explosives, identity documents, § 3 Abs. 2 Nr. 4, Wohnungsgeber); reasons the code
list has no code of its own for use 17 (sonstiger Grund) with our own `grund`.

Pure functions: the router checks a query with them before routing it, and the register checks
the request again before it searches, so that a register never answers a request the law does
not allow, whoever sent it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.contract.events.abruf import (
    Anfragende,
    Datenelement,
    Nichterstellung,
    QueryRequested,
    RegisterRequest,
    Suchart,
    Suchkriterien,
)
from shared.contract.events.application import SICHERHEITSBEHOERDEN, Behoerdenart, Zugangsart
from shared.contract.laender import land_of
from shared.law.suchnormalisierung import has_wildcard, wildcard_fehler

MAX_TEXT = 120  # BMeldDAV Anlage Nr. 8
MAX_TREFFER = 1000  # BMeldDAV § 1 Abs. 4: hit and result lists, no lower cap allowed
IDENTIFIKATIONSMERKMAL_GUELTIG_STUNDEN = 48  # BMeldDAV § 9
NEUTRALE_ANTWORT = (
    "Die Person wurde nicht identifiziert oder es liegt eine Auskunftssperre vor. "
    "Das Ersuchen wird, sofern nicht darauf verzichtet wurde, von der zuständigen Meldebehörde "
    "weiterbearbeitet."
)

# § 38 Abs. 1 BMG, BMeldDAV § 4: what a Personensuche may be asked with
PERSONENSUCHE_KRITERIEN = frozenset(
    {
        "familienname",
        "frueherer_name",
        "vornamen",
        "ordensname",
        "kuenstlername",
        "geburtsdatum",
        "geburtsort",
        "geschlecht",
        "strasse",
        "hausnummer",
        "postleitzahl",
        "sterbedatum",
        "sterbeort",
    }
)
# § 38 Abs. 1: besides the name and the Wohnort (the AGS), one of these
PERSONENSUCHE_ZUSATZ = (
    "strasse",
    "geburtsdatum",
    "geburtsort",
    "geschlecht",
    "sterbedatum",
    "sterbeort",
)
# § 38 Abs. 2 BMG, BMeldDAV § 7: freie Suche criteria (§ 34 Abs. 1 Satz 1 data) ...
FREIE_SUCHE_KRITERIEN = PERSONENSUCHE_KRITERIEN | {
    "geburtsdatum_bis",
    "staatsangehoerigkeit",
    "familienstand",
}
# ... and for security authorities also § 34 Abs. 1 Satz 2 Nr. 3
FREIE_SUCHE_SICHERHEIT = frozenset(
    {"waffenrechtliche_erlaubnis", "sprengstoffrechtliche_erlaubnis"}
)
# the XMeld code for a criterion or data item the requester is not entitled to
KRITERIUM_CODE = {
    "waffenrechtliche_erlaubnis": "04",
    "sprengstoffrechtliche_erlaubnis": "05",
    "ausweis_seriennummer": "06",
    "wohnungsgeber": "08",
}


@dataclass(frozen=True)
class Umfang:
    """Who receives a data item in which search, and why (one row of `DATENUMFANG`)."""

    quelle: str  # where § 34 Abs. 1 BMG lists the item
    personensuche: Zugangsart | None  # the least access that receives it: EINFACHE = everybody
    freie_suche: Zugangsart | None  # None: not in a freie Suche at all
    freie_suche_quelle: str


EINFACH, SICHER = Zugangsart.EINFACHE_BEHOERDENAUSKUNFT, Zugangsart.SICHERHEITSBEHOERDE
_S1_FREI = "§ 34a Abs. 3 Satz 1"
# The scope of the automated retrieval, item by item (§ 34a Abs. 2 and 3 BMG). Personensuche:
# all § 34 Abs. 1 Satz 1 data for every public body, Satz 2 for § 34 Abs. 4 Satz 1 authorities
# only. freie Suche: Satz 1 Nr. 1–8 and 16 and the current main or sole address for every public
# body; security authorities also the Einzugsdatum (Nr. 10) and Satz 2 Nr. 1, 3 and 4.
DATENUMFANG: dict[Datenelement, Umfang] = {
    Datenelement.NAMEN: Umfang("§ 34 Abs. 1 Satz 1 Nr. 1–5", EINFACH, EINFACH, _S1_FREI),
    Datenelement.GEBURT: Umfang("§ 34 Abs. 1 Satz 1 Nr. 6", EINFACH, EINFACH, _S1_FREI),
    Datenelement.GESCHLECHT: Umfang("§ 34 Abs. 1 Satz 1 Nr. 7", EINFACH, EINFACH, _S1_FREI),
    Datenelement.STAATSANGEHOERIGKEITEN: Umfang(
        "§ 34 Abs. 1 Satz 1 Nr. 8", EINFACH, EINFACH, _S1_FREI
    ),
    # the freie Suche gives the current main address only, and its Einzugsdatum only to
    # security authorities (§ 34a Abs. 3 Satz 2); no move-out dates
    Datenelement.ANSCHRIFTEN: Umfang(
        "§ 34 Abs. 1 Satz 1 Nr. 9, 10", EINFACH, EINFACH, f"{_S1_FREI} (Hauptwohnung), Satz 2"
    ),
    Datenelement.GESETZLICHER_VERTRETER: Umfang(
        "§ 34 Abs. 1 Satz 1 Nr. 11", EINFACH, None, _S1_FREI
    ),
    Datenelement.FAMILIENSTAND: Umfang("§ 34 Abs. 1 Satz 1 Nr. 12", EINFACH, None, _S1_FREI),
    Datenelement.EHEGATTE: Umfang("§ 34 Abs. 1 Satz 1 Nr. 13", EINFACH, None, _S1_FREI),
    Datenelement.KINDER: Umfang("§ 34 Abs. 1 Satz 1 Nr. 14", EINFACH, None, _S1_FREI),
    Datenelement.STERBEDATEN: Umfang("§ 34 Abs. 1 Satz 1 Nr. 16", EINFACH, EINFACH, _S1_FREI),
    Datenelement.AUSWEISDATEN: Umfang(
        "§ 34 Abs. 1 Satz 2 Nr. 1", SICHER, SICHER, "§ 34a Abs. 3 Satz 2"
    ),
    Datenelement.PASSVERSAGUNG: Umfang("§ 34 Abs. 1 Satz 2 Nr. 2", SICHER, None, _S1_FREI),
    Datenelement.WAFFEN_SPRENGSTOFF: Umfang(
        "§ 34 Abs. 1 Satz 2 Nr. 3", SICHER, SICHER, "§ 34a Abs. 3 Satz 2"
    ),
    Datenelement.WOHNUNGSGEBER: Umfang(
        "§ 34 Abs. 1 Satz 2 Nr. 4", SICHER, SICHER, "§ 34a Abs. 3 Satz 2"
    ),
}
# the XMeld code for a Satz 2 item asked for by a body that may not have it
SATZ_2 = {
    Datenelement.WAFFEN_SPRENGSTOFF: "04",
    Datenelement.AUSWEISDATEN: "06",
    Datenelement.PASSVERSAGUNG: "07",
    Datenelement.WOHNUNGSGEBER: "08",
}


def _erlaubt(zugang: Zugangsart | None, zugangsart: Zugangsart) -> bool:
    return zugang is EINFACH or (zugang is SICHER and zugangsart is SICHER)


# § 34a Abs. 6 BMG: these § 34 Abs. 4 Satz 1 authorities (Nr. 1 and 6–9) receive an answer despite
# an Auskunftssperre that no authority of § 34 Abs. 5 Satz 1 had set, if only the head of the body
# or staff it specially authorised receive it
SPERRE_ABS_6_STELLEN = frozenset(
    {
        Behoerdenart.POLIZEI,
        Behoerdenart.VERFASSUNGSSCHUTZ,
        Behoerdenart.BUNDESNACHRICHTENDIENST,
        Behoerdenart.MILITAERISCHER_ABSCHIRMDIENST,
        Behoerdenart.ZOLLFAHNDUNG,
    }
)


def ist_sicherheitsbehoerde(stelle: Behoerdenart | None) -> bool:
    """§ 34 Abs. 4 Satz 1 BMG: the body itself, whatever access it applied for."""
    return stelle in SICHERHEITSBEHOERDEN


_DATUM = re.compile(r"^\d{8}$")
_AGS = re.compile(r"^(\d{2}|\d{5}|\d{8})$")


def ablehnung(code: str, grund: str, text: str) -> Nichterstellung:
    return Nichterstellung(code=code, grund=grund, text=text)


def technischer_fehler(text: str) -> Nichterstellung:
    return ablehnung("16", "TECHNISCHER_FEHLER", text)


def datenelemente(zugangsart: Zugangsart, suchart: Suchart) -> frozenset[Datenelement]:
    """The data items a requester of this kind receives in this kind of search (`DATENUMFANG`)."""
    return frozenset(
        element
        for element, umfang in DATENUMFANG.items()
        if _erlaubt(
            umfang.freie_suche if suchart is Suchart.FREIE_SUCHE else umfang.personensuche,
            zugangsart,
        )
    )


def gelieferte_datenelemente(
    zugangsart: Zugangsart, suchart: Suchart, angefordert: list[Datenelement]
) -> list[Datenelement]:
    """What an answer contains: the requested items (all within scope if none were named)."""
    erlaubt = datenelemente(zugangsart, suchart)
    wanted = set(angefordert) if angefordert else erlaubt
    return sorted(wanted & erlaubt)


def pruefe_anfrage(
    query: QueryRequested | RegisterRequest, zugangsart: Zugangsart
) -> Nichterstellung | None:
    """Whether the request may be carried out as asked; the first problem found, or None."""
    return (
        _pruefe_anfragende(query.anfragende)
        or _pruefe_texte(query.kriterien)
        or _pruefe_datenelemente(query, zugangsart)
        or (
            _pruefe_personensuche(query, zugangsart)
            if query.suchart is Suchart.PERSONENSUCHE
            else _pruefe_freie_suche(query, zugangsart)
        )
    )


def land_der_anfrage(query: QueryRequested | RegisterRequest) -> str | None:
    """The state whose register answers the query (all AGS are checked to be in one state)."""
    lands = {land_of(ags) for ags in query.gemeindeschluessel}
    return lands.pop() if len(lands) == 1 else None


def _pruefe_anfragende(a: Anfragende) -> Nichterstellung | None:
    for name in ("behoerde", "anschrift", "erreichbarkeit", "aktenzeichen", "anlass"):
        if not getattr(a, name):
            return ablehnung(
                "17",
                "PFLICHTANGABE_FEHLT",
                f"Die Angabe '{name}' fehlt; sie ist bei jedem Abruf mitzusenden "
                "(§ 11 Satz 1 BMeldDAV, § 40 Abs. 1 BMG).",
            )
    if not a.kennung and not a.verfahren:
        return ablehnung(
            "17",
            "PFLICHTANGABE_FEHLT",
            "Die Kennung der abrufenden Person oder die Bezeichnung des Verfahrens fehlt "
            "(§ 11 Satz 1 Nr. 6 BMeldDAV, § 40 Abs. 1 Nr. 6 BMG).",
        )
    for name, value in a.model_dump().items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            return _zu_lang(name)
    return None


def _zu_lang(name: str) -> Nichterstellung:
    return ablehnung(
        "17",
        "TEXT_ZU_LANG",
        f"Das Feld '{name}' ist länger als {MAX_TEXT} Zeichen (BMeldDAV Anlage Nr. 8).",
    )


def _pruefe_texte(k: Suchkriterien) -> Nichterstellung | None:
    for name, value in k.given().items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            return _zu_lang(name)
    for name in ("geburtsdatum", "geburtsdatum_bis", "sterbedatum"):
        value = getattr(k, name)
        if value and not _DATUM.match(value):
            return ablehnung(
                "17",
                "FORMAT",
                f"'{name}' ist als JJJJMMTT anzugeben, unbekannte Teile als 00.",
            )
    return None


def _pruefe_datenelemente(
    query: QueryRequested | RegisterRequest, zugangsart: Zugangsart
) -> Nichterstellung | None:
    erlaubt = datenelemente(zugangsart, query.suchart)
    for element in query.angeforderte_daten:
        if element not in erlaubt:
            return ablehnung(
                SATZ_2.get(element, "17"),
                "DATENELEMENT_NICHT_ZULAESSIG",
                f"Zum Abruf des Datums '{element.value}' ist die abrufende Stelle in dieser Suche "
                "nicht berechtigt (§ 34 Abs. 1 Satz 2, § 34a Abs. 2 und 3 BMG).",
            )
    return None


def _kriterium_nicht_zulaessig(name: str, suchart: Suchart) -> Nichterstellung:
    return ablehnung(
        KRITERIUM_CODE.get(name, "17"),
        "KRITERIUM_NICHT_ZULAESSIG",
        f"Das Suchkriterium '{name}' ist für die abrufende Stelle in der "
        f"{'Personensuche' if suchart is Suchart.PERSONENSUCHE else 'freien Suche'} nicht "
        "zulässig (§ 38 Abs. 1 und 2 BMG).",
    )


def _pruefe_personensuche(
    query: QueryRequested | RegisterRequest, zugangsart: Zugangsart
) -> Nichterstellung | None:
    if len(query.gemeindeschluessel) != 1 or not re.match(r"^\d{8}$", query.gemeindeschluessel[0]):
        return ablehnung(
            "18",
            "AGS_NICHT_EINDEUTIG",
            "Die Personensuche muss genau einen amtlichen Gemeindeschlüssel (8 Ziffern) nennen "
            "(BMeldDAV Anlage Nr. 2).",
        )
    if land_of(query.gemeindeschluessel[0]) is None:
        return ablehnung("17", "AGS_UNGUELTIG", "Der Gemeindeschlüssel nennt kein Land.")
    given = query.kriterien.given()
    for name in given:
        if name not in PERSONENSUCHE_KRITERIEN:
            return _kriterium_nicht_zulaessig(name, Suchart.PERSONENSUCHE)
    if any(isinstance(v, str) and has_wildcard(v) for v in given.values()):
        return ablehnung(
            "17",
            "PLATZHALTER_UNZULAESSIG",
            "In der Personensuche sind Platzhalter nicht zulässig (§ 4 Abs. 7 BMeldDAV).",
        )
    if query.identifikationsmerkmal:
        return None  # the follow-up to a hit list names the person by the Merkmal alone
    k = query.kriterien
    name_ok = (
        (k.familienname and k.vornamen)
        or (k.frueherer_name and k.vornamen)
        or k.ordensname
        or k.kuenstlername
    )
    if not name_ok or not any(getattr(k, z) for z in PERSONENSUCHE_ZUSATZ):
        return ablehnung(
            "18",
            "MINDESTKRITERIEN",
            "Die Mindestkriterien nach § 38 Abs. 1 BMG sind nicht erfüllt: Familienname oder "
            "früherer Name mit mindestens einem Vornamen, oder Ordens- oder Künstlername, und "
            "zum Wohnort die Straße, das Geburtsdatum, den Geburtsort, das Geschlecht, das "
            "Sterbedatum oder den Sterbeort.",
        )
    return None


def _pruefe_freie_suche(
    query: QueryRequested | RegisterRequest, zugangsart: Zugangsart
) -> Nichterstellung | None:
    if query.identifikationsmerkmal:
        return ablehnung(
            "01",
            "IDENTIFIKATIONSMERKMAL_UNGUELTIG",
            "Ein Identifikationsmerkmal wird nur in der Personensuche verwendet (§ 4 Abs. 5, § 9 "
            "BMeldDAV).",
        )
    if not query.gemeindeschluessel or not all(_AGS.match(a) for a in query.gemeindeschluessel):
        return ablehnung(
            "17",
            "AGS_UNGUELTIG",
            "Der Suchbereich ist als Gemeinde (8 Ziffern), Landkreis (5) oder Land (2) "
            "anzugeben (BMeldDAV Anlage Nr. 3).",
        )
    if land_der_anfrage(query) is None:
        return ablehnung(
            "22",
            "SUCHBEREICH",
            "Der Suchbereich einer freien Suche muss im Bereich eines Landes liegen; für "
            "jedes Land ist eine eigene Anfrage zu stellen.",
        )
    allowed = FREIE_SUCHE_KRITERIEN | (
        FREIE_SUCHE_SICHERHEIT if zugangsart is Zugangsart.SICHERHEITSBEHOERDE else frozenset()
    )
    given = query.kriterien.given()
    for name in given:
        if name not in allowed:
            return _kriterium_nicht_zulaessig(name, Suchart.FREIE_SUCHE)
    if not given:
        return ablehnung(
            "18", "MINDESTKRITERIEN", "Die freie Suche nennt kein Suchkriterium (§ 38 Abs. 2 BMG)."
        )
    for name, value in given.items():
        if isinstance(value, str) and has_wildcard(value):
            if query.phonetisch:
                return ablehnung(
                    "15",
                    "PLATZHALTER_MIT_PHONETIK",
                    "Platzhalter sind zusammen mit der phonetischen Suche nicht zulässig "
                    "(§ 7 BMeldDAV, Anlage Nr. 7).",
                )
            if name in ("geburtsdatum", "geburtsdatum_bis", "sterbedatum"):
                return ablehnung(
                    "17",
                    "PLATZHALTER_UNZULAESSIG",
                    f"'{name}': kein Platzhalter in Datumsangaben (BMeldDAV Anlage Nr. 7).",
                )
            fehler = wildcard_fehler(value)
            if fehler:
                return ablehnung(
                    "17", "PLATZHALTER_UNZULAESSIG", f"'{name}': {fehler} (BMeldDAV Anlage Nr. 7)"
                )
    return None
