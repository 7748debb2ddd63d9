"""Retrieval between two states (§ 39 Abs. 3 BMG, NMeldVO 2022 § 26 Abs. 1), end to end: two whole
installations on one broker and one database, Niedersachsen (03, topics `min.`, the schemas as
always) and Bayern (09, topics `min09.`, schemas `by_…`, its own PKI), each with router,
protocol_log, its register and its gateway. Each state's central body is registered with the
other as the tenant "Land NN", its gateway as that tenant's procedure with its certificate. A
query of a Bavarian authority about a person in Hannover is answered by Niedersachsen's register
and logged in both states; the other way round too; a security authority's query is logged by its
own side only (§ 40 Abs. 3 BMG); a request signed by a gateway nobody pinned is a dead letter."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from shared.contract.deadletter import DeadLetter
from shared.contract.topics import Topics, TopicSpec, in_namespace
from shared.platform.broker import json_or_none
from shared.platform.operator_signatures import GATEWAY
from shared.platform.pki import ANSWER_KEY, init_operator, load_operator_key
from shared.platform.sealed import load_private_key, open_sealed
from shared.platform.settings import get_settings
from tests.helpers import (
    ROOT,
    RawProducer,
    ServiceProcess,
    database_url,
    eventually,
    headers_for,
    read_all,
    stop_all,
)
from tests.retrieval import (
    HANNOVER,
    MUENCHEN,
    delivery,
    person,
    publish,
    query,
    router_knows,
    tenant_state,
    token,
)
from tests.smtp import free_port

pytestmark = pytest.mark.integration
TOK = token()
BY = "min09."  # Bayern's topic namespace
PKI_03 = get_settings().pki_dir
SERVICES = ("query_router", "protocol_log", "register_mirror", "land_gateway")
T = {
    "ni": f"T-ni-{TOK}",  # a Lower Saxony authority at 03
    "by": f"T-by-{TOK}",  # a Bavarian authority at 09
    "by_police": f"T-bypol-{TOK}",  # Bavarian police, commissioned logging at 09
    "land09": f"L09-{TOK}",  # Bayern's central body, registered at 03
    "land03": f"L03-{TOK}",  # Niedersachsen's central body, registered at 09
}
IN_HANNOVER = f"Hannoveraner{TOK}"
IN_MUNICH = f"Muenchner{TOK}"


def fingerprint(pki: Path, gateway: str) -> str:
    cert = x509.load_pem_x509_certificate((pki / "operators" / f"{gateway}.pem").read_bytes())
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


def land_tenant(tenant_id: str, land: str, verfahren: str, fp: str) -> dict[str, Any]:
    gateway = {
        "name": verfahren,
        "verantwortliche_person": f"Leitung der zentralen Stelle {land}",
        "certificate_fingerprint": fp,
        "status": "active",
    }
    state = tenant_state(tenant_id, kind="zentrale_stelle_land", verfahren=[gateway])
    return state | {"land": land, "data_scope": "bmg_34_1_satz_1_und_2"}


@dataclass
class Two:
    producer: RawProducer
    pki_09: Path


@pytest.fixture(scope="module")
def installations(artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    pki_09 = tmp_path_factory.mktemp("pki09")
    python = [sys.executable, "-m", "shared.platform.pki"]
    subprocess.run([*python, "init", str(pki_09)], check=True, cwd=ROOT, capture_output=True)
    init_operator(pki_09, "gateway-09", "land-gateway")
    init_operator(PKI_03, "gateway-03", "land-gateway")
    fp_03, fp_09 = fingerprint(PKI_03, "gateway-03"), fingerprint(pki_09, "gateway-09")
    peers_03 = {
        "09": {
            "namespace": BY,
            "tenant_id": T["land03"],
            "verfahren": "Verbund Niedersachsen",
            "certificate_fingerprint": fp_09,
        }
    }
    peers_09 = {
        "03": {
            "namespace": "min.",
            "tenant_id": T["land09"],
            "verfahren": "Verbund Bayern",
            "certificate_fingerprint": fp_03,
        }
    }
    bayern = {
        "MELDESPIEGEL_OPERATOR_STATE": "09",
        "MELDESPIEGEL_TOPIC_NAMESPACE": BY,
        "MELDESPIEGEL_INSTALLATION": "by_",
        "MELDESPIEGEL_PKI_DIR": str(pki_09),
        "MELDESPIEGEL_REGISTER_STATE": "09",
        "MELDESPIEGEL_GATEWAY_PEERS": json.dumps(peers_09),
        "MELDESPIEGEL_PROTOCOL_API_PORT": str(free_port()),
    }
    niedersachsen = {
        "MELDESPIEGEL_REGISTER_STATE": "03",
        "MELDESPIEGEL_GATEWAY_PEERS": json.dumps(peers_03),
        "MELDESPIEGEL_PROTOCOL_API_PORT": str(free_port()),
    }
    # Bayern's topics, as its stack script makes them
    subprocess.run(
        [sys.executable, "-m", "shared.platform.kafka_admin", "ensure"],
        check=True, cwd=ROOT, capture_output=True,
        env={**os.environ, "MELDESPIEGEL_TOPIC_NAMESPACE": BY},
    )  # fmt: skip
    # Niedersachsen's gateway with Bayern as its peer reads Bayern's request topic too: its
    # group of its own, so that the group of the gateway without peers keeps its offsets
    own_group = {"MELDESPIEGEL_INSTALLATION": "ni_"}
    procs = [
        ServiceProcess(
            f"services.{name}",
            artifacts / f"laender-{land}-{name}.log",
            env | (own_group if (land, name) == ("03", "land_gateway") else {}),
        )
        for land, env in (("03", niedersachsen), ("09", bayern))
        for name in SERVICES
    ]
    for p in procs:
        p.start()
    yield pki_09
    stop_all(procs)


@pytest.fixture(scope="module")
async def two(installations: Path) -> AsyncIterator[Two]:
    fp_03 = fingerprint(PKI_03, "gateway-03")
    fp_09 = fingerprint(installations, "gateway-09")
    async with RawProducer() as producer:
        at_03 = [
            tenant_state(T["ni"]),
            land_tenant(T["land09"], "09", "Verbund Bayern", fp_09),
        ]
        at_09 = [
            tenant_state(T["by"]),
            tenant_state(T["by_police"], role="sicherheitsbehoerde",
                         logging="auftragsverarbeitung", kind="polizei"),
            land_tenant(T["land03"], "03", "Verbund Niedersachsen", fp_03),
        ]  # fmt: skip
        for s in at_03:
            await publish(producer, Topics.TENANT_STATE.name, s, s["tenant_id"])
        for s in at_09:
            await publish_by(producer, Topics.TENANT_STATE, s, s["tenant_id"])
        hannover = delivery(HANNOVER, [person(f"H{TOK}", IN_HANNOVER, ["Greta"], "19810304")])
        munich = delivery(
            MUENCHEN, [person(f"M{TOK}", IN_MUNICH, ["Xaver"], "19760809", place=MUENCHEN)]
        )
        await publish(producer, Topics.REGISTER_DELIVERY.name, hannover, HANNOVER[0])
        await publish_by(producer, Topics.REGISTER_DELIVERY, munich, MUENCHEN[0])
        db = await asyncpg.connect(database_url())
        try:
            await eventually(
                lambda: router_knows(db, [T["ni"], T["land09"]]), "03's router has its tenants"
            )

            async def bavarian_router_knows() -> bool:
                try:
                    n = await db.fetchval(
                        "SELECT count(*) FROM by_query_router.mandanten WHERE tenant_id = ANY($1)",
                        [T["by"], T["by_police"], T["land03"]],
                    )
                except asyncpg.UndefinedTableError:
                    return False
                return bool(n == 3)

            await eventually(bavarian_router_knows, "09's router has its tenants")
        finally:
            await db.close()
        by_log = in_namespace(Topics.REGISTER_DELIVERY_LOG, BY).name
        for topic, d in ((Topics.REGISTER_DELIVERY_LOG.name, hannover), (by_log, munich)):
            await read_all(topic, until=lambda rs, i=d["delivery_id"]: any(_id(r) == i for r in rs))
        yield Two(producer, installations)


async def publish_by(
    producer: RawProducer, spec: TopicSpec, body: dict[str, Any], key: str
) -> None:
    """Publishes on Bayern's topic, as its upstream systems would."""
    name = in_namespace(spec, BY).name
    await producer.send(
        name, json.dumps(body).encode(), key=key, headers=headers_for(spec.event_type)
    )


