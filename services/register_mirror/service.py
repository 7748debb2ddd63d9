"""register_mirror's service layer: answering requests, ingesting deliveries."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from services.register_mirror import domain
from services.register_mirror.domain import Antwort, Register
from services.register_mirror.store import IssuedMerkmal, RegisterRecords
from shared.contract.events.abruf import (
    Auskunftsart,
    BlockNotice,
    RegisterHandover,
    RegisterRequest,
    RegisterResponse,
    Suchart,
    Uebergabegrund,
)
from shared.contract.events.manuell import ManualResponse, OfficeRelease
from shared.contract.events.register import (
    DeliveryLogged,
    Lieferart,
    LieferStatus,
    RegisterDelivery,
)
from shared.contract.laender import land_of
from shared.contract.topics import Topics
from shared.law import aufbewahrung
from shared.law.abruf import (
    IDENTIFIKATIONSMERKMAL_GUELTIG_STUNDEN,
    MAX_TREFFER,
    ablehnung,
    pruefe_anfrage,
)
from shared.law.melderegisterauskunft import pruefe_identifizierung, suchkriterien
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing

log = get_logger(__name__)
Sealer = Callable[[bytes, RegisterRequest], str]  # (answer, request) -> sealed box


def neues_merkmal() -> str:
    """An Identifikationsmerkmal: 384 random bits, reveals nothing (§ 39 Abs. 2 BMG)."""
    return secrets.token_urlsafe(48)


async def answer(
    store: RegisterRecords,
    requests: Sequence[RegisterRequest],
    register: Register,
    now: datetime,
    seal_answer: Sealer,
) -> list[list[Outgoing]]:
    """A batch of requests, each searched and answered; the Identifikationsmerkmale the answers
    give are stored together, in the answers' transaction."""
    issued: list[IssuedMerkmal] = []
    out = [await _answer(store, r, register, now, seal_answer, issued) for r in requests]
    await store.issue_merkmale(
        issued, now, now + timedelta(hours=IDENTIFIKATIONSMERKMAL_GUELTIG_STUNDEN)
    )
    return out


async def _answer(
    store: RegisterRecords,
    request: RegisterRequest,
    register: Register,
    now: datetime,
    seal_answer: Sealer,
    issued: list[IssuedMerkmal],
) -> list[Outgoing]:
    portal = request.auskunftsart is Auskunftsart.EINFACHE_MELDEREGISTERAUSKUNFT
    refusal = domain.zustaendigkeit(request, register)
    if refusal:
        outcome = Antwort(nichterstellung=refusal)
    elif portal:
        outcome = await _search_portal(store, request, register, now)
    else:
        outcome = await _search(store, request, register, now)
    issued.extend(
        IssuedMerkmal(m, fund, request.tenant_id, request.vorgangsnummer)
        for m, fund in outcome.merkmale
    )
    response = _response(request, outcome, register, now, seal_answer)
    if register.meldebehoerden:  # in the answer's transaction: nothing leaves unlogged
        await store.log_auskunft(request, response, domain.abgerufene_daten(request, outcome))
    topic = Topics.REGISTER_PORTAL_RESPONSE if portal else Topics.REGISTER_RESPONSE
    out = [Outgoing(topic, response, subject=request.vorgangsnummer)]
    grund = (
        Uebergabegrund.BEDINGTER_SPERRVERMERK if outcome.bedingt else Uebergabegrund.AUSKUNFTSSPERRE
    )
    for fund in outcome.uebergaben:
        out.append(
            Outgoing(
                Topics.REGISTER_HANDOVER,
                RegisterHandover(
                    vorgangsnummer=request.vorgangsnummer,
                    gemeindeschluessel=fund.gemeindeschluessel,
                    ordnungsmerkmal=fund.datensatz.ordnungsmerkmal,
                    grund=grund,
                    tenant_id=request.tenant_id,
                    auskunftsart=request.auskunftsart,
                    zugangsart=request.zugangsart,
                    anfragende=request.anfragende,
                    suchart=request.suchart,
                    kriterien=request.kriterien,
                    handed_over_at=now,
                    anfrage=request,
                ),
                subject=request.vorgangsnummer,
            )
        )
    for notice in outcome.benachrichtigungen:
        out.append(
            Outgoing(
                Topics.REGISTER_BLOCK_NOTICE,
                BlockNotice(
                    vorgangsnummer=request.vorgangsnummer,
                    gemeindeschluessel=notice.fund.gemeindeschluessel,
                    ordnungsmerkmal=notice.fund.datensatz.ordnungsmerkmal,
                    empfaenger=notice.empfaenger,
                    veranlassende_behoerde=notice.veranlassende_behoerde,
                    anfragende_behoerde=request.anfragende.behoerde,
                    noticed_at=now,
                    anschrift=domain.anschrift_fuer(notice),
                ),
                subject=request.vorgangsnummer,
            )
        )
    log.debug(
        "request answered",
        vorgangsnummer=request.vorgangsnummer,
        status=outcome.ergebnisstatus,
        refused=outcome.nichterstellung.grund if outcome.nichterstellung else None,
        hits=outcome.anzahl,
    )
    return out


