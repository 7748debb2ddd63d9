"""The portal's handlers and requester API on FastStream's in-memory broker with the in-memory
store, no Kafka, no PostgreSQL: a company registers and is approved, takes its password from the
letter and changes it, asks; the request goes to the registration offices' registers of the
operator's state (Nds. AG BMG § 5 Abs. 1 Satz 4) with a key of its own; the answer comes back,
is released, waits in the mailbox and is fetched once, re-sealed for the requester, its key
destroyed (PortalV § 4 Nr. 1 and 4); a register that stays silent gives the technical error."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from services.portal.api import routes
from services.portal.app import PortalService, PortalSettings
from services.portal.service import answer_context
from shared.contract.events.abruf import RegisterResponse
from shared.contract.events.portal import REQUESTER_CREDENTIAL_PURPOSE, PortalReleased
from shared.contract.topics import Topics
from shared.platform.pki import LETTER_KEY
from shared.platform.sealed import (
    credential_context,
    load_private_key,
    open_sealed,
    public_bytes,
    seal,
)
from shared.platform.settings import get_settings
from tests import identities
from tests.fakes.portal import MemoryPortalStore
from tests.identities import operator_key
from tests.inmemory import InMemory
from tests.retrieval import HANNOVER, MUENCHEN

START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NEW_PASSWORD = "Neu-und-geheim-2026!"
WATCH = (
    Topics.PORTAL_REQUESTER,
    Topics.PORTAL_REQUESTER_COMMAND_REJECTED,
    Topics.PORTAL_CREDENTIALS,
    Topics.MELDEREGISTER_REQUEST,
    Topics.register_request("03"),
    Topics.register_request("09"),
    Topics.PORTAL_ANSWERED,
    Topics.PORTAL_FETCHED,
)
IDENT = {"familienname": "Weißmüller", "vornamen": "Johanna", "geburtsdatum": "19800101",
         "geburtsort": "Hannover"}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Portal(InMemory):
    def __init__(self, clock: Clock) -> None:
        self.store = MemoryPortalStore()
        service = PortalService(
            PortalSettings(portal_operators=["ops-1"], portal_answer_timeout_seconds=30),
            clock=clock,
        )
        service.store = lambda conn: self.store
        super().__init__(service, *WATCH, stores=[self.store])
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.app.as_asgi(asgi_routes=routes(service))),
            base_url="http://portal",
        )

    async def api(self, path: str, **body: Any) -> httpx.Response:
        return await self.http.post(f"/portal/{path}", json=body)


async def registered(run: Portal, key: X25519PrivateKey) -> tuple[str, str]:
    """A company registered and approved: its Kennung and the password from its letter."""
    reg_id = f"R-{uuid.uuid4().hex[:8]}"
    await run.deliver(Topics.PORTAL_REGISTRATION_SUBMITTED, {
        "registration_id": reg_id, "art": "unternehmen", "firma": "Inkasso Nord GmbH",
        "handelsregister": {"registergericht": "Amtsgericht Hannover", "registernummer": "HRB 1"},
        "verantwortliche_person": {"anrede": "herr", "vorname": "Karl", "familienname": "Berger"},
        "anschrift": {"strasse_hausnummer": "Lange Laube 2", "postleitzahl": "30159",
                      "ort": "Hannover"},
        "email": "post@inkasso-nord.example", "antwortschluessel": public_bytes(key).hex(),
        "submitted_at": START.isoformat(),
    }, key=reg_id)  # fmt: skip
    await run.deliver(Topics.PORTAL_REGISTRATION_DECISION, {
        "decision_id": "D-1", "registration_id": reg_id, "operator_id": "ops-1", "zulassen": True,
        "begruendung": "Handelsregister geprüft.", "decided_at": START.isoformat(),
    }, key=reg_id, signed_by=operator_key("ops-1"))  # fmt: skip
    [credentials] = run.bodies(Topics.PORTAL_CREDENTIALS)
    kennung = credentials["kennung"]
    letter_key = load_private_key((get_settings().pki_dir / LETTER_KEY).read_bytes())
    context = credential_context(kennung, REQUESTER_CREDENTIAL_PURPOSE)
    return kennung, open_sealed(letter_key, credentials["sealed_secret"], context).decode()


def request(kennung: str, ags: str) -> dict[str, Any]:
    return {
        "request_id": f"PR-{uuid.uuid4().hex}", "kennung": kennung, "gemeindeschluessel": ags,
        "identifizierung": IDENT, "gewerblich": True, "gewerblicher_zweck": "forderungsmanagement",
        "erklaerung_keine_werbung_kein_adresshandel": True, "requested_at": START.isoformat(),
    }  # fmt: skip


async def test_from_registration_to_the_fetched_answer() -> None:
    key = X25519PrivateKey.generate()
    run = Portal(Clock())
    async with run:
        kennung, password = await registered(run, key)
        assert (await run.api("anmeldung", kennung=kennung, passwort=password)).json()[
            "status"
        ] == "password_change_required"
        changed = await run.api(
            "passwort", kennung=kennung, passwort=password, neues_passwort=NEW_PASSWORD
        )
        assert changed.status_code == 200

        await run.deliver(Topics.PORTAL_REQUEST, request(kennung, HANNOVER[0]), key=kennung)
        await run.deliver(Topics.PORTAL_REQUEST, request(kennung, MUENCHEN[0]), key=kennung)
        [own] = run.bodies(Topics.MELDEREGISTER_REQUEST)  # the offices, not the mirror
        [other] = run.bodies(Topics.register_request("09"))  # another state's register
        assert run.bodies(Topics.register_request("03")) == []
        assert other["gemeindeschluessel"] == [MUENCHEN[0]]
        nummer = own["vorgangsnummer"]

        inhalt = json.dumps({"ergebnisstatus": "01", "person": {"familienname": "Weißmüller"}})
        box = seal(bytes.fromhex(own["antwortschluessel"]), inhalt.encode(), nummer.encode())
        response = RegisterResponse(
            vorgangsnummer=nummer, query_id=own["query_id"], land="03", ergebnisstatus="01",
            antwort=box, answered_at=START,
        )  # fmt: skip
        await run.deliver(Topics.REGISTER_PORTAL_RESPONSE, response, key=nummer)
        [answered] = run.bodies(Topics.PORTAL_ANSWERED)
        assert answered["response"]["antwort"] == box

        released = PortalReleased(
            request_id=answered["anfrage"]["request_id"], vorgangsnummer=nummer, kennung=kennung,
            gemeindeschluessel=HANNOVER[0], ausgang="beauskunftet", ergebnisstatus="01",
            antwort=box, requested_at=START, released_at=START, protokoll="portal:1",
        )  # fmt: skip
        await run.deliver(Topics.PORTAL_RELEASED, released, key=nummer)
        signed = await run.api("anmeldung", kennung=kennung, passwort=NEW_PASSWORD)
        assert signed.json()["status"] == "authenticated"
        bearer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        listed = await run.http.get("/portal/postfach", headers=bearer)
        assert [e["vorgangsnummer"] for e in listed.json()["abholbereit"]] == [nummer]
        assert (await run.http.get("/portal/postfach")).status_code == 401  # no token, nothing

        fetch = {"vorgangsnummer": nummer}
        fetched = await run.http.post("/portal/antwort", json=fetch, headers=bearer)
        assert fetched.status_code == 200
        opened = open_sealed(key, fetched.json()["antwort"], answer_context(nummer, kennung))
        assert json.loads(opened) == json.loads(inhalt)
        again = await run.http.post("/portal/antwort", json=fetch, headers=bearer)
        assert again.status_code == 404  # delivered once
    [logged] = run.bodies(Topics.PORTAL_FETCHED)
    assert logged["kennung"] == kennung
    assert nummer not in run.store.keys and run.store.mailbox == {}  # noqa: PT018


async def test_a_register_that_stays_silent_gives_the_technical_error_and_no_key_is_left() -> None:
    clock = Clock()
    run = Portal(clock)
    async with run:
        kennung, password = await registered(run, X25519PrivateKey.generate())
        await run.api("passwort", kennung=kennung, passwort=password, neues_passwort=NEW_PASSWORD)
        await run.deliver(Topics.PORTAL_REQUEST, request(kennung, HANNOVER[0]), key=kennung)
        [own] = run.bodies(Topics.MELDEREGISTER_REQUEST)
        assert own["vorgangsnummer"] in run.store.keys
        clock.now = START + timedelta(seconds=31)
        await run.service.expire()
    [answered] = run.bodies(Topics.PORTAL_ANSWERED)
    assert answered["nichterstellung"]["code"] == "16"
    assert run.store.keys == {}


async def test_a_wrong_password_counts_and_the_fifth_locks_the_kennung() -> None:
    run = Portal(Clock())
    async with run:
        kennung, password = await registered(run, X25519PrivateKey.generate())
        for _ in range(5):
            wrong = await run.api("anmeldung", kennung=kennung, passwort="falsch")
            assert wrong.status_code == 401
        locked = await run.api("anmeldung", kennung=kennung, passwort=password)
    assert (locked.status_code, locked.json()["status"]) == (403, "user_locked")


async def requester_command(
    run: Portal, registration_id: str, action: str, operator: str = "ops-1", signed: bool = True
) -> str:
    command_id = f"RC-{uuid.uuid4().hex[:8]}"
    await run.deliver(
        Topics.PORTAL_REQUESTER_COMMAND,
        {
            "command_id": command_id, "registration_id": registration_id, "action": action,
            "operator_id": operator, "begruendung": "Prüfung", "at": START.isoformat(),
        },
        key=registration_id,
        signed_by=operator_key(operator) if signed else None,
    )  # fmt: skip
    return command_id


async def test_an_operator_unlocks_a_requester_locked_after_five_failures() -> None:
    run = Portal(Clock())
    async with run:
        kennung, password = await registered(run, X25519PrivateKey.generate())
        registration_id = run.bodies(Topics.PORTAL_REQUESTER)[-1]["registration_id"]
        for _ in range(5):
            await run.api("anmeldung", kennung=kennung, passwort="falsch")
        assert (await run.api("anmeldung", kennung=kennung, passwort=password)).status_code == 403
        await requester_command(run, registration_id, "unlock")
        again = await run.api("anmeldung", kennung=kennung, passwort=password)
        assert again.json()["status"] == "password_change_required"
        # nothing left to unlock now: said so, not silently done
        await requester_command(run, registration_id, "unlock")
    [refused] = run.bodies(Topics.PORTAL_REQUESTER_COMMAND_REJECTED)
    assert refused["grund"] == "NICHT_ANWENDBAR"


async def test_an_operator_locks_suspends_and_lifts_a_requester() -> None:
    run = Portal(Clock())
    async with run:
        kennung, password = await registered(run, X25519PrivateKey.generate())
        registration_id = run.bodies(Topics.PORTAL_REQUESTER)[-1]["registration_id"]

        async def status_after(action: str, **how: Any) -> tuple[str, int]:
            await requester_command(run, registration_id, action, **how)
            state = run.bodies(Topics.PORTAL_REQUESTER)[-1]["status"]
            answer = await run.api("anmeldung", kennung=kennung, passwort=password)
            return state, answer.status_code

        assert await status_after("suspend") == ("ausgesetzt", 403)
        assert await status_after("lift") == ("zugelassen", 200)
        assert await status_after("lock") == ("gesperrt", 403)
        # refused and changing nothing: unsigned, or by someone not among the portal's operators
        assert await status_after("unlock", signed=False) == ("gesperrt", 403)
        assert await status_after("unlock", operator="ops-2") == ("gesperrt", 403)
        assert await status_after("unlock") == ("zugelassen", 200)
        await run.deliver(
            Topics.PORTAL_REQUEST, request(kennung, HANNOVER[0]), key=kennung
        )  # still the initial password: refused, but not for a lock
    assert [r["grund"] for r in run.bodies(Topics.PORTAL_REQUESTER_COMMAND_REJECTED)] == [
        "OPERATOR_NOT_PROVEN",
        "OPERATOR_UNBEKANNT",
    ]


async def test_a_requester_token_opens_only_the_portal_and_ends_with_a_lock() -> None:
    """The mailbox believes only the portal's own token; a token of the authentication API (the
    authorities' sign-in) opens nothing here, and a lock ends a token's use at once."""
    run = Portal(Clock())
    async with run:
        kennung, password = await registered(run, X25519PrivateKey.generate())
        registration_id = run.bodies(Topics.PORTAL_REQUESTER)[-1]["registration_id"]
        await run.api("passwort", kennung=kennung, passwort=password, neues_passwort=NEW_PASSWORD)
        signed = (await run.api("anmeldung", kennung=kennung, passwort=NEW_PASSWORD)).json()
        bearer = {"Authorization": f"Bearer {signed['access_token']}"}
        assert (await run.http.get("/portal/postfach", headers=bearer)).status_code == 200
        authority, _ = identities.signed(
            username=kennung, tenant_id="portal", roles=["requester"], authorisations=[],
            now=START,
        )  # fmt: skip
        foreign = {"Authorization": f"Bearer {authority}"}
        assert (await run.http.get("/portal/postfach", headers=foreign)).status_code == 401
        await requester_command(run, registration_id, "lock")
        locked = await run.http.get("/portal/postfach", headers=bearer)
        assert (locked.status_code, locked.json()["status"]) == (403, "user_locked")
