"""query_router's service layer: tenant states, queries, register answers, timeouts."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.query_router import domain
from services.query_router.domain import Freigabe
from services.query_router.store import Routing, Vorgang
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


async def handle_query(
    store: Routing,
    query: QueryRequested,
    operator_state: str,
    now: datetime,
    answer_within: timedelta,
) -> list[Outgoing]:
    if await store.known_query(query.query_id):
        log.info("query delivered again, already taken on", query_id=query.query_id)
        return []
    nummer = vorgangsnummer(operator_state, now)
    tenant = await store.tenant(query.tenant_id)
    decision = domain.autorisiere(query, tenant)
    if isinstance(decision, Nichterstellung):
        protokoll = domain.protokoll_fuer(tenant)
        await store.open(
            nummer,
            query,
            land=None,
            zugangsart=tenant.role.value if tenant else None,
            protokollierung=protokoll,
            status="rejected",
            now=now,
            deadline=None,
        )
        log.info("query refused", vorgangsnummer=nummer, reason=decision.grund)
        return [_rejected(nummer, query, tenant.role if tenant else None, protokoll, decision, now)]
    await store.open(
        nummer,
        query,
        land=decision.land,
        zugangsart=decision.zugangsart.value,
        protokollierung=decision.protokollierung,
        status="routed",
        now=now,
        deadline=now + answer_within,
        verfahren_verantwortlich=decision.abrufer.verfahren_verantwortlich,
    )
    log.info("query routed", vorgangsnummer=nummer, land=decision.land, query_id=query.query_id)
    return [Outgoing(Topics.register_request(decision.land), _request(nummer, query, decision))]


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


async def handle_response(
    store: Routing, response: RegisterResponse, now: datetime
) -> list[Outgoing]:
    vorgang = await store.routed(response.vorgangsnummer)
    if vorgang is None:
        if await store.known(response.vorgangsnummer):
            # answered with a technical error already (or delivered twice): not released again
            log.warning("late register answer not released", vorgangsnummer=response.vorgangsnummer)
        else:
            log.warning(
                "answer to an unknown Vorgangsnummer", vorgangsnummer=response.vorgangsnummer
            )
        return []
    await store.close(vorgang.vorgangsnummer, "answered", now)
    return [
        Outgoing(
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
    ]


async def forget(store: Routing, now: datetime, keep: timedelta) -> list[Outgoing]:
    """Closed Vorgänge are kept (as keys only) while a query could still be delivered again."""
    count = await store.forget_closed(now - keep)
    if count:
        log.info("closed Vorgänge deleted", count=count)
    return []


async def expire(store: Routing, now: datetime) -> list[Outgoing]:
    """Queries whose register did not answer in time get the technical-error status."""
    out = []
    for vorgang in await store.overdue(now):
        await store.close(vorgang.vorgangsnummer, "timed_out", now)
        out.append(_timed_out(vorgang, now))
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