async def manual_answer(
    store: RegisterRecords,
    release: OfficeRelease,
    register: Register,
    now: datetime,
    seal_answer: Sealer,
) -> list[Outgoing]:
    """The answer a registration office's clerk released after manual processing (§ 34a Abs. 5
    Satz 2 BMG): made from the record, in the scope of the requester's original request, under
    the answer's own Vorgangsnummer. Only the register the office delivers to answers."""
    if land_of(release.gemeindeschluessel) != register.land or register.meldebehoerden:
        return []  # another register's office
    request = release.anfrage.model_copy(update={"vorgangsnummer": release.vorgangsnummer})
    fund = await store.record(release.gemeindeschluessel, release.ordnungsmerkmal)
    outcome = domain.freigegeben(request, fund)
    response = _response(request, outcome, register, now, seal_answer)
    log.info(
        "office's answer made",
        vorgangsnummer=release.vorgangsnummer,
        bezugsvorgang=release.bezugsvorgang,
        status=outcome.ergebnisstatus,
    )
    manual = ManualResponse(
        vorgangsnummer=release.vorgangsnummer,
        bezugsvorgang=release.bezugsvorgang,
        case_id=release.case_id,
        anfrage=request,
        response=response,
    )
    return [Outgoing(Topics.REGISTER_MANUAL_RESPONSE, manual, subject=release.vorgangsnummer)]


def _response(
    request: RegisterRequest,
    outcome: Antwort,
    register: Register,
    now: datetime,
    seal_answer: Sealer,
) -> RegisterResponse:
    """The register's answer to a request: the metadata the log records, the content sealed."""
    sealed = seal_answer(_body(outcome.inhalt), request) if outcome.inhalt is not None else None
    return RegisterResponse(
        vorgangsnummer=request.vorgangsnummer,
        query_id=request.query_id,
        land=register.land,
        ergebnisstatus=outcome.ergebnisstatus,
        nichterstellung=outcome.nichterstellung,
        treffer=outcome.treffer,
        anzahl=outcome.anzahl,
        datenelemente=outcome.datenelemente,
        antwort=sealed,
        answered_at=now,
    )


