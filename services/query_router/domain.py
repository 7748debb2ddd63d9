"""query_router's decisions, free of I/O: may this user of this tenant retrieve this way, which
register answers, who logs, and the Vorgangsnummer.

Authorisation comes from the tenant as `min.tenant.state.v1` describes it; the request itself is
checked by `shared.law.abruf`, the one place the retrieval law lives."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from shared.contract.events.abruf import Nichterstellung, QueryRequested, RegisterRequest, Zweck
from shared.contract.events.account import TenantState, TenantStatus, UserStatus, VerfahrenStatus
from shared.contract.events.application import (
    SICHERHEITSBEHOERDEN,
    Behoerdenart,
    Protokollierung,
    Zugangsart,
)
from shared.contract.events.review import Datenumfang
from shared.law.abruf import ablehnung, land_der_anfrage, pruefe_anfrage
from shared.platform.fingerprints import normalise_fingerprint

STATUTORY_TASKS_ONLY = "STATUTORY_TASKS_ONLY"  # the health insurers' condition (§ 34 Abs. 6 BMG)


class Protokoll:
    """Who keeps the § 40 BMG protocol entry of a retrieval."""

    OPERATOR = "operator"  # § 40 Abs. 1, 2 BMG, § 55 Abs. 3: the central register logs
    COMMISSIONED = "commissioned"  # a security authority's log, kept apart on commission
    SELF = "self"  # the security authority logs itself (§ 40 Abs. 3 BMG)


@dataclass(frozen=True)
class Abrufer:
    """Who retrieves: a user of the tenant, or a registered machine procedure."""

    sperrdaten_berechtigt: bool = False  # § 34a Abs. 6 BMG, users only
    verfahren_verantwortlich: str | None = None  # § 40 Abs. 1 Nr. 6 BMG, procedures only


@dataclass(frozen=True)
class Freigabe:
    """An authorised query: where it goes and how it is treated."""

    land: str
    zugangsart: Zugangsart
    datenumfang: Datenumfang
    protokollierung: str
    abrufer: Abrufer
    abrufende_stelle: Behoerdenart | None  # the body's kind, for the notices of § 34 Abs. 5 BMG


def _abgelehnt(grund: str, text: str, code: str = "17") -> Nichterstellung:
    return ablehnung(code, grund, text)


def autorisiere(query: QueryRequested, tenant: TenantState | None) -> Freigabe | Nichterstellung:
    if tenant is None:
        return _abgelehnt("MANDANT_UNBEKANNT", "Der Mandant ist nicht zum Abruf zugelassen.")
    if tenant.status is TenantStatus.SUSPENDED:
        return _abgelehnt(
            "MANDANT_GESPERRT",
            "Der Zugang des Mandanten ist wegen des Verdachts einer missbräuchlichen Nutzung "
            "gesperrt.",
        )
    if tenant.status is TenantStatus.RESTRICTED:
        return _abgelehnt(
            "MANDANT_EINGESCHRAENKT",
            "Der Zugang des Mandanten ist wegen eines Sicherheitsmangels eingeschränkt; Abrufe "
            "sind bis zur Aufhebung nicht möglich.",
        )
    abrufer = pruefe_abrufer(query, tenant)
    if isinstance(abrufer, Nichterstellung):
        return abrufer
    if tenant.authority_kind is Behoerdenart.ZENTRALE_STELLE_LAND:
        return _fuer_ein_anderes_land(query, tenant, abrufer)
    forwarded = (query.abrufende_stelle, query.als_sicherheitsbehoerde, query.antwortschluessel)
    if any(v is not None for v in forwarded) or query.antwortkontext:
        return _abgelehnt(
            "NUR_ZENTRALE_STELLE",
            "Eine abrufende Stelle und einen eigenen Antwortschlüssel benennt nur die zentrale "
            "Stelle eines anderen Landes (§ 26 Abs. 1 NMeldVO).",
        )
    sicherheit = tenant.role is Zugangsart.SICHERHEITSBEHOERDE
    if sicherheit and tenant.logging_arrangement is None:
        # § 40 Abs. 3 BMG: without logging a security authority must not retrieve at all
        return _abgelehnt(
            "PROTOKOLLIERUNG_FEHLT",
            "Für die Sicherheitsbehörde ist weder eine Eigenprotokollierung noch eine "
            "Protokollierung im Auftrag vereinbart; ein Abruf ist unzulässig (§ 40 Abs. 3 BMG).",
        )
    codes = {c.code for c in tenant.conditions}
    if STATUTORY_TASKS_ONLY in codes and query.zweck is Zweck.FREIWILLIGE_LEISTUNG:
        return _abgelehnt(
            "FREIWILLIGE_LEISTUNG",
            "Der Zugang ist auf gesetzlich vorgeschriebene Aufgaben beschränkt (§ 34 Abs. 6 BMG). "
            "Für freiwillige Leistungen ist eine gebührenpflichtige einfache "
            "Melderegisterauskunft nach §§ 44, 49 BMG über das Melderegisterauskunftsportal "
            "einzuholen (Zweck: freiwillige_leistung_krankenkasse).",
        )
    zugangsart = (
        Zugangsart.SICHERHEITSBEHOERDE
        if sicherheit and tenant.data_scope is Datenumfang.SATZ_1_UND_2
        else Zugangsart.EINFACHE_BEHOERDENAUSKUNFT
    )
    refusal = pruefe_anfrage(query, zugangsart)
    if refusal:
        return refusal
    land = land_der_anfrage(query)
    if land is None:
        return _abgelehnt("AGS_UNGUELTIG", "Der Gemeindeschlüssel nennt kein Land.")
    return Freigabe(
        land, zugangsart, tenant.data_scope, protokoll_fuer(tenant), abrufer, tenant.authority_kind
    )


def _fuer_ein_anderes_land(
    query: QueryRequested, tenant: TenantState, abrufer: Abrufer
) -> Freigabe | Nichterstellung:
    """A query another state's central body forwards for a body of its state (§ 39 Abs. 3 BMG,
    NMeldVO 2022 § 26 Abs. 1): it gets the data that body may have, by the kind the central body
    admitted it (§ 34a Abs. 2, 3 BMG); a § 34 Abs. 4 Satz 1 authority logs itself (§ 40 Abs. 3 BMG),
    so its entry goes back to its state; its gateway's answers are sealed for that state's front
    end."""
    sicherheit = bool(query.als_sicherheitsbehoerde)
    # a body not named by kind is a public body of that state; a security authority is named
    stelle = query.abrufende_stelle or (
        None if sicherheit else Behoerdenart.SONSTIGE_OEFFENTLICHE_STELLE
    )
    if (
        stelle is None
        or stelle is Behoerdenart.ZENTRALE_STELLE_LAND
        or (sicherheit and stelle not in SICHERHEITSBEHOERDEN)
    ):
        return _abgelehnt(
            "ABRUFENDE_STELLE_FEHLT",
            "Die zentrale Stelle benennt bei jedem Abruf die abrufende Stelle ihres Landes, und "
            "ruft sie als Behörde nach § 34 Abs. 4 Satz 1 BMG ab, deren Art (Auflage der "
            "Registrierung, § 26 Abs. 1 NMeldVO).",
        )
    # its gateway's answers go back to its state, sealed for that state's front end; a user of
    # the central body at the front end (NMeldVO 2022 § 26 Abs. 1: retrieval by browser) gets
    # them as every user does
    keyed = query.antwortschluessel is not None or query.antwortkontext is not None
    valid = re.fullmatch(r"[0-9a-fA-F]{64}", query.antwortschluessel or "") and query.antwortkontext
    if (keyed or query.anfragende.verfahren) and not valid:
        return _abgelehnt(
            "ANTWORTSCHLUESSEL_FEHLT",
            "Die Antwort an ein anderes Land wird für dessen Abrufstelle verschlüsselt; der "
            "Abruf nennt deren Schlüssel und Vorgangsnummer nicht (§ 10 Abs. 2 BMG).",
        )
    zugangsart = (
        Zugangsart.SICHERHEITSBEHOERDE if sicherheit else Zugangsart.EINFACHE_BEHOERDENAUSKUNFT
    )
    refusal = pruefe_anfrage(query, zugangsart)
    if refusal:
        return refusal
    land = land_der_anfrage(query)
    if land is None:
        return _abgelehnt("AGS_UNGUELTIG", "Der Gemeindeschlüssel nennt kein Land.")
    protokoll = Protokoll.SELF if sicherheit else Protokoll.OPERATOR
    return Freigabe(land, zugangsart, tenant.data_scope, protokoll, abrufer, stelle)


def pruefe_abrufer(query: QueryRequested, tenant: TenantState) -> Abrufer | Nichterstellung:
    """Every caller is authorised (§ 39 Abs. 1 BMG): a user by an active account of this
    tenant; a machine by a procedure the tenant registered (NMeldVO 2022 § 26 Abs. 2), active,
    calling with the client certificate registered for it, so that there is no doubt about the
    identity of the retrieving body (§ 34 Abs. 2 Satz 3 BMG)."""
    a = query.anfragende
    if bool(a.kennung) == bool(a.verfahren):
        return _abgelehnt(
            "ABRUFER_UNKLAR",
            "Ein Abruf nennt entweder die Kennung der abrufenden Person oder die Bezeichnung des "
            "Verfahrens, genau eines von beiden (§ 40 Abs. 1 Nr. 6 BMG, § 11 Satz 1 Nr. 6 "
            "BMeldDAV).",
        )
    if a.kennung:
        user = next((u for u in tenant.users if u.username == a.kennung), None)
        if user is None:
            return _abgelehnt(
                "NUTZER_UNBEKANNT",
                "Die Kennung gehört nicht zu diesem Mandanten (§ 39 Abs. 1 BMG).",
            )
        if user.status is not UserStatus.ACTIVE:
            return _abgelehnt("NUTZER_GESPERRT", "Die Kennung ist gesperrt (§ 39 Abs. 1 BMG).")
        return Abrufer(sperrdaten_berechtigt=user.sperrdaten_berechtigt)
    verfahren = next((v for v in tenant.verfahren if v.name == a.verfahren), None)
    if verfahren is None:
        return _abgelehnt(
            "VERFAHREN_UNBEKANNT",
            "Das Verfahren ist für diesen Mandanten nicht registriert (§ 26 Abs. 2 NMeldVO).",
        )
    if verfahren.status is not VerfahrenStatus.ACTIVE:
        return _abgelehnt("VERFAHREN_GESPERRT", "Das Verfahren ist gesperrt (§ 26 Abs. 2 NMeldVO).")
    presented = normalise_fingerprint(query.client_certificate_fingerprint or "")
    if not hmac.compare_digest(presented, verfahren.certificate_fingerprint):
        return _abgelehnt(
            "ZERTIFIKAT_ABWEICHEND",
            "Das Verfahren hat nicht mit dem für es registrierten Client-Zertifikat abgerufen; "
            "an der Identität der abrufenden Stelle darf kein Zweifel bestehen (§ 34 Abs. 2 "
            "Satz 3 BMG, § 26 Abs. 2 NMeldVO).",
        )
    return Abrufer(verfahren_verantwortlich=verfahren.verantwortliche_person)


def nachreichung(request: RegisterRequest, tenant: TenantState | None) -> Nichterstellung | None:
    """Whether a registration office's answer after manual processing may still go to the
    requesting body: only while its tenant may retrieve (not erased, suspended or restricted).
    The user who asked may have left since; the answer is the body's."""
    if tenant is None:
        return _abgelehnt("MANDANT_UNBEKANNT", "Der Mandant ist nicht zum Abruf zugelassen.")
    if tenant.status is not TenantStatus.ACTIVE:
        return _abgelehnt(
            "MANDANT_NICHT_AKTIV",
            "Die Auskunft der Meldebehörde kann nicht übermittelt werden: der Zugang des "
            "Mandanten ist gesperrt oder eingeschränkt.",
        )
    return None


