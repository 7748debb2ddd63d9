"""Builders for the retrieval path's tests: register records and deliveries, tenant states,
queries; and reading released answers (opened with the front end's key)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import string
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from shared.contract.events.abruf import QueryAnswered, QueryRequested, RegisterResponse, Treffer
from shared.contract.topics import Topics, by_name
from shared.platform.broker import json_or_none
from shared.platform.kafka_client import KafkaClient
from shared.platform.operator_signatures import COMMAND, OperatorKey
from shared.platform.pki import ANSWER_KEY
from shared.platform.sealed import load_private_key, open_sealed
from tests.helpers import (
    RawProducer,
    Record,
    bootstrap,
    database_url,
    eventually,
    headers_for,
    read_all,
    read_to_end,
)
from tests.identities import operator_key

HANNOVER = ("03241001", "Hannover", "30159")
BRAUNSCHWEIG = ("03101000", "Braunschweig", "38100")
MUENCHEN = ("09162000", "München", "80331")
KOELN = "05315000"  # no register of state 05 runs in the tests


def token(n: int = 6) -> str:
    """Letters that make a test's names its own."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(n)).capitalize()


def person(
    om: str,
    familienname: str,
    vornamen: list[str],
    geburtsdatum: str,
    place: tuple[str, str, str] = HANNOVER,
    strasse: str = "Hauptstraße",
    hausnummer: str = "5",
    **extra: Any,
) -> dict[str, Any]:
    ags, ort, plz = place
    anschrift = {
        "strasse": strasse,
        "hausnummer": hausnummer,
        "postleitzahl": plz,
        "wohnort": ort,
        "gemeindeschluessel": ags,
        "status": "alleinige_wohnung",
        "einzugsdatum": "2015-04-01",
        "bedingter_sperrvermerk": extra.pop("bedingter_sperrvermerk", False),
    }
    return {
        "ordnungsmerkmal": om,
        "familienname": familienname,
        "vornamen": vornamen,
        "geburtsdatum": geburtsdatum,
        "geburtsort": ort,
        "geschlecht": extra.pop("geschlecht", "w"),
        "staatsangehoerigkeiten": ["deutsch"],
        "anschriften": [anschrift],
        **extra,
    }


def delivery(
    place: tuple[str, str, str],
    records: list[dict[str, Any]],
    art: str = "aenderung",
    **extra: Any,
) -> dict[str, Any]:
    ags, ort, _ = place
    return {
        "delivery_id": f"L-{uuid.uuid4().hex[:12]}",
        "absender": {"gemeindeschluessel": ags, "name": f"Stadt {ort}"},
        "art": art,
        "datensaetze": records,
        "erstellt_am": datetime.now(UTC).isoformat(),
        **extra,
    }


def tenant_state(
    tenant_id: str,
    *,
    role: str = "einfache_behoerdenauskunft",
    status: str = "active",
    logging: str | None = None,
    conditions: Iterable[str] = (),
    users: dict[str, str] | None = None,
    version: int = 1,
    kind: str | None = None,
    verfahren: Iterable[dict[str, Any]] = (),
    sperrdaten: Iterable[str] = (),
) -> dict[str, Any]:
    """A tenant as min.tenant.state.v1 describes it; `sperrdaten` names the users authorised
    under § 34a Abs. 6 BMG, `verfahren` its registered machine procedures."""
    security = role == "sicherheitsbehoerde"
    authorised = set(sperrdaten)
    return {
        "tenant_id": tenant_id,
        "authority_key": f"key-{tenant_id}",
        "authority_name": f"Behörde {tenant_id}",
        "role": role,
        "status": status,
        "data_scope": "bmg_34_1_satz_1_und_2" if security else "bmg_34_1_satz_1",
        "logging_arrangement": logging,
        "conditions": [{"code": c, "text": c} for c in conditions],
        "users": [
            {
                "user_id": f"u-{name}",
                "username": name,
                "kind": "user",
                "status": state,
                "sperrdaten_berechtigt": name in authorised,
            }
            for name, state in (users or {"sachbearbeitung": "active"}).items()
        ],
        "authority_kind": kind,
        "verfahren": list(verfahren),
        "version": version,
        "updated_at": datetime.now(UTC).isoformat(),
    }


def query(
    tenant_id: str,
    *,
    ags: list[str],
    kriterien: dict[str, Any] | None = None,
    suchart: str = "personensuche",
    kennung: str = "sachbearbeitung",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "query_id": f"Q-{uuid.uuid4().hex}",
        "tenant_id": tenant_id,
        "anfragende": {
            "behoerde": f"Behörde {tenant_id}",
            "anschrift": "Schloßplatz 1, 30159 Hannover",
            "erreichbarkeit": "+49 511 0000, post@behoerde.example",
            "aktenzeichen": "AZ 12-3/2026",
            "anlass": "Prüfung der Zuständigkeit",
            "kennung": kennung,
        },
        "suchart": suchart,
        "gemeindeschluessel": ags,
        "kriterien": kriterien or {},
        "requested_at": datetime.now(UTC).isoformat(),
        **extra,
    }