def _id(record: Any) -> str | None:
    body = json_or_none(record.value)
    return body.get("delivery_id") if isinstance(body, dict) else None


async def released(topic: str, query_id: str) -> dict[str, Any]:
    def mine(records: list[Any]) -> list[dict[str, Any]]:
        bodies = [json_or_none(r.value) for r in records]
        return [b for b in bodies if isinstance(b, dict) and b.get("query_id") == query_id]

    return mine(await read_all(topic, until=lambda rs: bool(mine(rs))))[0]


def opened(delivered: dict[str, Any], pki: Path) -> dict[str, Any]:
    key = load_private_key((pki / ANSWER_KEY).read_bytes())
    return json.loads(open_sealed(key, delivered["antwort"], delivered["vorgangsnummer"].encode()))


async def entries(db: asyncpg.Connection, schema: str, nummer: str) -> list[dict[str, Any]]:
    rows = await db.fetch(f"SELECT entry FROM {schema}.protokoll WHERE vorgangsnummer = $1", nummer)
    return [json.loads(r["entry"]) for r in rows]


async def test_a_bavarian_query_is_answered_by_niedersachsen_and_logged_in_both(
    two: Two, db: asyncpg.Connection
) -> None:
    """§ 39 Abs. 3, § 40 Abs. 1 BMG; NMeldVO 2022 § 26 Abs. 1."""
    q = query(T["by"], ags=[HANNOVER[0]], kennung="sachbearbeitung",
              kriterien={"familienname": IN_HANNOVER, "vornamen": "Greta",
                         "geburtsdatum": "19810304"})  # fmt: skip
    await publish_by(two.producer, Topics.QUERY_REQUESTED, q, q["query_id"])
    answer = await released(in_namespace(Topics.QUERY_DELIVERED, BY).name, q["query_id"])
    assert (answer["ausgang"], answer["ergebnisstatus"]) == ("answered", "01")
    assert answer["vorgangsnummer"].startswith("09-")
    person_data = opened(answer, two.pki_09)["person"]  # Bayern's front end opens it
    assert person_data["familienname"] == IN_HANNOVER
    # Bayern's log: its query, answered by 03, with 03's Vorgangsnummer for the hits
    [by_entry] = await entries(db, "by_protocol_log", answer["vorgangsnummer"])
    assert (by_entry["land"], by_entry["tenant_id"], by_entry["kennung"]) == (
        "03",
        T["by"],
        "sachbearbeitung",
    )
    ni_nummer = by_entry["fremder_vorgang"]
    assert ni_nummer.startswith("03-")
    # Niedersachsen's log: the retrieval by Bayern's central body for the Bavarian authority
    [ni_entry] = await entries(db, "protocol_log", ni_nummer)
    assert ni_entry["tenant_id"] == T["land09"]
    assert ni_entry["verfahren"] == "Verbund Bayern"
    assert ni_entry["behoerde"] == f"Behörde {T['by']}"
    assert ni_entry["fremde_kennung"] == "sachbearbeitung"
    assert ni_entry["aktenzeichen"] == q["anfragende"]["aktenzeichen"]
    assert ni_entry["treffer"] == [
        {"gemeindeschluessel": HANNOVER[0], "ordnungsmerkmal": f"H{TOK}"}
    ]


