"""The portal's service layer: registrations and their approval, requests on their way to the
registers and back, delivery to the requester, fees and statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from services.portal import domain
from services.portal.domain import Buchung, Tarif
from services.portal.store import Konto, OffenerVorgang, PortalRecords
from shared.contract.events.abruf import (
    Anfragende,
    Auskunftsart,
    RegisterRequest,
    RegisterResponse,
    Suchart,
)
from shared.contract.events.account import AuthOutcome
from shared.contract.events.portal import (
    REQUESTER_CREDENTIAL_PURPOSE,
    Anfragekopie,
    PortalAnswered,
    PortalAusgang,
    PortalFetched,
    PortalReleased,
    PortalRequest,
    RegistrationDecision,
    RegistrationDecisionRejected,
    RegistrationSubmitted,
    Registrierungsstatus,
    RequesterAction,
    RequesterCommand,
    RequesterCommandRejected,
    RequesterCredentials,
    RequesterState,
    StatementRequested,
)
from shared.contract.laender import LAENDER, land_of
from shared.contract.topics import Topics
from shared.law.abruf import technischer_fehler
from shared.law.vorgangsnummer import vorgangsnummer
from shared.platform.broker import UnprovenCommand
from shared.platform.logging import get_logger
from shared.platform.messaging import Outgoing
from shared.platform.operator_signatures import NOT_SIGNED, Refusal, Signer, proven
from shared.platform.passwords import (
    hash_password,
    initial_password,
    password_expiry,
    verify_password,
)
from shared.platform.sealed import credential_context, open_sealed, public_bytes, seal
from shared.platform.signin import (
    Credentials,
    http_status,
    message,
    new_password_problems,
    sign_in,
)
from shared.platform.tokens import Identity, issue

log = get_logger(__name__)
PORTAL_TENANT = "portal"
_RAW_PRIVATE = (
    serialization.Encoding.Raw,
    serialization.PrivateFormat.Raw,
    serialization.NoEncryption(),
)


@dataclass(frozen=True)
class Portal:
    """What the service functions need besides the store."""

    operator_state: str
    operators: frozenset[str]
    seal_key: bytes  # mail_dispatch's X25519 public key, for the initial password
    password_valid_days: int
    answer_within: timedelta
    gebuehren: dict[str, Tarif]
    anfragende: Anfragende  # how the portal appears to the registers
    token_key: Ed25519PrivateKey  # the portal's own: its requesters' tokens open only the portal


PORTAL_ISSUER = "meldespiegel-portal"
REQUESTER_ROLE = "requester"


def answer_context(vorgangsnummer: str, kennung: str) -> bytes:
    """What an answer sealed for the requester is bound to: this request and this requester."""
    return f"portal|{vorgangsnummer}|{kennung}".encode()


# -- registrations -------------------------------------------------------------------------


def _state(topic_state: RequesterState) -> Outgoing:
    return Outgoing(Topics.PORTAL_REQUESTER, topic_state, subject=topic_state.registration_id)


async def handle_registration(
    store: PortalRecords, reg: RegistrationSubmitted, now: datetime
) -> list[Outgoing]:
    existing = await store.registration(reg.registration_id, lock=True)
    if existing and existing[0].status is not Registrierungsstatus.UNVOLLSTAENDIG:
        # only a registration with defects may be submitted again, corrected
        log.info(
            "registration already complete, not replaced",
            registration_id=reg.registration_id,
            status=existing[0].status,
        )
        return []
    found = domain.maengel(reg, now.date())
    state = RequesterState(
        registration_id=reg.registration_id,
        art=reg.art,
        name=domain.name_of(reg),
        status=Registrierungsstatus.UNVOLLSTAENDIG if found else Registrierungsstatus.IN_PRUEFUNG,
        maengel=found,
        version=existing[0].version + 1 if existing else 1,
        updated_at=now,
    )
    await store.save_registration(state, reg)
    log.info("registration checked", registration_id=reg.registration_id, defects=len(found))
    return [_state(state)]


async def handle_decision(
    store: PortalRecords,
    d: RegistrationDecision,
    deps: Portal,
    now: datetime,
    signer: Signer | Refusal = NOT_SIGNED,
) -> list[Outgoing]:
    """An operator's decision on a registration, applied only if that operator signed it."""
    existing = await store.registration(d.registration_id, lock=True)
    not_proven = proven(signer, d.operator_id)  # whether it may decide: pruefe_entscheidung
    problem = (
        domain.Entscheidungsfehler(not_proven.code, not_proven.message)
        if not_proven
        else domain.pruefe_entscheidung(
            existing[0].status if existing else None, d.operator_id, deps.operators
        )
    )
    if problem is not None:
        grund = problem.grund
        log.warning(
            "registration decision refused", registration_id=d.registration_id, reason=grund
        )
        return [
            Outgoing(
                Topics.PORTAL_REGISTRATION_DECISION_REJECTED,
                RegistrationDecisionRejected(
                    decision_id=d.decision_id,
                    registration_id=d.registration_id,
                    grund=grund,
                    text=problem.text,
                    at=now,
                ),
                subject=d.registration_id,
            )
        ]
    assert existing is not None  # pruefe_entscheidung refuses an unknown registration
    state, reg = existing
    changes: dict[str, Any] = {
        "begruendung": d.begruendung,
        "version": state.version + 1,
        "updated_at": now,
    }
    if not d.zulassen:
        state = state.model_copy(update={**changes, "status": Registrierungsstatus.ABGELEHNT})
        await store.save_registration(state, reg)
        return [_state(state)]
    kennung = domain.kennung_fuer(state.name)
    while await store.kennung_taken(kennung):
        kennung = domain.kennung_fuer(state.name)
    password = initial_password()
    expires = password_expiry(now, deps.password_valid_days)
    await store.create_account(
        kennung,
        reg.registration_id,
        await hash_password(password),
        expires,
        reg.antwortschluessel or "",
        now,
    )
    context = credential_context(kennung, REQUESTER_CREDENTIAL_PURPOSE)
    sealed = seal(deps.seal_key, password.encode(), context)
    del password
    state = state.model_copy(
        update={**changes, "status": Registrierungsstatus.ZUGELASSEN, "kennung": kennung}
    )
    await store.save_registration(state, reg)
    log.info("requester approved", registration_id=reg.registration_id, kennung=kennung)
    return [
        _state(state),
        Outgoing(
            Topics.PORTAL_CREDENTIALS,
            RequesterCredentials(
                registration_id=reg.registration_id,
                kennung=kennung,
                email=reg.email or "",
                address=domain.postanschrift(reg),
                sealed_secret=sealed,
                password_expires_at=expires,
                issued_at=now,
            ),
            subject=reg.registration_id,
        ),
    ]


