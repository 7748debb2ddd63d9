"""query_router's service layer: tenant states, queries, register answers, timeouts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from services.query_router import domain
from services.query_router.domain import Freigabe
from services.query_router.store import Opening, Routing, Vorgang
from shared.contract.events.abruf import (
    Nichterstellung,
    QueryAnswered,
    QueryRejected,
    QueryRequested,
    RegisterRequest,
    RegisterResponse,
)
from shared.contract.events.account import TenantState
from shared.contract.events.application import Zugangsart
from shared.contract.events.manuell import ManualResponse
from shared.contract.laender import LAENDER
from shared.contract.topics import Topics
from shared.law.abruf import technischer_fehler
from shared.law.vorgangsnummer import vorgangsnummer
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing

log = get_logger(__name__)


async def handle_tenant_state(store: Routing, state: TenantState) -> list[Outgoing]:
    if not await store.save_tenant(state):
        log.info("older tenant state ignored", tenant_id=state.tenant_id, version=state.version)
    return []


async def handle_tenant_erased(store: Routing, tenant_id: str) -> list[Outgoing]:
    """A tombstone on the compacted tenant topic: the tenant no longer exists, so its users'
    queries are refused as those of an unknown tenant."""
    if await store.forget_tenant(tenant_id):
        log.warning("tenant erased by a tombstone", tenant_id=tenant_id)
    return []


async def handle_queries(
    store: Routing,
    queries: Sequence[QueryRequested],
    operator_state: str,
    now: datetime,
    answer_within: timedelta,
) -> list[list[Outgoing]]:
    """A batch of queries: each taken on once (a query delivered again, under another event id,
    is recognised by its query id), authorised, given its Vorgangsnummer and routed, in a few
    statements for the whole batch."""
    known = await store.known_queries({q.query_id for q in queries})
    tenants = await store.tenants({q.tenant_id for q in queries})
    openings: list[Opening] = []
    out: list[list[Outgoing]] = []
    for query in queries:
        if query.query_id in known:
            log.info("query delivered again, already taken on", query_id=query.query_id)
            out.append([])
            continue
        known.add(query.query_id)
        opening, outgoing = _take_on(
            query, tenants.get(query.tenant_id), operator_state, now, answer_within
        )
        openings.append(opening)
        out.append([outgoing])
    await store.open_all(openings)
    return out


def _take_on(
    query: QueryRequested,
    tenant: TenantState | None,
    operator_state: str,
    now: datetime,
    answer_within: timedelta,
) -> tuple[Opening, Outgoing]:
    nummer = vorgangsnummer(operator_state, now)
    decision = domain.autorisiere(query, tenant)
    if isinstance(decision, Nichterstellung):
        protokoll = domain.protokoll_fuer(tenant)
        log.debug("query refused", vorgangsnummer=nummer, reason=decision.grund)
        opening = Opening(
            nummer,
            query,
            land=None,
            zugangsart=tenant.role.value if tenant else None,
            protokollierung=protokoll,
            status="rejected",
            at=now,
            deadline=None,
        )
        return opening, _rejected(
            nummer, query, tenant.role if tenant else None, protokoll, decision, now
        )
    log.debug("query routed", vorgangsnummer=nummer, land=decision.land, query_id=query.query_id)
    opening = Opening(
        nummer,
        query,
        land=decision.land,
        zugangsart=decision.zugangsart.value,
        protokollierung=decision.protokollierung,
        status="routed",
        at=now,
        deadline=now + answer_within,
        verfahren_verantwortlich=decision.abrufer.verfahren_verantwortlich,
    )
    return opening, Outgoing(
        Topics.register_request(decision.land), _request(nummer, query, decision)
    )


def _request(nummer: str, query: QueryRequested, f: Freigabe) -> RegisterRequest:
    return RegisterRequest(
        vorgangsnummer=nummer,
        query_id=query.query_id,
        tenant_id=query.tenant_id,
        zugangsart=f.zugangsart,
        datenumfang=f.datenumfang,
        anfragende=query.anfragende,
        suchart=query.suchart,
        gemeindeschluessel=query.gemeindeschluessel,
        kriterien=query.kriterien,
        identifikationsmerkmal=query.identifikationsmerkmal,
        phonetisch=query.phonetisch,
        angeforderte_daten=query.angeforderte_daten,
        verzicht_auf_weitere_bearbeitung=query.verzicht_auf_weitere_bearbeitung,
        abrufende_stelle=f.abrufende_stelle,
        sperrdaten_berechtigt=f.abrufer.sperrdaten_berechtigt,
        requested_at=query.requested_at,
        antwortschluessel=query.antwortschluessel,  # autorisiere let through only a Land's
        antwortkontext=query.antwortkontext,
    )


def _rejected(
    nummer: str,
    query: QueryRequested,
    zugangsart: Zugangsart | None,
    protokoll: str,
    reason: Nichterstellung,
    now: datetime,
    verfahren_verantwortlich: str | None = None,
) -> Outgoing:
    return Outgoing(
        Topics.QUERY_REJECTED,
        QueryRejected(
            vorgangsnummer=nummer,
            query=query,
            zugangsart=zugangsart,
            protokollierung=protokoll,
            nichterstellung=reason,
            rejected_at=now,
            verfahren_verantwortlich=verfahren_verantwortlich,
        ),
        subject=nummer,
    )


async def handle_responses(
    store: Routing, responses: Sequence[RegisterResponse], now: datetime
) -> list[list[Outgoing]]:
    """A batch of the registers' answers: each one whose Vorgang still waits is handed on to
    protocol_log, and its Vorgang closed; a late or unknown answer is not released."""
    waiting = await store.answer({r.vorgangsnummer for r in responses}, now)
    strays = {r.vorgangsnummer for r in responses} - waiting.keys()
    # known: answered before, or earlier in this batch
    known = (await store.known(strays) if strays else set()) | waiting.keys()
    out: list[list[Outgoing]] = []
    for response in responses:
        vorgang = waiting.pop(response.vorgangsnummer, None)
        if vorgang is None:
            if response.vorgangsnummer in known:
                # answered with a technical error already (or delivered twice): not released
                log.warning(
                    "late register answer not released", vorgangsnummer=response.vorgangsnummer
                )
            else:
                log.warning(
                    "answer to an unknown Vorgangsnummer", vorgangsnummer=response.vorgangsnummer
                )
            out.append([])
            continue
        out.append([_answered(vorgang, response)])
    return out


def _answered(vorgang: Vorgang, response: RegisterResponse) -> Outgoing:
    return Outgoing(
        Topics.QUERY_ANSWERED,
        QueryAnswered(
            vorgangsnummer=vorgang.vorgangsnummer,
            query=vorgang.query,
            zugangsart=Zugangsart(vorgang.zugangsart),
            protokollierung=vorgang.protokollierung,
            land=response.land,
            response=response,
            routed_at=vorgang.routed_at,
            verfahren_verantwortlich=vorgang.verfahren_verantwortlich,
        ),
        subject=vorgang.vorgangsnummer,
    )


async def handle_manual(store: Routing, manual: ManualResponse, now: datetime) -> list[Outgoing]:
    """A registration office's answer after manual processing (§ 34a Abs. 5 Satz 2 BMG), made
    by the register: handed to protocol_log under its own Vorgangsnummer, like every answer, so
    it is logged (§ 40 BMG) before it is released. A tenant that may no longer retrieve gets the
    refusal instead, logged as well."""
    request = manual.anfrage
    tenant = (await store.tenants({request.tenant_id})).get(request.tenant_id)
    query = domain.anfrage_der(request)
    protokoll = domain.protokoll_fuer(tenant)
    refusal = domain.nachreichung(request, tenant)
    if refusal is not None or tenant is None:
        log.warning("office's answer not released", vorgangsnummer=manual.vorgangsnummer)
        assert refusal is not None
        nummer = manual.vorgangsnummer
        return [_rejected(nummer, query, request.zugangsart, protokoll, refusal, now)]
    log.info(
        "office's answer routed",
        vorgangsnummer=manual.vorgangsnummer,
        bezugsvorgang=manual.bezugsvorgang,
    )
    answered = QueryAnswered(
        vorgangsnummer=manual.vorgangsnummer,
        query=query,
        zugangsart=request.zugangsart or Zugangsart.EINFACHE_BEHOERDENAUSKUNFT,
        protokollierung=protokoll,
        land=manual.response.land,
        response=manual.response,
        routed_at=now,
        verfahren_verantwortlich=domain.verantwortlich(request, tenant),
        bezugsvorgang=manual.bezugsvorgang,
    )
    return [Outgoing(Topics.QUERY_ANSWERED, answered, subject=manual.vorgangsnummer)]


async def forget(store: Routing, now: datetime, keep: timedelta) -> list[Outgoing]:
    """Closed Vorgänge are kept (as keys only) while a query could still be delivered again."""
    count = await store.forget_closed(now - keep)
    if count:
        log.info("closed Vorgänge deleted", count=count)
    return []


async def expire(store: Routing, now: datetime) -> list[Outgoing]:
    """Queries whose register did not answer in time get the technical-error status."""
    overdue = await store.overdue(now)
    await store.close([v.vorgangsnummer for v in overdue], "timed_out", now)
    out = [_timed_out(vorgang, now) for vorgang in overdue]
    if out:
        log.warning("registers did not answer in time", count=len(out))
    return out


def _timed_out(vorgang: Vorgang, now: datetime) -> Outgoing:
    land = LAENDER.get(vorgang.land or "", vorgang.land or "?")
    return _rejected(
        vorgang.vorgangsnummer,
        vorgang.query,
        Zugangsart(vorgang.zugangsart) if vorgang.zugangsart else None,
        vorgang.protokollierung,
        technischer_fehler(
            f"Das Melderegister ({land}) hat nicht rechtzeitig geantwortet. Bitte die Anfrage "
            "später wiederholen."
        ),
        now,
        vorgang.verfahren_verantwortlich,
    )