async def test_a_query_from_niedersachsen_is_answered_by_bayern_over_the_same_contract(
    two: Two, db: asyncpg.Connection
) -> None:
    q = query(T["ni"], ags=[MUENCHEN[0]],
              kriterien={"familienname": IN_MUNICH, "vornamen": "Xaver",
                         "geburtsdatum": "19760809"})  # fmt: skip
    await publish(two.producer, Topics.QUERY_REQUESTED.name, q, q["query_id"])
    answer = await released(Topics.QUERY_DELIVERED.name, q["query_id"])
    assert answer["ergebnisstatus"] == "01"
    key = load_private_key((PKI_03 / ANSWER_KEY).read_bytes())
    raw = open_sealed(key, answer["antwort"], answer["vorgangsnummer"].encode())
    assert json.loads(raw)["person"]["familienname"] == IN_MUNICH
    [ni_entry] = await entries(db, "protocol_log", answer["vorgangsnummer"])
    [by_entry] = await entries(db, "by_protocol_log", ni_entry["fremder_vorgang"])
    assert (by_entry["tenant_id"], by_entry["verfahren"]) == (T["land03"], "Verbund Niedersachsen")
    assert by_entry["treffer"] == [
        {"gemeindeschluessel": MUENCHEN[0], "ordnungsmerkmal": f"M{TOK}"}
    ]