# -- requests ------------------------------------------------------------------------------


def _kopie(req: PortalRequest, registration_id: str | None) -> Anfragekopie:
    return Anfragekopie(
        registration_id=registration_id,
        **req.model_dump(
            include={
                "request_id",
                "kennung",
                "gemeindeschluessel",
                "identifizierung",
                "phonetisch",
                "gewerblich",
                "gewerblicher_zweck",
                "zweck_beschreibung",
                "erklaerung_keine_werbung_kein_adresshandel",
                "verzicht_auf_weitere_bearbeitung",
                "requested_at",
            }
        ),
    )


async def handle_request(
    store: PortalRecords, req: PortalRequest, deps: Portal, now: datetime
) -> list[Outgoing]:
    if await store.known_request(req.request_id):
        log.info("request delivered again, already taken on", request_id=req.request_id)
        return []
    nummer = vorgangsnummer(deps.operator_state, now, "P")
    anfragender = await store.anfragender(req.kennung)
    kopie = _kopie(req, anfragender.registration_id if anfragender else None)
    refusal = domain.pruefe_anfrage(req, anfragender)
    land = land_of(req.gemeindeschluessel)
    if refusal is None and land is None:  # checked by pruefe_anfrage; kept for the type
        refusal = technischer_fehler("Der Gemeindeschlüssel nennt kein Land.")
    if refusal is not None or land is None:
        await store.open(nummer, kopie, None, "refused", now, None)
        log.info("portal request refused", vorgangsnummer=nummer, reason=refusal and refusal.grund)
        return [
            Outgoing(
                Topics.PORTAL_ANSWERED,
                PortalAnswered(
                    vorgangsnummer=nummer, anfrage=kopie, nichterstellung=refusal, answered_at=now
                ),
                subject=nummer,
            )
        ]
    # the request's own key: the register seals for it, only this portal can open the answer,
    # and only until the key is destroyed on delivery (PortalV § 4 Nr. 1 and 4)
    key = X25519PrivateKey.generate()
    await store.store_key(nummer, key.private_bytes(*_RAW_PRIVATE), now)
    await store.open(nummer, kopie, land, "forwarded", now, now + deps.answer_within)
    request = RegisterRequest(
        vorgangsnummer=nummer,
        query_id=req.request_id,
        tenant_id=PORTAL_TENANT,
        auskunftsart=Auskunftsart.EINFACHE_MELDEREGISTERAUSKUNFT,
        anfragende=deps.anfragende.model_copy(update={"aktenzeichen": nummer}),
        suchart=Suchart.PERSONENSUCHE,
        gemeindeschluessel=[req.gemeindeschluessel],
        identifizierung=req.identifizierung,
        phonetisch=req.phonetisch,
        verzicht_auf_weitere_bearbeitung=req.verzicht_auf_weitere_bearbeitung,
        antwortschluessel=public_bytes(key).hex(),
        requested_at=req.requested_at,
    )
    # the portal forwards to the registration office (§ 49 Abs. 3 Satz 3 Nr. 2 BMG): in the
    # operator's own state to the offices' registers, as the state's mirror serves public bodies
    # only (§ 5 Abs. 1 Satz 4 Nds. AG BMG); another state's request to that state's register
    if land == deps.operator_state:
        topic = Topics.MELDEREGISTER_REQUEST
    else:
        topic = Topics.register_request(land)
    log.info("portal request forwarded", vorgangsnummer=nummer, land=land, topic=topic.name)
    return [Outgoing(topic, request, subject=nummer)]


