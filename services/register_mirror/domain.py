"""The register's answers (§ 34a BMG, BMeldDAV 2021 §§ 4–9), free of I/O.

The store finds candidates by name and the simple criteria; here they are matched against the
address criteria and turned into the answer: 01 unique hit (only the data in the requester's
scope), 02 hit list (minimal data and an Identifikationsmerkmal per person), 03 the neutral
answer, 04 a freie Suche's result list.

Persons with an Auskunftssperre are never shown and never inferable (§ 34a Abs. 5 Satz 1 BMG):
- a unique hit on one gives the neutral answer, byte for byte the one for "nobody found";
- hit and result lists leave them out (BMeldDAV §§ 6, 8);
- one open and blocked persons together give the neutral answer for the whole query: the open
  person is not uniquely identified (BMeldDAV § 5 Abs. 1), and a hit list of one entry is an
  answer only a block can produce;
- the § 40 log's hits are only the records marked retrievable (§ 40 Abs. 1 Nr. 7), so a neutral
  answer logs no hit. What the registration office needs goes on the hand-over (unless waived,
  § 38 Abs. 5) and the notices the law requires (§ 34 Abs. 5, § 51 Abs. 3).
A block lasts until the registration office lifts it by a delivery (§ 51 Abs. 4: it may extend
it), never silently on its date. § 34a Abs. 6 lets some security authorities' authorised staff
see through a block no security authority caused. A bedingter Sperrvermerk travels with the data
as a flag (§ 21 Abs. 3 NMeldVO).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from shared.contract.events.abruf import (
    Auskunftsart,
    Benachrichtigter,
    Datenelement,
    Ergebnisstatus,
    Identifizierung,
    Nichterstellung,
    RegisterRequest,
    Suchart,
    Suchkriterien,
    Treffer,
)
from shared.contract.events.account import Postanschrift
from shared.contract.events.application import Behoerdenart, Zugangsart
from shared.contract.events.register import (
    Anschrift,
    Auskunftssperre,
    Bezugsperson,
    Lieferart,
    Personendatensatz,
    RegisterDelivery,
)
from shared.law.abruf import (
    MAX_TREFFER,
    NEUTRALE_ANTWORT,
    SPERRE_ABS_6_STELLEN,
    ablehnung,
    gelieferte_datenelemente,
    ist_sicherheitsbehoerde,
)
from shared.law.melderegisterauskunft import AUSKUNFTSDATEN, NEUTRALE_AUSKUNFT, suchkriterien
from shared.law.suchnormalisierung import (
    koelner_phonetik,
    normalise,
    normalise_strasse,
    vornamen_set,
)


class Registerart(StrEnum):
    """Which register a process plays. The state's mirror serves public bodies only (§ 2 Abs. 1,
    § 5 Abs. 1 Satz 4 Nds. AG BMG); a simple registry information for a private requester comes
    from the registration office's own register, which the portal forwards to (§ 49 Abs. 3 Satz 3
    Nr. 2 BMG)."""

    MELDEREGISTERDATENSPIEGEL = "melderegisterdatenspiegel"
    MELDEREGISTER = "melderegister"


@dataclass(frozen=True)
class Register:
    """Which register this process plays: the operator's own state's mirror (which logs
    deliveries from other states' offices as refused rather than ignoring them), another state's
    register or gateway, or the registration offices' registers of the operator's state."""

    land: str
    operator_state: str
    art: Registerart = Registerart.MELDEREGISTERDATENSPIEGEL

    @property
    def own(self) -> bool:
        return self.land == self.operator_state

    @property
    def spiegel(self) -> bool:
        """The operator's own Melderegisterdatenspiegel, bound by Nds. AG BMG § 5."""
        return self.own and self.art is Registerart.MELDEREGISTERDATENSPIEGEL

    @property
    def meldebehoerden(self) -> bool:
        return self.art is Registerart.MELDEREGISTER


def zustaendigkeit(request: RegisterRequest, register: Register) -> Nichterstellung | None:
    """Whether this register may answer the request at all, by its kind and the requester's."""
    portal = request.auskunftsart is Auskunftsart.EINFACHE_MELDEREGISTERAUSKUNFT
    if portal and register.spiegel:
        return ablehnung(
            "17",
            "MELDEBEHOERDE_ZUSTAENDIG",
            "Einfache Melderegisterauskünfte erteilt die Meldebehörde; der "
            "Melderegisterdatenspiegel verarbeitet seine Daten nur für Abrufe öffentlicher "
            "Stellen (§ 5 Abs. 1 Satz 4, § 2 Abs. 1 Nds. AG BMG).",
        )
    if not portal and register.meldebehoerden:
        # public bodies retrieve from the mirror (§ 39 Abs. 3 BMG); this endpoint is the portal's
        return ablehnung(
            "17",
            "NUR_PORTALANFRAGEN",
            "Dieser Zugang der Melderegister nimmt nur Anfragen des Portals an; Abrufe "
            "öffentlicher Stellen gehen an den Melderegisterdatenspiegel.",
        )
    return None


@dataclass(frozen=True)
class Fund:
    """A candidate record: the register entry of one person in one municipality."""

    gemeindeschluessel: str
    datensatz: Personendatensatz

    @property
    def treffer(self) -> Treffer:
        return Treffer(
            gemeindeschluessel=self.gemeindeschluessel,
            ordnungsmerkmal=self.datensatz.ordnungsmerkmal,
        )


@dataclass(frozen=True)
class Benachrichtigung:
    fund: Fund
    empfaenger: Benachrichtigter
    veranlassende_behoerde: str | None


@dataclass
class Antwort:
    ergebnisstatus: Ergebnisstatus | None = None
    nichterstellung: Nichterstellung | None = None
    inhalt: dict[str, Any] | None = None  # what is sealed for the front end
    treffer: list[Treffer] = field(default_factory=list)
    datenelemente: list[Datenelement] = field(default_factory=list)
    uebergaben: list[Fund] = field(default_factory=list)
    benachrichtigungen: list[Benachrichtigung] = field(default_factory=list)
    merkmale: list[tuple[str, Fund]] = field(default_factory=list)
    bedingt: bool = False  # the hand-overs are for a bedingter Sperrvermerk, not a block

    @property
    def anzahl(self) -> int:
        return len(self.treffer)


NEUTRAL_INHALT: dict[str, Any] = {
    "ergebnisstatus": Ergebnisstatus.NEUTRAL.value,
    "hinweis": NEUTRALE_ANTWORT,
}


def abgerufene_daten(request: RegisterRequest, answer: Antwort) -> list[str]:
    """The data an answer gives, for the log (§ 40 Abs. 1 Nr. 2 BMG): a simple registry
    information's are those of § 44 Abs. 1 Satz 1, and only when the person was found."""
    if request.auskunftsart is Auskunftsart.EINFACHE_MELDEREGISTERAUSKUNFT:
        return list(AUSKUNFTSDATEN) if answer.ergebnisstatus is Ergebnisstatus.EINDEUTIG else []
    return [d.value for d in answer.datenelemente]


def gesperrt(d: Personendatensatz) -> bool:
    """One notion of "blocked" for every search: a block is entered until the registration office
    lifts it by a delivery. Its two-year term (§ 51 Abs. 4 BMG) is the office's to extend or end;
    the date the mirror holds is not an end the mirror may act on."""
    return d.auskunftssperre is not None


def sperre_durchbrochen(fund: Fund, request: RegisterRequest) -> bool:
    """§ 34a Abs. 6 BMG: police, Verfassungsschutz, BND, MAD and Zollfahndung (§ 34 Abs. 4 Satz 1
    Nr. 1, 6–9) get the answer despite a block that no § 34 Abs. 5 Satz 1 authority caused, when
    the requesting user is the head of the body or specially authorised by it."""
    sperre = fund.datensatz.auskunftssperre
    return (
        sperre is not None
        and not sperre.veranlasst_von_sicherheitsbehoerde
        and request.auskunftsart is Auskunftsart.BEHOERDENAUSKUNFT
        and request.abrufende_stelle in SPERRE_ABS_6_STELLEN
        and request.sperrdaten_berechtigt
    )


def verborgen(fund: Fund, request: RegisterRequest) -> bool:
    """Whether this requester must not see the record (§ 34a Abs. 5 Satz 1, Abs. 6 BMG)."""
    return gesperrt(fund.datensatz) and not sperre_durchbrochen(fund, request)


# -- index columns: what the store searches by ---------------------------------------------


def suchspalten(gemeindeschluessel: str, d: Personendatensatz) -> dict[str, Any]:
    """The search forms the store keeps beside the record."""
    here = [a for a in d.anschriften if a.derzeitig and a.gemeindeschluessel == gemeindeschluessel]
    haupt = d.hauptwohnung()
    return {
        "gemeindeschluessel": gemeindeschluessel,
        "ordnungsmerkmal": d.ordnungsmerkmal,
        "familienname_n": normalise(d.familienname),
        "familienname_p": koelner_phonetik(d.familienname),
        "fruehere_namen_n": [normalise(n) for n in d.fruehere_namen],
        "fruehere_namen_p": [koelner_phonetik(n) for n in d.fruehere_namen],
        "vornamen_n": vornamen_set(d.vornamen),
        "vornamen_p": sorted({koelner_phonetik(v) for v in vornamen_set(d.vornamen)}),
        "ordensname_n": normalise(d.ordensname) if d.ordensname else None,
        "kuenstlername_n": normalise(d.kuenstlername) if d.kuenstlername else None,
        "geburtsdatum": d.geburtsdatum,
        "geburtsort_n": normalise(d.geburtsort),
        "geschlecht": d.geschlecht,
        "staatsangehoerigkeiten": [normalise(s) for s in d.staatsangehoerigkeiten],
        "familienstand": normalise(d.familienstand) if d.familienstand else None,
        "strassen_n": sorted({normalise_strasse(a.strasse) for a in here}),
        "postleitzahlen": sorted({a.postleitzahl for a in here}),
        "haupt_gemeinde": haupt.gemeindeschluessel if haupt else None,
        "sterbedatum": d.sterbedatum,
        "sterbeort_n": normalise(d.sterbeort) if d.sterbeort else None,
        "waffen": d.waffenrechtliche_erlaubnis,
        "sprengstoff": d.sprengstoffrechtliche_erlaubnis,
        "gesperrt": gesperrt(d),
    }


def name_schluessel(k: Suchkriterien, phonetisch: bool) -> dict[str, str | list[str] | None]:
    """The name criteria in the form the store compares (only phonetic if asked for)."""
    form = koelner_phonetik if phonetisch else normalise
    vornamen = vornamen_set(k.vornamen) if k.vornamen else []
    return {
        "familienname": form(k.familienname) if k.familienname else None,
        "frueherer_name": form(k.frueherer_name) if k.frueherer_name else None,
        "vornamen": sorted({koelner_phonetik(v) for v in vornamen}) if phonetisch else vornamen,
        "ordensname": normalise(k.ordensname) if k.ordensname else None,
        "kuenstlername": normalise(k.kuenstlername) if k.kuenstlername else None,
    }


# -- matching ------------------------------------------------------------------------------


def _anschrift_passt(a: Anschrift, k: Suchkriterien) -> bool:
    if k.strasse and normalise_strasse(a.strasse) != normalise_strasse(k.strasse):
        return False
    if k.hausnummer and normalise(a.hausnummer) != normalise(k.hausnummer):
        return False
    return not (k.postleitzahl and a.postleitzahl != k.postleitzahl)


def adresse_passt(fund: Fund, k: Suchkriterien) -> bool:
    """BMeldDAV § 4 Abs. 6: every criterion given is used; the address ones against the
    person's current addresses in the municipality searched."""
    if not (k.strasse or k.hausnummer or k.postleitzahl):
        return True
    return any(
        _anschrift_passt(a, k)
        for a in fund.datensatz.anschriften
        if a.derzeitig and a.gemeindeschluessel == fund.gemeindeschluessel
    )


# -- answers -------------------------------------------------------------------------------


def personensuche(
    request: RegisterRequest,
    kandidaten: list[Fund],
    neues_merkmal: Callable[[], str],
) -> Antwort:
    """The answer to a Personensuche, from the candidates the store found by name."""
    funde = [f for f in kandidaten if adresse_passt(f, request.kriterien)]
    if len(funde) > MAX_TREFFER:
        return Antwort(nichterstellung=zu_viele(request.suchart))
    hidden = [f for f in funde if verborgen(f, request)]
    shown = [f for f in funde if f not in hidden]
    if len(shown) == 1 and not hidden:
        return eindeutig(request, shown[0])
    if len(shown) <= 1:
        # nobody, only blocked persons, or one open person beside blocked ones: the neutral
        # answer for the whole query (§ 34a Abs. 5 Satz 1 BMG, BMeldDAV § 5 Abs. 1)
        return _fuer_gesperrte(request, hidden, _neutral())
    merkmale = [(neues_merkmal(), f) for f in shown]
    answer = Antwort(
        ergebnisstatus=Ergebnisstatus.TREFFERLISTE,
        inhalt={
            "ergebnisstatus": Ergebnisstatus.TREFFERLISTE.value,
            "trefferliste": [_trefferlisteneintrag(f, m) for m, f in merkmale],
        },
        treffer=[f.treffer for f in shown],
        datenelemente=[Datenelement.NAMEN, Datenelement.GEBURT, Datenelement.ANSCHRIFTEN],
        merkmale=merkmale,
    )
    return _fuer_gesperrte(request, hidden, answer)


def _fuer_gesperrte(request: RegisterRequest, hidden: list[Fund], answer: Antwort) -> Antwort:
    """Adds what the law asks for each blocked person the answer leaves out: the hand-over for
    manual processing (§ 34a Abs. 5 Satz 2, unless waived under § 38 Abs. 5 Satz 1) and the
    notices (which a waiver does not touch, § 38 Abs. 5 Satz 2)."""
    answer.uebergaben = [] if request.verzicht_auf_weitere_bearbeitung else list(hidden)
    answer.benachrichtigungen = [n for f in hidden for n in benachrichtigungen(f, request)]
    return answer


def eindeutig(request: RegisterRequest, fund: Fund) -> Antwort:
    elemente = gelieferte_datenelemente(
        request.zugangsart, Suchart.PERSONENSUCHE, request.angeforderte_daten
    )
    d = fund.datensatz
    return Antwort(
        ergebnisstatus=Ergebnisstatus.EINDEUTIG,
        inhalt={
            "ergebnisstatus": Ergebnisstatus.EINDEUTIG.value,
            "person": personendaten(d, elemente),
            "bedingter_sperrvermerk": d.bedingter_sperrvermerk,
            "hinweise": _hinweise(fund),
        },
        treffer=[fund.treffer],
        datenelemente=elemente,
    )


def freigegeben(request: RegisterRequest, fund: Fund | None) -> Antwort:
    """A registration office's answer after manual processing: its clerk excluded the danger
    (§ 51 Abs. 2 BMG), so the record goes out as a unique hit in the scope of the request. A
    record the office has since removed cannot be answered."""
    if fund is None:
        return Antwort(
            nichterstellung=ablehnung(
                "17",
                "DATENSATZ_ENTFALLEN",
                "Die Person ist bei der Meldebehörde nicht mehr gemeldet; die Auskunft kann "
                "nicht mehr erteilt werden.",
            )
        )
    return eindeutig(request, fund)


def nach_merkmal(request: RegisterRequest, fund: Fund | None) -> Antwort:
    """A Personensuche continued with an Identifikationsmerkmal (BMeldDAV § 4 Abs. 5)."""
    if fund is None:
        return Antwort(
            nichterstellung=ablehnung(
                "01",
                "IDENTIFIKATIONSMERKMAL_UNGUELTIG",
                "Das Identifikationsmerkmal ist unbekannt, abgelaufen (48 Stunden, § 9 "
                "BMeldDAV) oder nicht für diese Stelle ausgegeben.",
            )
        )
    if verborgen(fund, request):  # blocked since the hit list was sent
        return _fuer_gesperrte(request, [fund], _neutral())
    return eindeutig(request, fund)


def freie_suche(
    request: RegisterRequest, ergebnisse: list[Fund], neues_merkmal: Callable[[], str]
) -> Antwort:
    """The result list of a freie Suche; the store has left out blocked persons."""
    if len(ergebnisse) > MAX_TREFFER:
        return Antwort(nichterstellung=zu_viele(request.suchart))
    elemente = gelieferte_datenelemente(
        request.zugangsart, Suchart.FREIE_SUCHE, request.angeforderte_daten
    )
    several = len(ergebnisse) > 1
    merkmale = [(neues_merkmal(), f) for f in ergebnisse] if several else []
    liste = []
    for i, f in enumerate(ergebnisse):
        entry = personendaten(
            f.datensatz,
            elemente,
            nur_hauptwohnung=True,
            einzugsdatum=request.zugangsart is Zugangsart.SICHERHEITSBEHOERDE,
        )
        entry["bedingter_sperrvermerk"] = f.datensatz.bedingter_sperrvermerk
        entry["hinweise"] = _hinweise(f)
        if several:
            entry["identifikationsmerkmal"] = merkmale[i][0]
        liste.append(entry)
    return Antwort(
        ergebnisstatus=Ergebnisstatus.ERGEBNISLISTE,
        inhalt={"ergebnisstatus": Ergebnisstatus.ERGEBNISLISTE.value, "ergebnisliste": liste},
        treffer=[f.treffer for f in ergebnisse],
        datenelemente=elemente,
        merkmale=merkmale,
    )


def zu_viele(suchart: Suchart) -> Nichterstellung:
    personensuche_ = suchart is Suchart.PERSONENSUCHE
    return ablehnung(
        "12" if personensuche_ else "13",
        "ZU_VIELE_TREFFER",
        f"Die Suche ergab mehr als {MAX_TREFFER} "
        f"{'Treffer' if personensuche_ else 'Ergebnisse'} (§ 1 Abs. 4 BMeldDAV); bitte die "
        "Suchkriterien einschränken.",
    )


def _neutral() -> Antwort:
    """The neutral answer: no hit is logged, since no record was retrievable (§ 40 Abs. 1 Nr. 7
    BMG logs only "die ... als abrufbar gekennzeichneten Datensätze")."""
    return Antwort(ergebnisstatus=Ergebnisstatus.NEUTRAL, inhalt=dict(NEUTRAL_INHALT))


def benachrichtigte(
    sperre: Auskunftssperre, auskunftsart: Auskunftsart, stelle: Behoerdenart | None
) -> list[Benachrichtigter]:
    """Who is told of a request on a person with an Auskunftssperre, keyed on the requesting body.

    - Registry information for a private requester (portal): the person, and the authority that
      had the block set, if one did (§ 51 Abs. 3 BMG).
    - An authority's retrieval, block set at a § 34 Abs. 4 Satz 1 Nr. 1–4, 6–9, 11 authority's
      initiative: the person and that authority (§ 34 Abs. 5 Satz 1); if the requester is itself
      a § 34 Abs. 4 Satz 1 authority, only that authority (§ 34 Abs. 5 Satz 3), so the person never
      learns of a security authority's request (see also § 11 Abs. 1).
    - An authority's retrieval on any other block: nobody automatically; the registration office
      decides in the manual processing the hand-over starts (§ 34a Abs. 5 Satz 2).
    """
    veranlasst = sperre.veranlasst_von_sicherheitsbehoerde
    if auskunftsart is Auskunftsart.EINFACHE_MELDEREGISTERAUSKUNFT:
        person = [Benachrichtigter.BETROFFENE_PERSON]
        return [*person, Benachrichtigter.VERANLASSENDE_BEHOERDE] if veranlasst else person
    if not veranlasst:
        return []
    if ist_sicherheitsbehoerde(stelle):
        return [Benachrichtigter.VERANLASSENDE_BEHOERDE]
    return [Benachrichtigter.BETROFFENE_PERSON, Benachrichtigter.VERANLASSENDE_BEHOERDE]


def benachrichtigungen(fund: Fund, request: RegisterRequest) -> list[Benachrichtigung]:
    sperre = fund.datensatz.auskunftssperre
    assert sperre is not None
    return [
        Benachrichtigung(fund, empfaenger, sperre.veranlassende_behoerde)
        for empfaenger in benachrichtigte(sperre, request.auskunftsart, request.abrufende_stelle)
    ]


def anschrift_fuer(notice: Benachrichtigung) -> Postanschrift | None:
    """Where a notice's letter goes: the person's current address in the municipality, or the
    address the delivery gave for the authority that had the block set."""
    d = notice.fund.datensatz
    if notice.empfaenger is Benachrichtigter.VERANLASSENDE_BEHOERDE:
        return d.auskunftssperre.veranlassende_behoerde_anschrift if d.auskunftssperre else None
    here = [
        a
        for a in d.anschriften
        if a.derzeitig and a.gemeindeschluessel == notice.fund.gemeindeschluessel
    ]
    if not here:
        return None
    return Postanschrift(
        first_name=" ".join(d.vornamen),
        surname=d.familienname,
        street_and_number=f"{here[0].strasse} {here[0].hausnummer}",
        postcode=here[0].postleitzahl,
        town=here[0].wohnort,
    )


def _hinweise(fund: Fund) -> dict[str, bool]:
    d = fund.datensatz
    current_here = any(
        a.derzeitig and a.gemeindeschluessel == fund.gemeindeschluessel for a in d.anschriften
    )
    return {"verstorben": d.sterbedatum is not None, "verzogen": not current_here}


def _anschrift(
    a: Anschrift, *, einzugsdatum: bool = True, auszugsdatum: bool = True
) -> dict[str, Any]:
    """An address; the dates of § 34 Abs. 1 Satz 1 Nr. 10 only where the answer may carry them."""
    out: dict[str, Any] = {
        "strasse": a.strasse,
        "hausnummer": a.hausnummer,
        "postleitzahl": a.postleitzahl,
        "wohnort": a.wohnort,
        "gemeindeschluessel": a.gemeindeschluessel,
        "status": a.status.value,
        "bedingter_sperrvermerk": a.bedingter_sperrvermerk,  # BMeldDAV § 5 Abs. 1 Satz 3 Nr. 1
    }
    if einzugsdatum:
        out["einzugsdatum"] = a.einzugsdatum.isoformat() if a.einzugsdatum else None
    if auszugsdatum:
        out["auszugsdatum"] = a.auszugsdatum.isoformat() if a.auszugsdatum else None
    return out


def _trefferlisteneintrag(fund: Fund, merkmal: str) -> dict[str, Any]:
    d = fund.datensatz
    haupt = d.hauptwohnung()
    return {
        "familienname": d.familienname,
        "fruehere_namen": d.fruehere_namen,
        "vornamen": d.vornamen,
        "geburtsdatum": d.geburtsdatum,
        # BMeldDAV § 6: the current main address, without the dates of Nr. 10
        "hauptwohnung": (
            _anschrift(haupt, einzugsdatum=False, auszugsdatum=False) if haupt else None
        ),
        "identifikationsmerkmal": merkmal,
        "bedingter_sperrvermerk": d.bedingter_sperrvermerk,
        "hinweise": _hinweise(fund),
    }


def _bezugspersonen(personen: list[Bezugsperson]) -> list[dict[str, Any]]:
    # § 34a Abs. 5 Satz 3: data of a co-registered person with a block is withheld
    return [p.model_dump(exclude={"gesperrt"}) for p in personen if not p.gesperrt]


def personendaten(
    d: Personendatensatz,
    elemente: list[Datenelement],
    *,
    nur_hauptwohnung: bool = False,
    einzugsdatum: bool = True,
) -> dict[str, Any]:
    """The person's data, limited to the data items given (the scope already applied). A freie
    Suche gives only the current main address (§ 34a Abs. 3 Satz 1 BMG), never a move-out date,
    and its Einzugsdatum only to § 34 Abs. 4 Satz 1 authorities (Satz 2)."""
    out: dict[str, Any] = {}
    for element in elemente:
        if element is Datenelement.NAMEN:
            out |= {
                "familienname": d.familienname,
                "fruehere_namen": d.fruehere_namen,
                "vornamen": d.vornamen,
                "doktorgrad": d.doktorgrad,
                "ordensname": d.ordensname,
                "kuenstlername": d.kuenstlername,
            }
        elif element is Datenelement.GEBURT:
            out |= {
                "geburtsdatum": d.geburtsdatum,
                "geburtsort": d.geburtsort,
                "geburtsstaat": d.geburtsstaat,
            }
        elif element is Datenelement.GESCHLECHT:
            out["geschlecht"] = d.geschlecht
        elif element is Datenelement.STAATSANGEHOERIGKEITEN:
            out["staatsangehoerigkeiten"] = d.staatsangehoerigkeiten
        elif element is Datenelement.ANSCHRIFTEN:
            if nur_hauptwohnung:
                haupt = d.hauptwohnung()
                out["hauptwohnung"] = (
                    _anschrift(haupt, einzugsdatum=einzugsdatum, auszugsdatum=False)
                    if haupt
                    else None
                )
            else:
                out["anschriften"] = [_anschrift(a) for a in d.anschriften]
        elif element is Datenelement.GESETZLICHER_VERTRETER:
            out["gesetzlicher_vertreter"] = _bezugspersonen(d.gesetzlicher_vertreter)
        elif element is Datenelement.FAMILIENSTAND:
            out |= {
                "familienstand": d.familienstand,
                "eheschliessung_datum": d.eheschliessung_datum,
                "eheschliessung_ort": d.eheschliessung_ort,
            }
        elif element is Datenelement.EHEGATTE:
            out["ehegatte"] = _bezugspersonen([d.ehegatte] if d.ehegatte else [])
        elif element is Datenelement.KINDER:
            out["kinder"] = _bezugspersonen(d.kinder)
        elif element is Datenelement.STERBEDATEN:
            out |= {"sterbedatum": d.sterbedatum, "sterbeort": d.sterbeort}
        elif element is Datenelement.AUSWEISDATEN:
            out["ausweise"] = [a.model_dump(mode="json") for a in d.ausweise]
        elif element is Datenelement.PASSVERSAGUNG:
            out["passversagung"] = d.passversagung
        elif element is Datenelement.WAFFEN_SPRENGSTOFF:
            out |= {
                "waffenrechtliche_erlaubnis": d.waffenrechtliche_erlaubnis,
                "sprengstoffrechtliche_erlaubnis": d.sprengstoffrechtliche_erlaubnis,
            }
        elif element is Datenelement.WOHNUNGSGEBER:
            out["wohnungsgeber"] = d.wohnungsgeber
    return out


# -- simple registry information through the portal (§§ 44, 49 BMG) ----------------------

NEUTRAL_EINFACH: dict[str, Any] = {
    "ergebnisstatus": Ergebnisstatus.NEUTRAL.value,
    "hinweis": NEUTRALE_AUSKUNFT,
}


def _name(text: str) -> str:
    return " ".join(sorted(normalise(text).split()))


def _person_name(p: Bezugsperson) -> str:
    return _name(" ".join([*p.vornamen, p.familienname]))


def _datum(d: date | None) -> str | None:
    return d.strftime("%Y%m%d") if d else None


def zusatz_passt(fund: Fund, i: Identifizierung) -> bool:
    """The § 49 Abs. 5 items the store does not search by, compared with the record: every
    item given must match (an item the record lacks does not)."""
    d = fund.datensatz
    hier = [a for a in d.anschriften if a.gemeindeschluessel == fund.gemeindeschluessel]
    checks = []
    if i.gesetzlicher_vertreter:
        wanted = _name(i.gesetzlicher_vertreter)
        checks.append(any(_person_name(p) == wanted for p in d.gesetzlicher_vertreter))
    if i.einzugsdatum:
        checks.append(any(_datum(a.einzugsdatum) == i.einzugsdatum for a in hier))
    if i.auszugsdatum:
        checks.append(any(_datum(a.auszugsdatum) == i.auszugsdatum for a in hier))
    if i.familienstand:
        checks.append(normalise(d.familienstand or "") == normalise(i.familienstand))
    if i.eheschliessung_datum:
        checks.append(d.eheschliessung_datum == i.eheschliessung_datum)
    if i.eheschliessung_ort:
        checks.append(normalise(d.eheschliessung_ort or "") == normalise(i.eheschliessung_ort))
    if i.ehegatte:
        checks.append(d.ehegatte is not None and _person_name(d.ehegatte) == _name(i.ehegatte))
    return all(checks)


def auskunftsdaten(d: Personendatensatz) -> dict[str, Any]:
    """§ 44 Abs. 1 Satz 1 BMG, and nothing else: names, Doktorgrad, current addresses, and
    whether the person has died."""
    return {
        "familienname": d.familienname,
        "vornamen": d.vornamen,
        "doktorgrad": d.doktorgrad,
        "derzeitige_anschriften": [
            {
                "strasse": a.strasse,
                "hausnummer": a.hausnummer,
                "postleitzahl": a.postleitzahl,
                "wohnort": a.wohnort,
            }
            for a in d.anschriften
            if a.derzeitig
        ],
        "verstorben": d.sterbedatum is not None,
    }


def einfache_auskunft(
    request: RegisterRequest, i: Identifizierung, kandidaten: list[Fund]
) -> Antwort:
    """§ 49 Abs. 4 Nr. 2 BMG: an answer only if exactly one person matches every item given.
    Anything else (nobody, several, an Auskunftssperre, a bedingter Sperrvermerk) gives the one
    neutral answer with no hit logged, so that the requester cannot tell which it was."""
    k = suchkriterien(i)
    funde = [f for f in kandidaten if adresse_passt(f, k) and zusatz_passt(f, i)]
    blocked = [f for f in funde if gesperrt(f.datensatz)]
    # § 51 Abs. 2, 3 BMG: no answer on a blocked person, who (and the authority that had the
    # block set) is told of every request, also when several persons matched
    answer = Antwort(ergebnisstatus=Ergebnisstatus.NEUTRAL, inhalt=dict(NEUTRAL_EINFACH))
    answer.benachrichtigungen = [n for f in blocked for n in benachrichtigungen(f, request)]
    if len(funde) != 1:
        return answer
    fund = funde[0]
    d = fund.datensatz
    if blocked or d.bedingter_sperrvermerk:
        # § 51 Abs. 2; § 52 Abs. 2: only after hearing the person, by hand
        answer.uebergaben = [] if request.verzicht_auf_weitere_bearbeitung else [fund]
        answer.bedingt = not blocked
        return answer
    return Antwort(
        ergebnisstatus=Ergebnisstatus.EINDEUTIG,
        inhalt={"ergebnisstatus": Ergebnisstatus.EINDEUTIG.value, "person": auskunftsdaten(d)},
        treffer=[fund.treffer],
    )


# -- deliveries ----------------------------------------------------------------------------


def fremde_lieferung(ags: str) -> str:
    """Why the operator's register refuses another state's office."""
    return (
        f"Die Meldebehörde {ags} gehört nicht zu diesem Land; sie liefert an ihr eigenes Register."
    )


def lieferung_fehler(delivery: RegisterDelivery) -> str | None:
    """What makes a delivery unusable (NMeldVO 2022 § 23 Abs. 2), or None."""
    if delivery.teil > delivery.teile:
        return f"Teil {delivery.teil} von {delivery.teile} ist nicht möglich."
    if delivery.art is Lieferart.LEERMITTEILUNG and (delivery.datensaetze or delivery.entfernt):
        return "Eine Leermitteilung enthält keine Datensätze."
    if delivery.art is not Lieferart.VOLLBESTAND and delivery.teile != 1:
        return "Nur ein Vollbestand kann in Teilen geliefert werden."
    if delivery.art is Lieferart.VOLLBESTAND and delivery.entfernt:
        return "Ein Vollbestand ersetzt alle Datensätze; Entfernungen sind darin nicht anzugeben."
    ags = delivery.absender.gemeindeschluessel
    seen: set[str] = set()
    for record in delivery.datensaetze:
        if record.ordnungsmerkmal in seen:  # one record per person per AGS (§ 23 Abs. 2)
            return f"Der Datensatz {record.ordnungsmerkmal} ist mehrfach enthalten."
        seen.add(record.ordnungsmerkmal)
        if not any(a.gemeindeschluessel == ags for a in record.anschriften):
            return (
                f"Der Datensatz {record.ordnungsmerkmal} hat keine Anschrift in der "
                f"liefernden Gemeinde {ags}."
            )
    return None