def _body(inhalt: dict[str, object]) -> bytes:
    return json.dumps(inhalt, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _fremder_suchbereich(request: RegisterRequest, register: Register) -> Antwort | None:
    if any(land_of(a) != register.land for a in request.gemeindeschluessel):
        return Antwort(
            nichterstellung=ablehnung(
                "22",
                "SUCHBEREICH",
                "Der Suchbereich liegt außerhalb der Zuständigkeit dieses Registers.",
            )
        )
    return None


def _schluessel(hex_key: str | None) -> bool:
    """An X25519 public key: 32 bytes, hex."""
    return bool(hex_key) and re.fullmatch(r"[0-9a-fA-F]{64}", hex_key or "") is not None


async def _search_portal(
    store: RegisterRecords, request: RegisterRequest, register: Register, now: datetime
) -> Antwort:
    """A simple registry information (§ 44 BMG) asked through the portal (§ 49 BMG)."""
    fremd = _fremder_suchbereich(request, register)
    if fremd:
        return fremd
    ident = request.identifizierung
    if (
        ident is None
        or not _schluessel(request.antwortschluessel)
        or len(request.gemeindeschluessel) != 1
    ):
        return Antwort(
            nichterstellung=ablehnung(
                "17",
                "PORTALANFRAGE_UNVOLLSTAENDIG",
                "Eine Portalanfrage nennt genau eine Meldebehörde, die gesuchte Person und den "
                "Schlüssel der Anfrage.",
            )
        )
    ags = request.gemeindeschluessel[0]
    refusal = pruefe_identifizierung(ags, ident)
    if refusal:  # the portal checked too; the register answers nothing § 49 does not allow
        return Antwort(nichterstellung=refusal)
    kandidaten = await store.personensuche(ags, suchkriterien(ident), request.phonetisch)
    return domain.einfache_auskunft(request, ident, kandidaten)


async def _search(
    store: RegisterRecords, request: RegisterRequest, register: Register, now: datetime
) -> Antwort:
    fremd = _fremder_suchbereich(request, register)
    if fremd:
        return fremd
    if request.zugangsart is None:
        return Antwort(nichterstellung=ablehnung("17", "ZUGANGSART_FEHLT", "Die Zugangsart fehlt."))
    if request.antwortschluessel is not None and not _schluessel(request.antwortschluessel):
        return Antwort(
            nichterstellung=ablehnung(
                "17",
                "ANTWORTSCHLUESSEL_UNGUELTIG",
                "Der Schlüssel, für den die Antwort an ein anderes Land verschlüsselt wird, ist "
                "kein X25519-Schlüssel (§ 10 Abs. 2 BMG).",
            )
        )
    refusal = pruefe_anfrage(request, request.zugangsart)
    if refusal:  # the router checked too; a register answers nothing the law does not allow
        return Antwort(nichterstellung=refusal)
    if request.suchart is Suchart.FREIE_SUCHE:
        funde = await store.freie_suche(
            request.gemeindeschluessel, request.kriterien, request.phonetisch, MAX_TREFFER + 1
        )
        funde = [f for f in funde if domain.adresse_passt(f, request.kriterien)]
        return domain.freie_suche(request, funde, neues_merkmal)
    ags = request.gemeindeschluessel[0]
    if request.identifikationsmerkmal:
        fund = await store.by_merkmal(request.identifikationsmerkmal, ags, request.tenant_id, now)
        return domain.nach_merkmal(request, fund)
    kandidaten = await store.personensuche(ags, request.kriterien, request.phonetisch)
    return domain.personensuche(request, kandidaten, neues_merkmal)


async def forget_merkmale(store: RegisterRecords, now: datetime) -> list[Outgoing]:
    count = await store.forget_merkmale(now)
    if count:
        log.info("expired Identifikationsmerkmale deleted", count=count)
    return []


async def forget_auskunftsprotokoll(store: RegisterRecords, now: datetime) -> list[Outgoing]:
    count = await store.forget_auskunftsprotokoll(aufbewahrung.kept_from(now))
    if count:
        log.info("expired entries of the registration office's log deleted", count=count)
    return []


async def ingest(
    store: RegisterRecords, delivery: RegisterDelivery, register: Register, now: datetime
) -> list[Outgoing]:
    """Applies a municipality's delivery and logs it (NMeldVO 2022 § 23)."""
    ags = delivery.absender.gemeindeschluessel
    if await store.logged_before(delivery.delivery_id, delivery.teil):
        return []  # the same delivery (part) again, under another event id
    if land_of(ags) != register.land:
        if not register.spiegel:
            return []  # another state's delivery; the operator's own mirror logs it
        return await _logged(
            store, delivery, register, now, LieferStatus.REJECTED, domain.fremde_lieferung(ags)
        )
    problem = domain.lieferung_fehler(delivery)
    if problem:
        return await _logged(store, delivery, register, now, LieferStatus.REJECTED, problem)
    if delivery.art is Lieferart.AENDERUNG:
        await store.upsert(ags, delivery.datensaetze, delivery.delivery_id)
        await store.remove(ags, delivery.entfernt)
    elif delivery.art is Lieferart.VOLLBESTAND:
        if delivery.teile == 1:
            await store.replace_all(ags, delivery.datensaetze, delivery.delivery_id)
        else:
            have = await store.stage_part(
                delivery.delivery_id, delivery.teil, delivery.teile, ags, delivery.datensaetze
            )
            if have < delivery.teile:
                return await _logged(
                    store, delivery, register, now, LieferStatus.PART_RECEIVED, None
                )
            records = await store.take_parts(delivery.delivery_id)
            await store.replace_all(ags, records, delivery.delivery_id)
    return await _logged(store, delivery, register, now, LieferStatus.APPLIED, None)


async def _logged(
    store: RegisterRecords,
    delivery: RegisterDelivery,
    register: Register,
    now: datetime,
    status: LieferStatus,
    grund: str | None,
) -> list[Outgoing]:
    entry = DeliveryLogged(
        delivery_id=delivery.delivery_id,
        absender=delivery.absender,
        art=delivery.art,
        teil=delivery.teil,
        teile=delivery.teile,
        anzahl_datensaetze=len(delivery.datensaetze),
        anzahl_entfernt=len(delivery.entfernt),
        status=status,
        grund=grund,
        empfangen_am=now,
        land=register.land,
    )
    await store.log_delivery(entry)
    if register.meldebehoerden:
        # the offices' registers are where deliveries come from: they keep the same content
        # from the same deliveries, and the delivery log (NMeldVO § 23) is the mirror's alone
        return []
    log.info(
        "delivery logged",
        delivery_id=delivery.delivery_id,
        status=status,
        records=len(delivery.datensaetze),
        reason=grund,
    )
    return [Outgoing(Topics.REGISTER_DELIVERY_LOG, entry, subject=delivery.delivery_id)]