def _answered(v: OffenerVorgang, now: datetime, **outcome: Any) -> Outgoing:
    return Outgoing(
        Topics.PORTAL_ANSWERED,
        PortalAnswered(
            vorgangsnummer=v.vorgangsnummer,
            anfrage=v.anfrage,
            land=v.land,
            forwarded_at=v.forwarded_at,
            answered_at=now,
            **outcome,
        ),
        subject=v.vorgangsnummer,
    )


async def handle_response(
    store: PortalRecords, response: RegisterResponse, now: datetime
) -> list[Outgoing]:
    v = await store.forwarded(response.vorgangsnummer)
    if v is None:
        log.warning("register answer to no open request", vorgangsnummer=response.vorgangsnummer)
        return []
    await store.close(v.vorgangsnummer, "answered", now)
    return [_answered(v, now, response=response)]


async def expire(store: PortalRecords, now: datetime) -> list[Outgoing]:
    """Requests whose register did not answer in time get a technical error; their key goes, so
    that a late answer can never be opened."""
    out = []
    for v in await store.overdue(now):
        await store.close(v.vorgangsnummer, "timed_out", now)
        await store.destroy_key(v.vorgangsnummer)
        land = LAENDER.get(v.land or "", v.land or "?")
        fehler = technischer_fehler(
            f"Das Melderegister ({land}) hat nicht rechtzeitig geantwortet. Bitte die Anfrage "
            "später wiederholen."
        )
        out.append(_answered(v, now, nichterstellung=fehler))
    if out:
        log.warning("registers did not answer portal requests in time", count=len(out))
    return out


# -- released answers: the requester's mailbox and the fee ---------------------------------


async def handle_released(
    store: PortalRecords, released: PortalReleased, deps: Portal
) -> list[Outgoing]:
    if not await store.put_in_postfach(released):
        return []  # delivered again
    status = released.ergebnisstatus
    if released.ausgang is PortalAusgang.BEAUSKUNFTET and status is not None:
        tarif, betrag = domain.gebuehr(deps.gebuehren, released.gemeindeschluessel, status)
        if tarif is None:
            log.warning(
                "no fee schedule for the answering office",
                gemeindeschluessel=released.gemeindeschluessel,
            )
        await store.book(
            Buchung(
                released.vorgangsnummer,
                released.kennung,
                released.gemeindeschluessel,
                status,
                betrag,
            ),
            tarif,
            released.released_at,
        )
    return []


async def expire_postfach(store: PortalRecords, now: datetime, kept: timedelta) -> list[Outgoing]:
    """§ 49 Abs. 1 Satz 2 BMG: what was asked is deleted without delay once dealt with; an
    answer its requester never fetches is deleted, key and box, when the fetching time is over."""
    numbers = await store.expire_postfach(now - kept)
    if numbers:
        log.info("unfetched answers deleted", count=len(numbers))
    return []


# -- the requester's API -------------------------------------------------------------------

Reply = tuple[int, dict[str, Any]]


async def _authenticate(
    store: PortalRecords, kennung: str, password: str, now: datetime
) -> Konto | Reply:
    """The one sign-in (`shared.platform.signin`) for a requester's Kennung and password: the
    sign-in and the password change (which take an initial password too). The mailbox and the
    fetch take the token of a sign-in instead (`_signed_in`)."""
    konto = await store.konto(kennung, lock=True)
    ok = await verify_password(konto.password_hash if konto else None, password)
    decision = sign_in(_credentials(konto) if konto else None, ok, None, now)
    if konto is not None and decision.failed_logins != konto.failed_logins:
        await store.set_failed_logins(kennung, decision.failed_logins, now)
    if konto is None or not decision.admitted:
        return _refused(decision.outcome, decision.detail)
    return konto