async def publish(
    producer: RawProducer,
    spec_name: str,
    body: dict[str, Any],
    key: str,
    signed_by: OperatorKey | None = None,
) -> None:
    """Publishes as the upstream party would: an operator's command signed by the operator it
    names (or by `signed_by`)."""
    spec = by_name(spec_name)
    headers = headers_for(spec.event_type)
    raw = json.dumps(body).encode()
    if spec.operator_command:
        named = body.get("operator_id") or body.get("requested_by") or body["actor"]["id"]
        plain = {k: v.decode() for k, v in headers}
        signer = signed_by or operator_key(named)
        headers += [
            (k, v.encode())
            for k, v in signer.sign(COMMAND, spec_name, key.encode(), plain, raw).items()
        ]
    await producer.send(spec_name, raw, key=key, headers=headers)


async def deliver(producer: RawProducer, *deliveries: dict[str, Any]) -> None:
    for d in deliveries:
        await publish(
            producer, Topics.REGISTER_DELIVERY.name, d, d["absender"]["gemeindeschluessel"]
        )


async def delivery_log(delivery_ids: set[str], per_delivery: int = 1) -> list[dict[str, Any]]:
    """The delivery log entries of the given deliveries, once each has `per_delivery` entries
    (every register that consumed it logs it, or ignores it if it belongs to no state of its)."""

    def entries(records: list[Record]) -> list[dict[str, Any]]:
        # the hostile-input test leaves undecodable records on the topic: not entries
        bodies = [json_or_none(r.value) for r in records]
        return [b for b in bodies if isinstance(b, dict) and b.get("delivery_id") in delivery_ids]

    def done(records: list[Record]) -> bool:
        seen = [e["delivery_id"] for e in entries(records)]
        return all(seen.count(d) >= per_delivery for d in delivery_ids)

    return entries(await read_all(Topics.REGISTER_DELIVERY_LOG.name, until=done))


async def applied_by(schema: str, delivery_ids: set[str]) -> None:
    """Waits until the register of this schema has applied the deliveries: the registration
    offices' registers log them in their own table only, not on the delivery log topic."""
    conn = await asyncpg.connect(database_url())
    try:

        async def done() -> bool:
            if not await conn.fetchval("SELECT to_regclass($1)", f"{schema}.lieferungen"):
                return False  # the register has not yet made its tables
            have = await conn.fetchval(
                f"SELECT count(DISTINCT delivery_id) FROM {schema}.lieferungen "
                "WHERE delivery_id = ANY($1) AND status = 'applied'",
                list(delivery_ids),
            )
            return bool(have == len(delivery_ids))

        await eventually(done, f"{schema} applied {sorted(delivery_ids)}")
    finally:
        await conn.close()


async def bodies_on(topic: str) -> list[dict[str, Any]]:
    """Every event on a topic so far; records that are no event (the hostile-input test leaves
    such on every consumed topic) are skipped."""
    bodies = [json_or_none(r.value) for r in await read_to_end(topic)]
    return [b for b in bodies if isinstance(b, dict)]


