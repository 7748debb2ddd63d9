"""The portal path end to end (§§ 44, 49 BMG, PortalV), every service its own process on the
real broker and database: portal, protocol_log, the registration offices' registers and the
mirror of state 03, and mail_dispatch with a real SMTP server. Requesters register, are approved,
get their Kennung by mail and their password by letter, change it, ask, and fetch answers sealed
for their own key; fees are booked per office and stated per month; the supervisory authority
reads the PortalV log."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from services.portal.domain import monat_von
from services.portal.service import answer_context
from shared.contract.events.account import OperatorRole
from shared.contract.events.portal import REQUESTER_CREDENTIAL_PURPOSE
from shared.contract.topics import Topics
from shared.law.melderegisterauskunft import AUSKUNFTSDATEN
from shared.platform.broker import json_or_none
from shared.platform.pki import ANSWER_KEY, LETTER_KEY
from shared.platform.sealed import (
    SealError,
    credential_context,
    load_private_key,
    open_sealed,
    public_bytes,
)
from tests import identities
from tests.helpers import (
    RawProducer,
    Record,
    ServiceProcess,
    database_url,
    eventually,
    read_all,
    read_to_end,
    stop_all,
)
from tests.retrieval import (
    HANNOVER,
    applied_by,
    deliver,
    delivery,
    delivery_log,
    person,
    publish,
    tables_containing,
    token,
)
from tests.smtp import SmtpServer, free_port

pytestmark = pytest.mark.integration
TOK = token()
OPERATOR = f"ops-portal-{TOK}"
FEES = {"03": {"eindeutig": 700, "neutral": 500}, "03241001": {"eindeutig": 1000, "neutral": 800}}
PKI = Path(os.environ.get("MELDESPIEGEL_PKI_DIR", ".local/pki"))
NEW_PASSWORD = "Neu-und-geheim-2026!"


@pytest.fixture(scope="module")
def stack(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    smtp = SmtpServer().start()
    portal_port, protocol_port = free_port(), free_port()
    env = {
        "MELDESPIEGEL_SMTP_PORT": str(smtp.port),
        "MELDESPIEGEL_PRINT_SPOOL_DIR": str(tmp_path_factory.mktemp("spool")),
        "MELDESPIEGEL_PORTAL_API_PORT": str(portal_port),
        "MELDESPIEGEL_PORTAL_OPERATORS": json.dumps([OPERATOR]),
        "MELDESPIEGEL_PORTAL_FEE_SCHEDULE": json.dumps(FEES),
        "MELDESPIEGEL_PROTOCOL_API_PORT": str(protocol_port),
    }
    procs = [
        ServiceProcess(f"services.{name}", artifacts / f"portal-{name}.log", env).start()
        for name in ("portal", "protocol_log", "mail_dispatch")
    ]
    # the registration offices' registers answer the portal; the state's mirror refuses it
    procs += [
        ServiceProcess(
            "services.register_mirror",
            artifacts / f"portal-{art}03.log",
            {**env, "MELDESPIEGEL_REGISTER_STATE": "03", "MELDESPIEGEL_REGISTER_ART": art},
        ).start()
        for art in ("melderegister", "melderegisterdatenspiegel")
    ]
    yield {
        "smtp": smtp,
        "portal": f"http://127.0.0.1:{portal_port}",
        "protocol": f"http://127.0.0.1:{protocol_port}",
    }
    stop_all(procs)
    smtp.stop()


# -- helpers -------------------------------------------------------------------------------


@dataclass
class Requester:
    registration_id: str
    kennung: str
    key: X25519PrivateKey
    email: str
    password: str


def now() -> str:
    return datetime.now(UTC).isoformat()


def registration(art: str, key: X25519PrivateKey | None = None, **fields: Any) -> dict[str, Any]:
    address = {"strasse_hausnummer": "Lange Laube 2", "postleitzahl": "30159", "ort": "Hannover"}
    common = {
        "registration_id": f"R-{uuid.uuid4().hex[:12]}",
        "art": art,
        "anschrift": address,
        "email": f"{art}-{uuid.uuid4().hex[:6]}@requester.example",
        "antwortschluessel": public_bytes(key or X25519PrivateKey.generate()).hex(),
        "submitted_at": now(),
    }
    if art == "natuerliche_person":
        common |= {
            "anrede": "frau",
            "vorname": "Johanna",
            "familienname": f"Anfragende{TOK}",
            "geburtsdatum": "1980-01-01",
            "identitaetsnachweis": {"art": "eid", "referenz": f"eID-{TOK}"},
        }
    else:
        common |= {
            "firma": f"Krankenkasse Nord {TOK}",
            "handelsregister": {
                "registergericht": "Amtsgericht Hannover",
                "registernummer": "VR 4711",
            },
            "verantwortliche_person": {
                "anrede": "herr",
                "vorname": "Karl",
                "familienname": "Berger",
            },
        }
    return common | fields


async def latest(topic: str, key: str, done: Any = None) -> dict[str, Any]:
    """The newest record under `key` once `done(value)` holds for it."""

    def newest(records: list[Record]) -> dict[str, Any] | None:
        mine = [r.json() for r in records if r.key == key]
        return mine[-1] if mine else None

    def reached(records: list[Record]) -> bool:
        value = newest(records)
        return value is not None and (done is None or done(value))

    value = newest(await read_all(topic, until=reached))
    assert value is not None
    return value


async def approve(producer: RawProducer, reg: dict[str, Any]) -> dict[str, Any]:
    decision = {
        "decision_id": f"D-{uuid.uuid4().hex[:8]}",
        "registration_id": reg["registration_id"],
        "operator_id": OPERATOR,
        "zulassen": True,
        "begruendung": "Identität anhand des Nachweises festgestellt.",
        "decided_at": now(),
    }
    await publish(
        producer, Topics.PORTAL_REGISTRATION_DECISION.name, decision, reg["registration_id"]
    )
    return await latest(
        Topics.PORTAL_CREDENTIALS.name, reg["registration_id"], lambda v: bool(v["kennung"])
    )


def initial_password(credentials: dict[str, Any]) -> str:
    key = load_private_key((PKI / LETTER_KEY).read_bytes())
    context = credential_context(credentials["kennung"], REQUESTER_CREDENTIAL_PURPOSE)
    return open_sealed(key, credentials["sealed_secret"], context).decode()


async def activate(api: httpx.AsyncClient, kennung: str, initial: str) -> None:
    r = await api.post("/portal/passwort", json={"kennung": kennung, "passwort": initial,
                                                  "neues_passwort": NEW_PASSWORD})  # fmt: skip
    assert r.status_code == 200, r.text


async def registered(
    producer: RawProducer, api: httpx.AsyncClient, art: str
) -> tuple[Requester, dict[str, Any]]:
    key = X25519PrivateKey.generate()
    reg = registration(art, key)
    await publish(producer, Topics.PORTAL_REGISTRATION_SUBMITTED.name, reg, reg["registration_id"])
    state = await latest(Topics.PORTAL_REQUESTER.name, reg["registration_id"])
    assert state["status"] == "in_pruefung", state
    credentials = await approve(producer, reg)
    requester = Requester(
        reg["registration_id"],
        credentials["kennung"],
        key,
        reg["email"],
        initial_password(credentials),
    )
    return requester, credentials


def portal_request(requester: Requester, ident: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "request_id": f"PR-{uuid.uuid4().hex}",
        "kennung": requester.kennung,
        "gemeindeschluessel": HANNOVER[0],
        "identifizierung": ident,
        "gewerblich": True,
        "gewerblicher_zweck": "forderungsmanagement",
        "erklaerung_keine_werbung_kein_adresshandel": True,
        "requested_at": now(),
        **extra,
    }


async def ask_portal(producer: RawProducer, *requests: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Publishes the requests; each one's released event by request id."""
    for r in requests:
        await publish(producer, Topics.PORTAL_REQUEST.name, r, r["kennung"])
    wanted = {r["request_id"] for r in requests}

    def bodies(records: list[Record]) -> dict[str, dict[str, Any]]:
        # other tests put hostile records on this topic; a reader skips what is not an event
        readable = (json_or_none(r.value) for r in records)
        return {b["request_id"]: b for b in readable if b and b.get("request_id") in wanted}

    records = await read_all(
        Topics.PORTAL_RELEASED.name, until=lambda rs: wanted <= set(bodies(rs))
    )
    return bodies(records)