def _credentials(konto: Konto) -> Credentials:
    """Only an approved requester signs in, and changes the initial password from the letter
    first."""
    return Credentials(
        failed_logins=konto.failed_logins,
        active=konto.status is Registrierungsstatus.ZUGELASSEN,
        inactive_detail=konto.status.value,
        must_change_password=konto.must_change_password,
        password_expires_at=konto.password_expires_at,
    )


def _refused(outcome: AuthOutcome, detail: list[str] | None = None) -> Reply:
    body: dict[str, Any] = {"error": message(outcome), "status": outcome.value}
    if detail:
        body["detail"] = detail
    # an initial password not yet changed admits a login, not the mailbox
    code = 403 if outcome is AuthOutcome.PASSWORD_CHANGE_REQUIRED else http_status(outcome)
    return code, body


async def anmelden(
    store: PortalRecords, kennung: str, password: str, now: datetime, deps: Portal
) -> Reply:
    """The sign-in; once the initial password is changed, it gives an access token for the
    mailbox (15 minutes, signed with the portal's own key)."""
    konto = await _authenticate(store, kennung, password, now)
    if not isinstance(konto, Konto):
        return konto
    if konto.must_change_password:
        return 200, {"status": "password_change_required", "kennung": kennung}
    token, identity = issue(
        deps.token_key,
        user_id=konto.registration_id,
        username=kennung,
        tenant_id=PORTAL_TENANT,
        roles=[REQUESTER_ROLE],
        authorisations=[],
        now=now,
        issuer=PORTAL_ISSUER,
    )
    return 200, {
        "status": "authenticated",
        "kennung": kennung,
        "token_type": "Bearer",
        "access_token": token,
        "expires_at": identity.expires_at.isoformat(),
    }


async def _signed_in(store: PortalRecords, identity: Identity, now: datetime) -> Konto | Reply:
    """The requester a token names, if the account may still sign in: a lock, a suspension or
    a lock after failed sign-ins since the token was issued ends its use at once."""
    konto = await store.konto(identity.username)
    if konto is None or identity.tenant_id != PORTAL_TENANT:
        return _refused(AuthOutcome.SESSION_INVALID)
    decision = sign_in(_credentials(konto), True, None, now)
    if decision.outcome is not AuthOutcome.AUTHENTICATED:
        return _refused(decision.outcome, decision.detail)
    return konto


async def passwort_aendern(
    store: PortalRecords, kennung: str, current: str, new: str, now: datetime
) -> Reply:
    konto = await _authenticate(store, kennung, current, now)
    if not isinstance(konto, Konto):
        return konto
    problems = new_password_problems(new, current, kennung)
    if problems:
        return _refused(AuthOutcome.PASSWORD_POLICY_VIOLATED, problems)
    await store.update_password(kennung, await hash_password(new), False, now)
    return 200, {"status": "password_changed"}


async def postfach(store: PortalRecords, identity: Identity, now: datetime) -> Reply:
    konto = await _signed_in(store, identity, now)
    if not isinstance(konto, Konto):
        return konto
    kennung = konto.kennung
    return 200, {
        "abholbereit": [
            {
                "vorgangsnummer": e.vorgangsnummer,
                "request_id": e.request_id,
                "ausgang": e.ausgang,
                "released_at": e.released_at.isoformat(),
            }
            for e in await store.postfach(kennung)
        ]
    }