async def test_a_security_authoritys_query_is_logged_on_its_own_side_only_40_abs_3(
    two: Two, db: asyncpg.Connection
) -> None:
    q = query(T["by_police"], ags=[HANNOVER[0]], angeforderte_daten=["namen", "ausweisdaten"],
              kriterien={"familienname": IN_HANNOVER, "vornamen": "Greta",
                         "geburtsdatum": "19810304"})  # fmt: skip
    await publish_by(two.producer, Topics.QUERY_REQUESTED, q, q["query_id"])
    answer = await released(in_namespace(Topics.QUERY_DELIVERED, BY).name, q["query_id"])
    assert answer["ergebnisstatus"] == "01"
    assert answer["protokoll"].startswith(f"tenant:{T['by_police']}:")  # commissioned, at 09
    [by_entry] = await entries(db, "by_protocol_log", answer["vorgangsnummer"])
    assert "ausweisdaten" in by_entry["abgerufene_daten"]  # Satz 2 for the police
    # 03 keeps no entry: it is handed to the requesting side (§ 40 Abs. 3 BMG)
    assert await entries(db, "protocol_log", by_entry["fremder_vorgang"]) == []
    handed = await read_all(
        Topics.PROTOCOL_SELF_LOGGING.name,
        until=lambda rs: any(
            (json_or_none(r.value) or {}).get("vorgangsnummer") == by_entry["fremder_vorgang"]
            for r in rs
        ),
    )
    assert any((json_or_none(r.value) or {}).get("tenant_id") == T["land09"] for r in handed)


async def test_a_request_from_a_gateway_nobody_pinned_is_a_dead_letter(two: Two) -> None:
    """§ 34 Abs. 2 Satz 3 BMG: no doubt about the identity of the retrieving body."""
    stranger = load_operator_key(PKI_03, "ops-verfahrensbetreuung")  # a key, not Bayern's
    sample = Path(__file__).parents[1] / "contract" / "samples"
    body = json.loads((sample / "de.meldespiegel.gateway.request.v1.json").read_text("utf-8"))
    body |= {"vorgangsnummer": f"09-20261205-{uuid.uuid4().hex[:20].upper()}",
             "tenant_id": T["land09"]}  # fmt: skip
    raw = json.dumps(body).encode()
    topic = Topics.GATEWAY_REQUEST
    headers = headers_for(topic.event_type)
    plain = {k: v.decode() for k, v in headers}
    key = body["vorgangsnummer"]
    signed = stranger.sign(GATEWAY, topic.name, key.encode(), plain, raw)
    await two.producer.send(
        topic.name, raw, key=key, headers=headers + [(k, v.encode()) for k, v in signed.items()]
    )
    dead = await read_all(topic.dlq, until=lambda rs: any(r.key == key for r in rs))
    [letter] = [DeadLetter.of(r.headers) for r in dead if r.key == key]
    assert letter is not None
    assert "GATEWAY_NOT_PINNED" in letter.error