async def ask(producer: RawProducer, *queries: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Publishes the queries and returns each one's released answer by query id."""
    for q in queries:
        await publish(producer, Topics.QUERY_REQUESTED.name, q, q["query_id"])
    wanted = {q["query_id"] for q in queries}

    def done(records: list[Record]) -> bool:
        return wanted <= {r.key for r in records}

    records = await read_all(Topics.QUERY_DELIVERED.name, until=done)
    return {r.key: r.json() for r in records if r.key in wanted}  # type: ignore[misc]


def opened(delivered: dict[str, Any]) -> dict[str, Any]:
    """The answer as the front end sees it, opened with its key."""
    pki = Path(os.environ.get("MELDESPIEGEL_PKI_DIR", ".local/pki"))
    key = load_private_key((pki / ANSWER_KEY).read_bytes())
    raw = open_sealed(key, delivered["antwort"], delivered["vorgangsnummer"].encode())
    return json.loads(raw)


async def router_knows(db: Any, tenant_ids: list[str]) -> bool:
    """Whether query_router has the tenants' states (False while it has not even migrated)."""
    try:
        found = await db.fetchval(
            "SELECT count(*) FROM query_router.mandanten WHERE tenant_id = ANY($1)", tenant_ids
        )
    except asyncpg.UndefinedTableError:
        return False
    return found == len(tenant_ids)


async def tenant_with_one_person(
    producer: RawProducer,
    db: Any,
    tenant: str,
    place: tuple[str, str, str],
    ordnungsmerkmal: str,
    familienname: str,
) -> None:
    """A tenant the router knows and one person (Vorname Ida, born 5 May 1985) in the register
    of `place`'s state, for a burst of queries."""
    await publish(producer, Topics.TENANT_STATE.name, tenant_state(tenant), tenant)
    d = delivery(place, [person(ordnungsmerkmal, familienname, ["Ida"], "19850505", place)])
    await deliver(producer, d)
    await delivery_log({d["delivery_id"]})
    await eventually(lambda: router_knows(db, [tenant]), f"the router knows {tenant}")


async def burst(
    producer: RawProducer, tenant: str, place: tuple[str, str, str], familienname: str, n: int
) -> list[dict[str, Any]]:
    """Publishes `n` Personensuche queries for that person, every other one a miss (another birth
    date), and returns them."""
    queries = [
        query(
            tenant,
            ags=[place[0]],
            kriterien={
                "familienname": familienname,
                "vornamen": "Ida",
                "geburtsdatum": "19850505" if i % 2 else "19850506",
            },
        )
        for i in range(n)
    ]
    for q in queries:
        await publish(producer, Topics.QUERY_REQUESTED.name, q, q["query_id"])
    return queries


Released = Callable[[dict[str, Any], dict[str, str]], Awaitable[None]]


async def follow_released(ready: asyncio.Event, tenant: str, handle: Released) -> None:
    """Reads `min.query.delivered.v1` from its end at the call on (`ready` is set once the
    positions are fixed) and hands each released answer of `tenant`, with its headers, to
    `handle`; until cancelled."""
    follower = await KafkaClient(bootstrap()).follow(Topics.QUERY_DELIVERED.name)
    try:
        ready.set()
        while True:
            for r in await follower.next(0.2):
                released = json_or_none(r.value) or {}  # a record that is no event: skipped
                if released.get("tenant_id") == tenant:
                    await handle(released, r.headers)
    finally:
        await follower.close()


class ReleasedAnswers:
    """Every answer released to `tenant` from now on, followed in the background (`run`): per
    query its refusal code, when it first came, its event ids (the same event delivered again is
    one) and its Vorgangsnummern."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.codes: dict[str, str | None] = {}
        self.at: dict[str, float] = {}
        self.events: dict[str, set[str]] = defaultdict(set)
        self.vorgaenge: dict[str, set[str]] = defaultdict(set)
        self.ready = asyncio.Event()

    async def run(self) -> None:
        await follow_released(self.ready, self.tenant, self.note)

    async def note(self, released: dict[str, Any], headers: dict[str, str]) -> None:
        query = released["query_id"]
        self.codes[query] = (released.get("nichterstellung") or {}).get("code")
        self.at.setdefault(query, time.monotonic())
        self.events[query].add(headers["ce_id"])
        self.vorgaenge[query].add(released["vorgangsnummer"])


async def tables_containing(conn: asyncpg.Connection, needle: str) -> list[str]:
    """Every table (but the registers' own records of persons) with a row containing `needle`."""
    tables = await conn.fetch(
        """SELECT table_schema, table_name FROM information_schema.tables
           WHERE table_type = 'BASE TABLE'
             AND table_schema NOT IN ('pg_catalog', 'information_schema')
             AND NOT (table_schema ~ '^(register_mirror|melderegister)_'
                      AND table_name = 'personen')"""
    )
    found = []
    for t in tables:
        name = f'"{t["table_schema"]}"."{t["table_name"]}"'
        if await conn.fetchval(
            f"SELECT count(*) FROM {name} x WHERE x::text LIKE $1", f"%{needle}%"
        ):
            found.append(name)
    return found


def answered(
    at: datetime,
    *,
    tenant: str = "T-chain",
    zugangsart: str = "einfache_behoerdenauskunft",
    protokollierung: str = "operator",
    treffer: str = "P1",
    kriterien: dict[str, Any] | None = None,
) -> QueryAnswered:
    """A unique hit as the router hands it to protocol_log, for tests and benchmarks of the log."""
    q = QueryRequested.model_validate(
        query(
            tenant,
            ags=[HANNOVER[0]],
            kriterien=kriterien or {"familienname": "Möller", "vornamen": "Ida"},
        )
        | {"requested_at": at.isoformat()}
    )
    nummer = f"03-{uuid.uuid4().hex[:16]}"
    return QueryAnswered(
        vorgangsnummer=nummer,
        query=q,
        zugangsart=zugangsart,
        protokollierung=protokollierung,
        land="03",
        response=RegisterResponse(
            vorgangsnummer=nummer,
            query_id=q.query_id,
            land="03",
            ergebnisstatus="01",
            treffer=[Treffer(gemeindeschluessel=HANNOVER[0], ordnungsmerkmal=treffer)],
            anzahl=1,
            datenelemente=["namen"],
            antwort="c2VhbGVk",
            answered_at=at,
        ),
        routed_at=at,
    )