async def abholen(
    store: PortalRecords, identity: Identity, nummer: str, now: datetime
) -> tuple[Reply, list[Outgoing]]:
    """Hands the answer to its requester, sealed for the requester's key, and destroys both the
    box and the request's key in the same transaction: once fetched, no copy anywhere can be
    opened again (PortalV § 4 Nr. 1 and 4)."""
    konto = await _signed_in(store, identity, now)
    if not isinstance(konto, Konto):
        return konto, []
    kennung = konto.kennung
    taken = await store.take_from_postfach(kennung, nummer)
    if taken is None:
        return (404, {"error": "Zu dieser Vorgangsnummer liegt keine Antwort (mehr) bereit."}), []
    eintrag, key = taken
    body: dict[str, Any] = {
        "vorgangsnummer": nummer,
        "request_id": eintrag.request_id,
        "ausgang": eintrag.ausgang,
        "ergebnisstatus": eintrag.ergebnisstatus.value if eintrag.ergebnisstatus else None,
        "nichterstellung": eintrag.nichterstellung.model_dump()
        if eintrag.nichterstellung
        else None,
        "released_at": eintrag.released_at.isoformat(),
        "antwort": None,
    }
    if eintrag.antwort is not None and key is not None:
        inhalt = open_sealed(
            X25519PrivateKey.from_private_bytes(key), eintrag.antwort, nummer.encode()
        )
        body["antwort"] = seal(
            bytes.fromhex(konto.antwortschluessel), inhalt, answer_context(nummer, kennung)
        )
        del inhalt
    log.info("answer delivered, request key destroyed", vorgangsnummer=nummer)
    fetched = PortalFetched(vorgangsnummer=nummer, kennung=kennung, weitergeleitet_am=now)
    return (200, body), [Outgoing(Topics.PORTAL_FETCHED, fetched, subject=nummer)]


# -- statements ----------------------------------------------------------------------------


async def _statements(
    store: PortalRecords, monat: str, abgeschlossen: bool, now: datetime
) -> list[Outgoing]:
    start, end = domain.monatsgrenzen(monat)
    statements = domain.abrechnungen(await store.bookings(start, end), monat, abgeschlossen, now)
    return [Outgoing(Topics.PORTAL_STATEMENT, s, subject=s.empfaenger) for s in statements]


async def handle_requester_command(
    store: PortalRecords,
    cmd: RequesterCommand,
    deps: Portal,
    now: datetime,
    signer: Signer | Refusal = NOT_SIGNED,
) -> list[Outgoing]:
    """An operator locks, unlocks, suspends or lifts a requester's account, signed as the
    operator it names; the state goes out, or the reason it was not applied."""
    existing = await store.registration(cmd.registration_id, lock=True)
    konto = (
        await store.konto(existing[0].kennung, lock=True)
        if existing and existing[0].kennung
        else None
    )
    not_proven = proven(signer, cmd.operator_id)
    after = (
        domain.Entscheidungsfehler(not_proven.code, not_proven.message)
        if not_proven
        else domain.requester_change(
            existing[0].status if existing and konto else None,
            konto.failed_logins if konto else 0,
            cmd.action,
            cmd.operator_id,
            deps.operators,
        )
    )
    if isinstance(after, domain.Entscheidungsfehler):
        log.warning(
            "requester command refused", registration_id=cmd.registration_id, reason=after.grund
        )
        return [
            Outgoing(
                Topics.PORTAL_REQUESTER_COMMAND_REJECTED,
                RequesterCommandRejected(
                    command_id=cmd.command_id,
                    registration_id=cmd.registration_id,
                    grund=after.grund,
                    text=after.text,
                    at=now,
                ),
                subject=cmd.registration_id,
            )
        ]
    # requester_change knows no status, and so refuses, without a registration and its account
    assert existing is not None
    assert konto is not None
    state, reg = existing
    state = state.model_copy(
        update={
            "status": after,
            "begruendung": cmd.begruendung,
            "version": state.version + 1,
            "updated_at": now,
        }
    )
    await store.save_registration(state, reg)
    if cmd.action is RequesterAction.UNLOCK:
        await store.set_failed_logins(konto.kennung, 0, now)
    log.info("requester account changed", registration_id=cmd.registration_id, status=after)
    return [_state(state)]


async def handle_statement_request(
    store: PortalRecords,
    cmd: StatementRequested,
    now: datetime,
    deps: Portal,
    signer: Signer | Refusal = NOT_SIGNED,
) -> list[Outgoing]:
    """The statements of a month, for an operator who signed the request; an unsigned or forged
    one goes to the dead-letter topic with the reason."""
    not_proven = proven(signer, cmd.requested_by, deps.operators)
    if not_proven:
        raise UnprovenCommand(f"{not_proven.code}: {not_proven.message}")
    current = domain.monat_von(now)
    if cmd.monat > current:
        log.warning("statement for a month to come asked for", monat=cmd.monat)
        return []
    return await _statements(store, cmd.monat, cmd.monat < current, now)


async def close_month(store: PortalRecords, now: datetime) -> list[Outgoing]:
    """The final statements of the month just ended, once."""
    monat = domain.vorheriger_monat(domain.monat_von(now))
    if await store.month_stated(monat):
        return []
    out = await _statements(store, monat, True, now)
    await store.mark_stated(monat, len(out), now)
    log.info("monthly statements published", monat=monat, statements=len(out))
    return out