def anfrage_der(request: RegisterRequest) -> QueryRequested:
    """The query as the router took it on, from the request it sent the register (which a
    hand-over carries back): what the § 40 entry of the office's answer records."""
    return QueryRequested(
        query_id=request.query_id,
        tenant_id=request.tenant_id,
        anfragende=request.anfragende,
        suchart=request.suchart,
        gemeindeschluessel=request.gemeindeschluessel,
        kriterien=request.kriterien,
        identifikationsmerkmal=request.identifikationsmerkmal,
        phonetisch=request.phonetisch,
        angeforderte_daten=request.angeforderte_daten,
        verzicht_auf_weitere_bearbeitung=request.verzicht_auf_weitere_bearbeitung,
        abrufende_stelle=request.abrufende_stelle if request.antwortschluessel else None,
        als_sicherheitsbehoerde=request.sicherheitsbehoerde if request.antwortschluessel else None,
        antwortschluessel=request.antwortschluessel,
        antwortkontext=request.antwortkontext,
        requested_at=request.requested_at,
    )


def verantwortlich(request: RegisterRequest, tenant: TenantState) -> str | None:
    """The person responsible for the procedure that asked, for machine access."""
    name = request.anfragende.verfahren
    found = next((v for v in tenant.verfahren if name and v.name == name), None)
    return found.verantwortliche_person if found else None


def protokoll_fuer(tenant: TenantState | None) -> str:
    if tenant is None or tenant.role is not Zugangsart.SICHERHEITSBEHOERDE:
        return Protokoll.OPERATOR
    if tenant.logging_arrangement is Protokollierung.EIGENPROTOKOLLIERUNG:
        return Protokoll.SELF
    if tenant.logging_arrangement is Protokollierung.AUFTRAGSVERARBEITUNG:
        return Protokoll.COMMISSIONED
    return Protokoll.OPERATOR  # refused for want of logging: the refusal is the operator's