async def signed_in(api: httpx.AsyncClient, who: Requester) -> dict[str, str]:
    """The requester's sign-in: the header with its access token."""
    answer = await api.post(
        "/portal/anmeldung", json={"kennung": who.kennung, "passwort": NEW_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def fetch(api: httpx.AsyncClient, who: Requester, vorgangsnummer: str) -> httpx.Response:
    return await api.post(
        "/portal/antwort",
        json={"vorgangsnummer": vorgangsnummer},
        headers=await signed_in(api, who),
    )


def opened_by(who: Requester, answer: dict[str, Any]) -> dict[str, Any]:
    context = answer_context(answer["vorgangsnummer"], who.kennung)
    return json.loads(open_sealed(who.key, answer["antwort"], context))


# -- fixtures: requesters and register records ----------------------------------------------


@pytest.fixture(scope="module")
async def requesters(stack: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    async with RawProducer() as producer, httpx.AsyncClient(base_url=stack["portal"]) as api:
        await eventually(lambda: _healthy(stack["portal"]), "the portal API answers")
        person_, person_credentials = await registered(producer, api, "natuerliche_person")
        insurer, _ = await registered(producer, api, "unternehmen")
        await activate(api, insurer.kennung, insurer.password)
        yield {
            "person": person_,
            "person_credentials": person_credentials,
            "insurer": insurer,
        }


async def _healthy(base: str) -> bool:
    try:
        async with httpx.AsyncClient(base_url=base) as c:
            return (await c.get("/health")).status_code == 200
    except httpx.HTTPError:
        return False


UNIQUE = f"Weißmüller{TOK}"
TWIN = f"Zwilling{TOK}"
BLOCKED = f"Gesperrt{TOK}"
CONDITIONAL = f"Heim{TOK}"
MIXED = f"Gemischt{TOK}"  # one open and one blocked person of the same name and birth
SECRET_STREET = f"Geheimweg{TOK}"  # appears in the unique person's answer, never in a request


@pytest.fixture(scope="module")
async def register_records(stack: dict[str, Any]) -> None:
    records = [
        person(f"OM-U-{TOK}", UNIQUE, ["Johanna", "Maria"], "19800101", strasse=SECRET_STREET,
               doktorgrad="Dr.", familienstand="verheiratet"),
        person(f"OM-T1-{TOK}", TWIN, ["Anna"], "19900202"),
        person(f"OM-T2-{TOK}", TWIN, ["Anna"], "19900202"),
        person(f"OM-B-{TOK}", BLOCKED, ["Bernd"], "19700303",
               auskunftssperre={"bis": "2099-12-31"}),
        person(f"OM-C-{TOK}", CONDITIONAL, ["Clara"], "19400404", bedingter_sperrvermerk=True),
        person(f"OM-M1-{TOK}", MIXED, ["Marta"], "19500505"),
        person(f"OM-M2-{TOK}", MIXED, ["Marta"], "19500505", strasse="Am Walde",
               auskunftssperre={"bis": "2099-12-31"}),
    ]  # fmt: skip
    d = delivery(HANNOVER, records)
    async with RawProducer() as producer:
        await deliver(producer, d)
    logged = await delivery_log({d["delivery_id"]})
    assert logged[0]["status"] == "applied", logged
    await applied_by("melderegister_03", {d["delivery_id"]})


# -- registration --------------------------------------------------------------------------


async def test_registration_valid_invalid_approval_and_credentials(
    stack: dict[str, Any], requesters: dict[str, Any]
) -> None:
    async with RawProducer() as producer, httpx.AsyncClient(base_url=stack["portal"]) as api:
        # defects are listed, every one
        bad = registration("natuerliche_person", geburtsdatum=None, antwortschluessel="abc",
                           identitaetsnachweis=None)  # fmt: skip
        register_number = {"registergericht": "AG X", "registernummer": "12"}
        bad_company = registration("unternehmen", handelsregister=register_number)
        for reg in (bad, bad_company):
            await publish(
                producer, Topics.PORTAL_REGISTRATION_SUBMITTED.name, reg, reg["registration_id"]
            )
        state = await latest(Topics.PORTAL_REQUESTER.name, bad["registration_id"])
        assert state["status"] == "unvollstaendig"
        assert {m["feld"] for m in state["maengel"]} == {
            "geburtsdatum",
            "identitaetsnachweis",
            "antwortschluessel",
        }
        state = await latest(Topics.PORTAL_REQUESTER.name, bad_company["registration_id"])
        assert [m["feld"] for m in state["maengel"]] == ["handelsregister.registernummer"]

        # an incomplete registration is not decided on; an unknown operator decides nothing
        for reg_id, operator in ((bad["registration_id"], OPERATOR), ("R-none", OPERATOR)):
            d = {"decision_id": f"D-{uuid.uuid4().hex[:8]}", "registration_id": reg_id,
                 "operator_id": operator, "zulassen": True, "begruendung": "x",
                 "decided_at": now()}  # fmt: skip
            await publish(producer, Topics.PORTAL_REGISTRATION_DECISION.name, d, reg_id)
        rejected = await latest(Topics.PORTAL_REGISTRATION_DECISION_REJECTED.name, "R-none")
        assert rejected["grund"] == "UNBEKANNT"
        rejected = await latest(
            Topics.PORTAL_REGISTRATION_DECISION_REJECTED.name, bad["registration_id"]
        )
        assert rejected["grund"] == "NICHT_IN_PRUEFUNG"
        other = registration("natuerliche_person")
        await publish(
            producer, Topics.PORTAL_REGISTRATION_SUBMITTED.name, other, other["registration_id"]
        )
        await latest(Topics.PORTAL_REQUESTER.name, other["registration_id"])
        d = {"decision_id": f"D-{uuid.uuid4().hex[:8]}",
             "registration_id": other["registration_id"], "operator_id": "ops-unknown",
             "zulassen": True, "begruendung": "x", "decided_at": now()}  # fmt: skip
        await publish(
            producer, Topics.PORTAL_REGISTRATION_DECISION.name, d, other["registration_id"]
        )
        rejected = await latest(
            Topics.PORTAL_REGISTRATION_DECISION_REJECTED.name, other["registration_id"]
        )
        assert rejected["grund"] == "OPERATOR_UNBEKANNT"

        # the approved person: state, Kennung by mail, password only sealed, then by letter
        who: Requester = requesters["person"]
        state = await latest(Topics.PORTAL_REQUESTER.name, who.registration_id)
        assert (state["status"], state["kennung"]) == ("zugelassen", who.kennung)
        credentials = requesters["person_credentials"]
        assert who.password not in json.dumps(credentials)
        assert credentials["address"]["surname"] == f"Anfragende{TOK}"
        mails = await eventually(lambda: stack["smtp"].to(who.email), "the Kennung mail arrives")
        assert who.kennung in mails[0].subject
        assert who.password.encode() not in mails[0].raw

        # first login: the initial password must be changed; before that, no request is taken
        login = {"kennung": who.kennung, "passwort": who.password}
        r = await api.post("/portal/anmeldung", json=login)
        assert r.json()["status"] == "password_change_required"
        early = await ask_portal(
            producer, portal_request(who, {"familienname": UNIQUE, "vornamen": "Johanna",
                                           "geburtsdatum": "19800101", "geburtsort": "Hannover"})
        )  # fmt: skip
        assert [e["nichterstellung"]["grund"] for e in early.values()] == ["ERSTANMELDUNG_OFFEN"]
        r = await api.post("/portal/passwort", json={**login, "neues_passwort": "kurz"})
        assert r.status_code == 400
        await activate(api, who.kennung, who.password)
        r = await api.post("/portal/anmeldung", json={**login, "passwort": NEW_PASSWORD})
        assert r.json()["status"] == "authenticated"
        r = await api.post("/portal/anmeldung", json={**login, "passwort": "falsch"})
        assert r.status_code == 401


# -- requests and answers ------------------------------------------------------------------

IDENT_UNIQUE = {"familienname": UNIQUE, "vornamen": "Johanna", "geburtsdatum": "19800101",
                "geburtsort": "Hannover"}  # fmt: skip
# § 49 Abs. 4 BMG through the running portal: (identification, refusal or None)
RULES: list[tuple[dict[str, Any], str | None]] = [
    ({"familienname": UNIQUE, "vornamen": "Johanna", "strasse": "Hauptstraße",
      "hausnummer": "5"}, None),
    ({"frueherer_name": "Niemand", "vornamen": "Johanna", "geburtsdatum": "19800101",
      "geschlecht": "w"}, None),
    ({"familienname": UNIQUE, "vornamen": "Johanna", "familienstand": "verheiratet",
      "geburtsort": "Hannover"}, None),
    ({"familienname": UNIQUE, "strasse": "Hauptstraße", "hausnummer": "5"}, "NAME_FEHLT"),
    ({"familienname": UNIQUE, "vornamen": "Johanna", "geburtsdatum": "19800101"},
     "IDENTIFIZIERUNG_UNZUREICHEND"),
    ({"familienname": UNIQUE, "vornamen": "Johanna", "strasse": "Hauptstraße"},
     "IDENTIFIZIERUNG_UNZUREICHEND"),
    ({"familienname": UNIQUE, "vornamen": "Johanna", "geschlecht": "w",
      "familienstand": "verheiratet", "geburtsdatum": "19800101"},
     "GESCHLECHT_MIT_FAMILIENSTAND"),
]  # fmt: skip


@pytest.fixture(scope="module")
async def answered(
    stack: dict[str, Any], requesters: dict[str, Any], register_records: None
) -> dict[str, Any]:
    """One batch of requests through the running system, released, before anything is fetched."""
    who: Requester = requesters["person"]
    insurer: Requester = requesters["insurer"]
    async with httpx.AsyncClient(base_url=stack["portal"]) as api:
        r = await api.post(
            "/portal/anmeldung", json={"kennung": who.kennung, "passwort": NEW_PASSWORD}
        )
        if r.json().get("status") != "authenticated":
            await activate(api, who.kennung, who.password)
    cases = {
        "unique": portal_request(who, IDENT_UNIQUE),
        "ambiguous": portal_request(who, {"familienname": TWIN, "vornamen": "Anna",
                                          "geburtsdatum": "19900202", "geburtsort": "Hannover"}),
        "not_found": portal_request(who, {"familienname": f"Niemand{TOK}", "vornamen": "Otto",
                                          "geburtsdatum": "19900202", "geburtsort": "Hannover"}),
        "blocked": portal_request(who, {"familienname": BLOCKED, "vornamen": "Bernd",
                                        "geburtsdatum": "19700303", "geburtsort": "Hannover"}),
        "conditional": portal_request(who, {"familienname": CONDITIONAL, "vornamen": "Clara",
                                            "geburtsdatum": "19400404",
                                            "geburtsort": "Hannover"}),
        "mixed": portal_request(who, {"familienname": MIXED, "vornamen": "Marta",
                                      "geburtsdatum": "19500505", "geburtsort": "Hannover"}),
        "no_declaration": portal_request(who, IDENT_UNIQUE,
                                         erklaerung_keine_werbung_kein_adresshandel=False),
        "advertising": portal_request(who, IDENT_UNIQUE, gewerblicher_zweck="werbung"),
        "address_trading": portal_request(who, IDENT_UNIQUE, gewerblicher_zweck="adresshandel"),
        "insurer": portal_request(insurer, IDENT_UNIQUE,
                                  gewerblicher_zweck="freiwillige_leistung_krankenkasse"),
        "private": portal_request(who, IDENT_UNIQUE, gewerblich=False, gewerblicher_zweck=None),
    }  # fmt: skip
    for i, (ident, _) in enumerate(RULES):
        cases[f"rule{i}"] = portal_request(who, ident)
    async with RawProducer() as producer:
        released = await ask_portal(producer, *cases.values())
    return {"cases": cases, "released": {k: released[v["request_id"]] for k, v in cases.items()}}


# § 49 Abs. 4 Nr. 2, § 51 Abs. 2, § 52 Abs. 2 BMG: one neutral answer for all of these
NEUTRAL_CASES = ("ambiguous", "not_found", "blocked", "conditional", "mixed")


async def test_section_49_4_rules_through_the_running_portal(answered: dict[str, Any]) -> None:
    for i, (_, refused) in enumerate(RULES):
        got = answered["released"][f"rule{i}"]
        if refused is None:
            assert got["ausgang"] == "beauskunftet", (i, got)
        else:
            assert got["ausgang"] == "abgelehnt", (i, got)
            assert got["nichterstellung"]["grund"] == refused
            assert "§ 49" in got["nichterstellung"]["text"]


async def test_declaration_and_purpose_are_required(answered: dict[str, Any]) -> None:
    r = answered["released"]
    assert r["no_declaration"]["nichterstellung"]["grund"] == "ERKLAERUNG_FEHLT"
    assert "§ 44 Abs. 3 Nr. 2" in r["no_declaration"]["nichterstellung"]["text"]
    for case in ("advertising", "address_trading"):
        assert r[case]["nichterstellung"]["grund"] == "ZWECK_UNZULAESSIG"
        assert r[case]["antwort"] is None
    assert r["private"]["ergebnisstatus"] == "01"
    assert r["insurer"]["ergebnisstatus"] == "01"  # the voluntary service, fee-based here


async def test_answers_are_section_44_only_or_the_same_neutral_answer_and_gone_after_delivery(
    stack: dict[str, Any], requesters: dict[str, Any], answered: dict[str, Any]
) -> None:
    who: Requester = requesters["person"]
    released = answered["released"]
    assert released["unique"]["ergebnisstatus"] == "01"
    for case in NEUTRAL_CASES:
        assert released[case]["ergebnisstatus"] == "03", (case, released[case])
        assert released[case]["ausgang"] == "beauskunftet"
    shape = {tuple(sorted(released[c])) for c in (*NEUTRAL_CASES, "unique")}
    assert len(shape) == 1  # the same fields whatever the outcome
    assert len({len(released[c]["antwort"]) for c in NEUTRAL_CASES}) == 1

    fetched_cases = ("unique", *NEUTRAL_CASES)
    numbers = [released[c]["vorgangsnummer"] for c in fetched_cases]
    conn = await asyncpg.connect(database_url())
    try:
        # before delivery the portal, and only the portal, holds each request's key
        keys = await conn.fetch(
            "SELECT vorgangsnummer, private_key FROM portal.anfrageschluessel "
            "WHERE vorgangsnummer = ANY($1)",
            numbers,
        )
        assert len(keys) == len(numbers)
        key_of = {
            r["vorgangsnummer"]: X25519PrivateKey.from_private_bytes(r["private_key"]) for r in keys
        }
        box = released["unique"]
        inhalt = open_sealed(key_of[box["vorgangsnummer"]], box["antwort"],
                             box["vorgangsnummer"].encode())  # fmt: skip
        assert json.loads(inhalt)["ergebnisstatus"] == "01"

        async with httpx.AsyncClient(base_url=stack["portal"]) as api:

            async def all_listed() -> bool:
                # the portal takes the released answers into the mailbox as it consumes them
                listed = await api.get("/portal/postfach", headers=await signed_in(api, who))
                return set(numbers) <= {e["vorgangsnummer"] for e in listed.json()["abholbereit"]}

            await eventually(all_listed, "every answer waits in the requester's mailbox")
            forged = {"Authorization": "Bearer eyJhbGciOiJFZERTQSJ9.e30.AAAA"}
            wrong = await api.post(
                "/portal/antwort", json={"vorgangsnummer": numbers[0]}, headers=forged
            )
            assert wrong.status_code == 401
            answers = {}
            for case in fetched_cases:
                r = await fetch(api, who, released[case]["vorgangsnummer"])
                assert r.status_code == 200, r.text
                answers[case] = opened_by(who, r.json())
                again = await fetch(api, who, released[case]["vorgangsnummer"])
                assert again.status_code == 404  # delivered once, then gone
            # another requester cannot take an answer that is not its own, still waiting
            waiting = released["private"]["vorgangsnummer"]
            other = await fetch(api, requesters["insurer"], waiting)
            assert other.status_code == 404
            assert await conn.fetchval(
                "SELECT count(*) FROM portal.postfach WHERE vorgangsnummer = $1", waiting
            )

        person_ = answers["unique"]["person"]
        assert set(person_) == {"familienname", "vornamen", "doktorgrad", "derzeitige_anschriften",
                                "verstorben"}  # fmt: skip
        assert person_["familienname"] == UNIQUE
        assert person_["doktorgrad"] == "Dr."
        assert person_["derzeitige_anschriften"][0]["strasse"] == SECRET_STREET
        neutral = [answers[c] for c in NEUTRAL_CASES]
        assert all(n == neutral[0] for n in neutral)
        assert neutral[0]["ergebnisstatus"] == "03"
        # the log names no record for any of them (§ 40 Abs. 1 Nr. 7 with § 49 Abs. 6 BMG)
        rows = await conn.fetch(
            "SELECT vorgangsnummer, entry FROM protocol_log.protokoll "
            "WHERE vorgangsnummer = ANY($1) AND NOT entry ? 'art'",  # the requests' entries
            [released[c]["vorgangsnummer"] for c in NEUTRAL_CASES],
        )
        entries = {r["vorgangsnummer"]: json.loads(r["entry"]) for r in rows}
        kinds = set()
        for c in NEUTRAL_CASES:
            e = entries[released[c]["vorgangsnummer"]]
            assert (e["treffer"], e["anzahl"]) == ([], 0), c
            kinds.add(json.dumps(e["art_der_rueckantwort"], sort_keys=True))
        assert len(kinds) == 1

        # PortalV § 3 Abs. 1 Nr. 3: each fetch is logged with the time of the forwarding
        async def forwarded() -> dict[str, dict[str, Any]]:
            rows = await conn.fetch(
                "SELECT vorgangsnummer, entry FROM protocol_log.protokoll "
                "WHERE vorgangsnummer = ANY($1) AND entry ->> 'art' = 'weiterleitung'",
                numbers,
            )
            return {r["vorgangsnummer"]: json.loads(r["entry"]) for r in rows}

        await eventually(
            lambda: _all_of(forwarded, numbers), "each fetch logged with its forwarding time"
        )
        for nummer, e in (await forwarded()).items():
            released_at = next(v for v in released.values() if v["vorgangsnummer"] == nummer)[
                "released_at"
            ]
            assert e["kennung"] == who.kennung
            assert datetime.fromisoformat(e["weitergeleitet_am"]) >= datetime.fromisoformat(
                released_at
            )

        # after delivery: no key, no mailbox row, and no table outside the register's own
        # records holds the answer's content
        assert not await conn.fetchval(
            "SELECT count(*) FROM portal.anfrageschluessel WHERE vorgangsnummer = ANY($1)", numbers
        )
        assert not await conn.fetchval(
            "SELECT count(*) FROM portal.postfach WHERE vorgangsnummer = ANY($1)", numbers
        )
        assert await tables_containing(conn, SECRET_STREET) == []
    finally:
        await conn.close()

    # every retained copy on every topic is a box that no key left in the system opens
    keys_left = [
        load_private_key((PKI / ANSWER_KEY).read_bytes()),
        load_private_key((PKI / LETTER_KEY).read_bytes()),
        who.key,
        requesters["insurer"].key,
    ]
    wanted = set(numbers)
    for topic in (Topics.REGISTER_PORTAL_RESPONSE.name, Topics.PORTAL_RELEASED.name):
        records = await read_all(topic, until=lambda rs: wanted <= {r.key for r in rs})
        copies = [r.json() for r in records if r.key in wanted and r.json().get("antwort")]
        assert len(copies) >= len(numbers)
        for copy in copies:
            assert SECRET_STREET not in json.dumps(copy)
            for k in keys_left:
                with pytest.raises(SealError):
                    open_sealed(k, copy["antwort"], copy["vorgangsnummer"].encode())


async def test_the_registration_office_answers_and_logs_the_portal_and_the_mirror_refuses_it(
    answered: dict[str, Any],
) -> None:
    """Nds. AG BMG § 5 Abs. 1 Satz 4 with § 2 Abs. 1: the state's mirror processes its data for
    public bodies only. The portal forwards to the registration offices' registers (§ 49 Abs. 3
    Satz 3 Nr. 2 BMG), which log each answer themselves (§ 49 Abs. 6 with § 40 Abs. 1 BMG)."""
    released = answered["released"]
    numbers = {released[c]["vorgangsnummer"]: c for c in ("unique", *NEUTRAL_CASES)}
    sent = await read_all(
        Topics.MELDEREGISTER_REQUEST.name, until=lambda rs: set(numbers) <= {r.key for r in rs}
    )
    requests = {r.key: r.json() for r in sent if r.key in numbers}
    to_mirror = {r.key for r in await read_to_end(Topics.register_request("03").name)}
    assert not to_mirror & set(numbers)

    conn = await asyncpg.connect(database_url())
    try:
        rows = await conn.fetch(
            "SELECT * FROM melderegister_03.auskunftsprotokoll WHERE vorgangsnummer = ANY($1)",
            list(numbers),
        )
        assert not await conn.fetchval(
            "SELECT count(*) FROM register_mirror_03.auskunftsprotokoll "
            "WHERE vorgangsnummer = ANY($1)",
            list(numbers),
        )
    finally:
        await conn.close()
    logged = {r["vorgangsnummer"]: r for r in rows}
    assert set(logged) == set(numbers)
    for nummer, case in numbers.items():
        entry = logged[nummer]
        assert entry["auskunftsart"] == "einfache_melderegisterauskunft"
        # the Aktenzeichen is the Vorgangsnummer: the portal's log names the requester under it
        assert json.loads(entry["anfragende"])["aktenzeichen"] == nummer
        assert entry["protokolliert_am"] <= datetime.fromisoformat(released[case]["released_at"])
        if case == "unique":
            assert entry["ergebnisstatus"] == "01"
            assert json.loads(entry["treffer"]) == [
                {"gemeindeschluessel": HANNOVER[0], "ordnungsmerkmal": f"OM-U-{TOK}"}
            ]
            assert entry["daten"] == list(AUSKUNFTSDATEN)  # § 44 Abs. 1 Satz 1 BMG
        else:  # the neutral answer names no record (§ 40 Abs. 1 Nr. 7)
            assert (entry["ergebnisstatus"], entry["daten"]) == ("03", []), case
            assert json.loads(entry["treffer"]) == [], case

    # the same request put on the mirror's topic is refused with the reason; an authority's
    # retrieval put on the offices' endpoint is refused too
    original = requests[released["unique"]["vorgangsnummer"]]
    misrouted = {**original, "vorgangsnummer": f"03-P-MIRROR-{TOK}"}
    authority = {**original, "vorgangsnummer": f"03-A-OFFICES-{TOK}",
                 "auskunftsart": "behoerdenauskunft"}  # fmt: skip
    async with RawProducer() as producer:
        await publish(producer, Topics.register_request("03").name, misrouted,
                      misrouted["vorgangsnummer"])  # fmt: skip
        await publish(producer, Topics.MELDEREGISTER_REQUEST.name, authority,
                      authority["vorgangsnummer"])  # fmt: skip
    for topic, nummer, grund, cited in (
        (Topics.REGISTER_PORTAL_RESPONSE, misrouted["vorgangsnummer"], "MELDEBEHOERDE_ZUSTAENDIG",
         "§ 5 Abs. 1 Satz 4, § 2 Abs. 1 Nds. AG BMG"),
        (Topics.REGISTER_RESPONSE, authority["vorgangsnummer"], "NUR_PORTALANFRAGEN",
         "Melderegisterdatenspiegel"),
    ):  # fmt: skip
        records = await read_all(topic.name, until=lambda rs, n=nummer: n in {r.key for r in rs})
        response = next(r.json() for r in records if r.key == nummer)
        assert response["nichterstellung"]["grund"] == grund
        assert cited in response["nichterstellung"]["text"]
        assert (response["antwort"], response["treffer"]) == (None, [])


# -- fees ----------------------------------------------------------------------------------


async def test_fees_follow_the_schedule_and_the_statement_sums(
    requesters: dict[str, Any], answered: dict[str, Any]
) -> None:
    who: Requester = requesters["person"]
    released = answered["released"]
    mine = [v for k, v in released.items() if k != "insurer" and v["kennung"] == who.kennung]
    answered_by_office = [v for v in mine if v["ausgang"] == "beauskunftet"]
    fee = FEES["03241001"]
    expected = sum(fee["eindeutig"] if v["ergebnisstatus"] == "01" else fee["neutral"]
                   for v in answered_by_office)  # fmt: skip
    assert expected > 0
    assert len(answered_by_office) < len(mine)

    async def statement_for(empfaenger: str, since: str) -> dict[str, Any]:
        return await latest(
            Topics.PORTAL_STATEMENT.name,
            empfaenger,
            lambda v: v["created_at"] >= since and v["anzahl"] >= len(answered_by_office),
        )

    asked_at = now()
    monat = monat_von(datetime.now(UTC))
    async with RawProducer() as producer:
        cmd = {"request_id": f"S-{TOK}", "monat": monat, "requested_by": OPERATOR,
               "requested_at": asked_at}  # fmt: skip
        await publish(producer, Topics.PORTAL_STATEMENT_REQUESTED.name, cmd, monat)
    statement = await statement_for(who.kennung, asked_at)
    assert statement["art"] == "anfragender"
    assert statement["abgeschlossen"] is False
    assert statement["anzahl"] == len(answered_by_office)
    assert statement["summe_cent"] == expected
    assert statement["summe_cent"] == sum(p["betrag_cent"] for p in statement["posten"])
    assert [p["gegenueber"] for p in statement["posten"]] == ["03241001"]
    office = await latest(Topics.PORTAL_STATEMENT.name, "03241001",
                          lambda v: v["created_at"] >= asked_at)  # fmt: skip
    assert office["art"] == "meldebehoerde"
    line = {p["gegenueber"]: p for p in office["posten"]}
    assert line[who.kennung]["betrag_cent"] == expected
    assert line[requesters["insurer"].kennung]["betrag_cent"] == fee["eindeutig"]
    assert office["summe_cent"] == sum(p["betrag_cent"] for p in office["posten"])


# -- the PortalV § 3 log -------------------------------------------------------------------

SEVEN_ITEMS = (
    "kennung",  # Nr. 1
    "anfragedaten",  # Nr. 2
    "angefragt_am",  # Nr. 3 (and the forwarding, at the fetch: its own entry)
    "freigegeben_am",
    "gewerblicher_zweck",  # Nr. 4
    "erklaerung_keine_werbung_kein_adresshandel",  # Nr. 5
    "art_der_rueckantwort",  # Nr. 6
    "vorgangsnummer",  # Nr. 7
)


async def test_the_log_holds_the_seven_items_and_the_supervisory_authority_reads_it(
    stack: dict[str, Any], answered: dict[str, Any]
) -> None:
    # the supervisory authority signs in with an operator account of its role (PortalV § 4 Nr. 3)
    token, _ = identities.operator(OperatorRole.AUFSICHT, datetime.now(UTC), "lfd-niedersachsen")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=stack["protocol"], headers=headers) as api:
        for case, request in answered["cases"].items():
            released = answered["released"][case]
            r = await api.post("/protocol/read", json={
                "purpose": "datenschutzkontrolle",
                "vorgangsnummer": released["vorgangsnummer"]})  # fmt: skip
            assert r.status_code == 200, r.text
            # the request's entry; a fetched answer has a second one, its forwarding
            [entry] = [e for e in r.json()["entries"] if e.get("art") != "weiterleitung"]
            assert entry["chain"] == "portal"
            assert all(item in entry for item in SEVEN_ITEMS), (case, entry)
            assert entry["kennung"] == request["kennung"]
            assert entry["anfragedaten"]["identifizierung"] == request["identifizierung"]
            assert entry["gewerblicher_zweck"] == request["gewerblicher_zweck"]
            assert (
                entry["erklaerung_keine_werbung_kein_adresshandel"]
                is request["erklaerung_keine_werbung_kein_adresshandel"]
            )
            assert entry["angefragt_am"] <= entry["freigegeben_am"]
            rueck = entry["art_der_rueckantwort"]
            assert rueck["ergebnisstatus"] == released["ergebnisstatus"]
            if released["nichterstellung"]:
                assert rueck["nichterstellung"]["grund"] == released["nichterstellung"]["grund"]
            assert SECRET_STREET not in json.dumps(entry["art_der_rueckantwort"])
        refused = await api.post("/protocol/read", json={"purpose": "betriebssicherung"})
        assert refused.status_code == 403
        verified = await api.get("/protocol/verify")
        assert verified.json()["intact"] is True
        assert "portal" in verified.json()["chains"]


async def test_answers_never_fetched_are_deleted_with_their_key(
    answered: dict[str, Any],
) -> None:
    from datetime import timedelta

    from services.portal import service
    from services.portal.store import PortalStore

    old = datetime.now(UTC) - timedelta(days=40)
    number = f"03-P-EXPIRED-{TOK}"
    conn = await asyncpg.connect(database_url(), server_settings={"search_path": "portal"})
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO anfrageschluessel VALUES ($1, $2, $3)", number, b"k" * 32, old
            )
            await conn.execute(
                "INSERT INTO postfach VALUES ($1, 'PR-x', 'anf-x', '03241001', 'beauskunftet', "
                "'03', NULL, 'box', $2)",
                number,
                old,
            )
            fresh = answered["released"]["private"]["vorgangsnummer"]
            await service.expire_postfach(PortalStore(conn), datetime.now(UTC), timedelta(days=30))
        assert not await conn.fetchval(
            "SELECT count(*) FROM postfach WHERE vorgangsnummer = $1", number
        )
        assert not await conn.fetchval(
            "SELECT count(*) FROM anfrageschluessel WHERE vorgangsnummer = $1", number
        )
        # a recent answer stays for its requester
        assert await conn.fetchval("SELECT count(*) FROM postfach WHERE vorgangsnummer = $1", fresh)
    finally:
        await conn.close()


async def _all_of(rows: Callable[[], Awaitable[dict[str, Any]]], wanted: list[str]) -> bool:
    return set(wanted) <= set(await rows())
