"""The retrieval path end to end, every service its own process on the real broker and database:
query_router, protocol_log, and two state registers (03 Niedersachsen, 09 Bayern). State 05 has
no register running: its queries meet the router's timeout."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.contract.topics import Topics
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    database_url,
    eventually,
    read_all,
    read_to_end,
    stop_all,
)
from tests.retrieval import (
    BRAUNSCHWEIG,
    HANNOVER,
    KOELN,
    MUENCHEN,
    ask,
    bodies_on,
    deliver,
    delivery,
    delivery_log,
    opened,
    person,
    publish,
    query,
    router_knows,
    tenant_state,
    token,
)

pytestmark = pytest.mark.integration
TOK = token()
TIMEOUT_S = "4"


@pytest.fixture(scope="module")
def retrieval_processes(artifacts: Path) -> Iterator[list[ServiceProcess]]:
    env = {"MELDESPIEGEL_REGISTER_TIMEOUT_SECONDS": TIMEOUT_S}
    procs = [
        ServiceProcess("services.query_router", artifacts / "router-retrieval.log", env),
        ServiceProcess("services.protocol_log", artifacts / "protocol-retrieval.log", env),
        ServiceProcess(
            "services.register_mirror",
            artifacts / "register03-retrieval.log",
            {"MELDESPIEGEL_REGISTER_STATE": "03"},
        ),
        ServiceProcess(
            "services.register_mirror",
            artifacts / "register09-retrieval.log",
            {"MELDESPIEGEL_REGISTER_STATE": "09"},
        ),
    ]
    for p in procs:
        p.start()
    yield procs
    stop_all(procs)


T = {
    "plain": f"T-plain-{TOK}",
    "suspended": f"T-susp-{TOK}",
    "sec_nolog": f"T-secnl-{TOK}",
    "sec_comm": f"T-seccomm-{TOK}",
    "sec_self": f"T-secself-{TOK}",
    "gkv": f"T-gkv-{TOK}",
    "police": f"T-police-{TOK}",
    "machine": f"T-machine-{TOK}",
}
FINGERPRINT = "5e" * 32
VERFAHREN = [
    {
        "name": "OK.EWO-Schnittstelle",
        "verantwortliche_person": "Dr. Ruth Ahrens",
        "certificate_fingerprint": FINGERPRINT,
        "status": "active",
    },
    {
        "name": "Altverfahren",
        "verantwortliche_person": "Uwe Brandt",
        "certificate_fingerprint": "77" * 32,
        "status": "locked",
    },
]
UNIQUE = f"Größmann-{TOK}"
TWIN = f"Zwilling{TOK}"
BLOCKED = f"Gesperrt{TOK}"  # block set at the LKA's initiative (§ 34 Abs. 5 Satz 1)
SELF_BLOCKED = f"Selbstgesperrt{TOK}"  # block set on the person's application
MIXED = f"Gemischt{TOK}"  # one open and one blocked person of the same name and birth
HEIM = f"Heimbewohner{TOK}"
MEYER = f"Meyer{TOK}"
HUBER = f"Huber{TOK}"
CAP = f"Massen{TOK}"


@pytest.fixture(scope="module")
async def world(retrieval_processes: list[ServiceProcess]) -> AsyncIterator[RawProducer]:
    """Tenants on the compacted topic, persons delivered to both registers."""
    states = [
        tenant_state(T["plain"], users={"sachbearbeitung": "active", "gesperrt": "locked"}),
        tenant_state(T["suspended"], status="suspended"),
        tenant_state(T["sec_nolog"], role="sicherheitsbehoerde"),
        tenant_state(T["sec_comm"], role="sicherheitsbehoerde", logging="auftragsverarbeitung"),
        tenant_state(T["sec_self"], role="sicherheitsbehoerde", logging="eigenprotokollierung"),
        tenant_state(T["gkv"], conditions=["STATUTORY_TASKS_ONLY"]),
        tenant_state(
            T["police"],
            role="sicherheitsbehoerde",
            logging="auftragsverarbeitung",
            kind="polizei",
            users={"sachbearbeitung": "active", "leitung": "active"},
            sperrdaten=["leitung"],
        ),
        tenant_state(T["machine"], kind="kommunalverwaltung", verfahren=VERFAHREN),
    ]
    hannover = [
        person(
            f"U{TOK}",
            UNIQUE,
            ["Jürgen", "Karl-Heinz"],
            "19800101",
            geschlecht="m",
            ausweise=[
                {
                    "art": "Personalausweis",
                    "seriennummer": "L01X00T47",
                    "ausstellungsbehoerde": "Stadt Hannover",
                    "ausstellungsdatum": "2020-01-02",
                    "gueltig_bis": "2030-01-01",
                }
            ],
            waffenrechtliche_erlaubnis=True,
            wohnungsgeber="Wohnungsbau Hannover",
        ),
        person(f"Z1{TOK}", TWIN, ["Anna"], "19900505", strasse="Lindenallee", hausnummer="1"),
        person(f"Z2{TOK}", TWIN, ["Anna"], "19900505", strasse="Goethestraße", hausnummer="9"),
        person(
            f"S{TOK}",
            BLOCKED,
            ["Eva"],
            "19700707",
            auskunftssperre={
                "bis": "2099-12-31",
                "veranlassende_behoerde": "LKA Niedersachsen",
                "veranlasst_von_sicherheitsbehoerde": True,
            },
        ),
        person(
            f"SB{TOK}", SELF_BLOCKED, ["Ida"], "19720202", auskunftssperre={"bis": "2099-12-31"}
        ),
        person(f"MX1{TOK}", MIXED, ["Eva"], "19710101", strasse="Lindenallee", hausnummer="3"),
        person(
            f"MX2{TOK}",
            MIXED,
            ["Eva"],
            "19710101",
            strasse="Am Walde",
            hausnummer="8",
            auskunftssperre={"bis": "2099-12-31"},
        ),
        person(f"H{TOK}", HEIM, ["Karl"], "19300303", bedingter_sperrvermerk=True),
        person(f"M{TOK}", MEYER, ["Paul"], "19650202", geschlecht="m"),
    ]
    munich = [person(f"B{TOK}", HUBER, ["Sepp"], "19770303", place=MUENCHEN, geschlecht="m")]
    # 1,001 persons of one name in Braunschweig for the cap (in parts below the event limit)
    crowd = [
        person(
            f"C{i:04d}{TOK}",
            CAP if i < 1000 else f"{CAP}x",
            ["Max"],
            "20000101",
            place=BRAUNSCHWEIG,
        )
        for i in range(1001)
    ]
    async with RawProducer() as producer:
        for s in states:
            await publish(producer, Topics.TENANT_STATE.name, s, s["tenant_id"])
        deliveries = [
            delivery(HANNOVER, hannover),
            delivery(MUENCHEN, munich),
            *(delivery(BRAUNSCHWEIG, crowd[i : i + 250]) for i in range(0, 1001, 250)),
        ]
        await deliver(producer, *deliveries)
        # the router must know the tenants before the first query
        db = await asyncpg.connect(database_url())
        try:
            await eventually(
                lambda: router_knows(db, list(T.values())), "the router has the tenants' states"
            )
        finally:
            await db.close()
        ids = {d["delivery_id"] for d in deliveries}
        munich_id = deliveries[1]["delivery_id"]
        logged = await delivery_log(ids - {munich_id})
        assert {e["status"] for e in logged} == {"applied"}, logged
        assert {e["land"] for e in logged} == {"03"}
        # Munich's delivery: applied by Bavaria's register, refused by the operator's own
        munich = {e["land"]: e for e in await delivery_log({munich_id}, per_delivery=2)}
        assert munich["09"]["status"] == "applied"
        assert munich["03"]["status"] == "rejected"
        assert "gehört nicht zu diesem Land" in munich["03"]["grund"]
        yield producer


def kriterien(name: str, vorname: str, **more: Any) -> dict[str, Any]:
    return {"familienname": name, "vornamen": vorname, **more}


async def test_unique_hit_gives_satz_1_data_only_to_a_plain_authority(world: RawProducer) -> None:
    q = query(
        T["plain"],
        ags=[HANNOVER[0]],
        kriterien=kriterien(UNIQUE.upper(), "Karl-Heinz", geburtsdatum="19800101"),
    )
    answer = (await ask(world, q))[q["query_id"]]
    assert answer["ausgang"] == "answered"
    assert answer["ergebnisstatus"] == "01"
    assert answer["protokoll"].startswith("operator:")
    body = opened(answer)
    assert body["person"]["familienname"] == UNIQUE
    assert body["person"]["vornamen"] == ["Jürgen", "Karl-Heinz"]
    assert body["bedingter_sperrvermerk"] is False
    for satz_2 in ("ausweise", "waffenrechtliche_erlaubnis", "wohnungsgeber", "passversagung"):
        assert satz_2 not in body["person"]


async def test_security_authority_receives_satz_2_data(world: RawProducer) -> None:
    q = query(
        T["sec_comm"],
        ags=[HANNOVER[0]],
        kriterien=kriterien(UNIQUE, "Jürgen", strasse="Hauptstr. "),
    )
    answer = (await ask(world, q))[q["query_id"]]
    assert answer["ergebnisstatus"] == "01", answer
    body = opened(answer)
    assert body["person"]["ausweise"][0]["seriennummer"] == "L01X00T47"
    assert body["person"]["waffenrechtliche_erlaubnis"] is True
    assert body["person"]["wohnungsgeber"] == "Wohnungsbau Hannover"
    assert answer["protokoll"].startswith(f"tenant:{T['sec_comm']}:")


async def test_plain_authority_asking_for_satz_2_data_is_refused(world: RawProducer) -> None:
    q = query(
        T["plain"],
        ags=[HANNOVER[0]],
        kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101"),
        angeforderte_daten=["namen", "ausweisdaten"],
    )
    answer = (await ask(world, q))[q["query_id"]]
    assert answer["ausgang"] == "rejected"
    assert answer["nichterstellung"]["code"] == "06"
    assert answer["antwort"] is None


async def test_hit_list_and_follow_up_by_identifikationsmerkmal(world: RawProducer) -> None:
    q = query(T["plain"], ags=[HANNOVER[0]], kriterien=kriterien(TWIN, "Anna", geschlecht="w"))
    answer = (await ask(world, q))[q["query_id"]]
    assert answer["ergebnisstatus"] == "02"
    liste = opened(answer)["trefferliste"]
    assert len(liste) == 2
    merkmale = [e["identifikationsmerkmal"] for e in liste]
    assert len(set(merkmale)) == 2
    assert all(len(m) <= 500 for m in merkmale)
    assert all(TWIN not in m and "19900505" not in m for m in merkmale)
    assert set(liste[0]) >= {"familienname", "vornamen", "geburtsdatum", "hauptwohnung"}
    assert "staatsangehoerigkeiten" not in liste[0]

    chosen = liste[1]
    follow = query(
        T["plain"], ags=[HANNOVER[0]], identifikationsmerkmal=chosen["identifikationsmerkmal"]
    )
    other_tenant = query(
        T["sec_comm"], ags=[HANNOVER[0]], identifikationsmerkmal=chosen["identifikationsmerkmal"]
    )
    answers = await ask(world, follow, other_tenant)
    unique = answers[follow["query_id"]]
    assert unique["ergebnisstatus"] == "01"
    assert (
        opened(unique)["person"]["anschriften"][0]["strasse"] == chosen["hauptwohnung"]["strasse"]
    )
    # a Merkmal goes back only from the body it was sent to
    assert answers[other_tenant["query_id"]]["nichterstellung"]["code"] == "01"


async def test_blocked_person_is_indistinguishable_from_nobody(world: RawProducer) -> None:
    blocked = query(
        T["plain"], ags=[HANNOVER[0]], kriterien=kriterien(BLOCKED, "Eva", geburtsdatum="19700707")
    )
    nobody = query(
        T["plain"],
        ags=[HANNOVER[0]],
        kriterien=kriterien(f"Niemand{TOK}", "Eva", geburtsdatum="19700707"),
    )
    answers = await ask(world, blocked, nobody)
    a, b = answers[blocked["query_id"]], answers[nobody["query_id"]]
    varying = {"query_id", "vorgangsnummer", "antwort", "requested_at", "released_at", "protokoll"}
    assert {k: v for k, v in a.items() if k not in varying} == {
        k: v for k, v in b.items() if k not in varying
    }
    assert a["ergebnisstatus"] == b["ergebnisstatus"] == "03"
    assert opened(a) == opened(b)
    assert len(a["antwort"]) == len(b["antwort"])
    assert a["protokoll"].split(":")[0] == b["protokoll"].split(":")[0] == "operator"

    handovers = await bodies_on(Topics.REGISTER_HANDOVER.name)
    notices = await bodies_on(Topics.REGISTER_BLOCK_NOTICE.name)
    assert [
        h["ordnungsmerkmal"] for h in handovers if h["vorgangsnummer"] == a["vorgangsnummer"]
    ] == [f"S{TOK}"]
    # § 34 Abs. 5 Satz 1: the person and the authority that had the block set
    assert [n["empfaenger"] for n in notices if n["vorgangsnummer"] == a["vorgangsnummer"]] == [
        "betroffene_person",
        "veranlassende_behoerde",
    ]
    assert not [h for h in handovers if h["vorgangsnummer"] == b["vorgangsnummer"]]
    assert not [n for n in notices if n["vorgangsnummer"] == b["vorgangsnummer"]]


async def test_waiver_leaves_out_the_hand_over_but_not_the_notice(world: RawProducer) -> None:
    q = query(
        T["plain"],
        ags=[HANNOVER[0]],
        kriterien=kriterien(BLOCKED, "Eva", geburtsdatum="19700707"),
        verzicht_auf_weitere_bearbeitung=True,
    )
    answer = (await ask(world, q))[q["query_id"]]
    assert answer["ergebnisstatus"] == "03"
    notices = await bodies_on(Topics.REGISTER_BLOCK_NOTICE.name)
    handovers = await bodies_on(Topics.REGISTER_HANDOVER.name)
    assert [n for n in notices if n["vorgangsnummer"] == answer["vorgangsnummer"]]
    assert not [h for h in handovers if h["vorgangsnummer"] == answer["vorgangsnummer"]]


async def test_conditional_block_gives_data_and_flag(world: RawProducer) -> None:
    q = query(
        T["plain"], ags=[HANNOVER[0]], kriterien=kriterien(HEIM, "Karl", geburtsdatum="19300303")
    )
    answer = (await ask(world, q))[q["query_id"]]
    assert answer["ergebnisstatus"] == "01"
    body = opened(answer)
    assert body["bedingter_sperrvermerk"] is True
    assert body["person"]["anschriften"][0]["bedingter_sperrvermerk"] is True


async def test_phonetic_search_finds_the_other_spelling(world: RawProducer) -> None:
    maier = MEYER.replace("Meyer", "Maier")
    exact = query(T["plain"], ags=[HANNOVER[0]], kriterien=kriterien(maier, "Paul", geschlecht="m"))
    phonetic = query(
        T["plain"],
        ags=[HANNOVER[0]],
        kriterien=kriterien(maier, "Paul", geschlecht="m"),
        phonetisch=True,
    )
    answers = await ask(world, exact, phonetic)
    assert answers[exact["query_id"]]["ergebnisstatus"] == "03"
    found = answers[phonetic["query_id"]]
    assert found["ergebnisstatus"] == "01"
    assert opened(found)["person"]["familienname"] == MEYER


async def test_freie_suche_with_wildcards_leaves_out_blocked_persons(world: RawProducer) -> None:
    twins = query(
        T["plain"],
        ags=[HANNOVER[0][:5]],  # the Region Hannover
        suchart="freie_suche",
        kriterien={"familienname": f"Zwil*{TOK}", "vornamen": "An?a"},
    )
    blocked = query(
        T["plain"], ags=["03"], suchart="freie_suche", kriterien={"familienname": f"Gesp*{TOK}"}
    )
    answers = await ask(world, twins, blocked)
    listed = opened(answers[twins["query_id"]])
    assert answers[twins["query_id"]]["ergebnisstatus"] == "04"
    assert len(listed["ergebnisliste"]) == 2
    assert all("identifikationsmerkmal" in e for e in listed["ergebnisliste"])
    assert "anschriften" not in listed["ergebnisliste"][0]  # § 34a Abs. 3: main address only
    assert answers[blocked["query_id"]]["ergebnisstatus"] == "04"
    assert opened(answers[blocked["query_id"]])["ergebnisliste"] == []


async def test_the_1000_cap(world: RawProducer) -> None:
    exactly = query(
        T["plain"], ags=[BRAUNSCHWEIG[0]], suchart="freie_suche", kriterien={"familienname": CAP}
    )
    over = query(
        T["plain"],
        ags=[BRAUNSCHWEIG[0]],
        suchart="freie_suche",
        kriterien={"familienname": f"{CAP}*"},
    )
    answers = await ask(world, exactly, over)
    assert answers[exactly["query_id"]]["ergebnisstatus"] == "04"
    assert len(opened(answers[exactly["query_id"]])["ergebnisliste"]) == 1000
    assert answers[over["query_id"]]["nichterstellung"]["code"] == "13"


async def test_forbidden_criteria_and_refused_tenants(world: RawProducer) -> None:
    cases = {
        "04": query(
            T["plain"],
            ags=["03"],
            suchart="freie_suche",
            kriterien={"familienname": UNIQUE, "waffenrechtliche_erlaubnis": True},
        ),
        "MANDANT_GESPERRT": query(
            T["suspended"],
            ags=[HANNOVER[0]],
            kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101"),
        ),
        "NUTZER_GESPERRT": query(
            T["plain"],
            ags=[HANNOVER[0]],
            kennung="gesperrt",
            kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101"),
        ),
        "PROTOKOLLIERUNG_FEHLT": query(
            T["sec_nolog"],
            ags=[HANNOVER[0]],
            kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101"),
        ),
        "FREIWILLIGE_LEISTUNG": query(
            T["gkv"],
            ags=[HANNOVER[0]],
            zweck="freiwillige_leistung",
            kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101"),
        ),
        "MINDESTKRITERIEN": query(
            T["plain"], ags=[HANNOVER[0]], kriterien={"familienname": UNIQUE}
        ),
        "AGS_NICHT_EINDEUTIG": query(
            T["plain"],
            ags=[HANNOVER[0], BRAUNSCHWEIG[0]],
            kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101"),
        ),
    }
    allowed = query(
        T["sec_comm"],
        ags=["03"],
        suchart="freie_suche",
        kriterien={"familienname": UNIQUE, "waffenrechtliche_erlaubnis": True},
    )
    statutory = query(
        T["gkv"], ags=[HANNOVER[0]], kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101")
    )
    answers = await ask(world, *cases.values(), allowed, statutory)
    for expected, q in cases.items():
        a = answers[q["query_id"]]
        assert a["ausgang"] == "rejected", (expected, a)
        got = a["nichterstellung"]
        assert expected in (got["code"], got["grund"]), (expected, got)
        assert a["vorgangsnummer"]
    pointer = answers[cases["FREIWILLIGE_LEISTUNG"]["query_id"]]["nichterstellung"]["text"]
    assert "§§ 44, 49" in pointer
    assert "Melderegisterauskunftsportal" in pointer
    assert answers[allowed["query_id"]]["ergebnisstatus"] == "04"
    assert answers[statutory["query_id"]]["ergebnisstatus"] == "01"


async def test_other_states_register_answers_and_a_silent_one_times_out(world: RawProducer) -> None:
    bavaria = query(
        T["plain"], ags=[MUENCHEN[0]], kriterien=kriterien(HUBER, "Sepp", geschlecht="m")
    )
    silent = query(T["plain"], ags=[KOELN], kriterien=kriterien(HUBER, "Sepp", geschlecht="m"))
    answers = await ask(world, bavaria, silent)
    assert answers[bavaria["query_id"]]["ergebnisstatus"] == "01"
    assert opened(answers[bavaria["query_id"]])["person"]["anschriften"][0]["wohnort"] == "München"
    timed_out = answers[silent["query_id"]]
    assert timed_out["ausgang"] == "rejected"
    assert timed_out["nichterstellung"]["code"] == "16"


async def test_every_release_has_its_entry_and_self_logging_keeps_none(
    world: RawProducer, db: asyncpg.Connection
) -> None:
    own = query(
        T["sec_self"],
        ags=[HANNOVER[0]],
        kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101"),
    )
    plain = query(
        T["plain"],
        ags=[HANNOVER[0]],
        kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101"),
    )
    answers = await ask(world, own, plain)
    assert answers[own["query_id"]]["protokoll"] == "self"
    nummer_self = answers[own["query_id"]]["vorgangsnummer"]
    nummer_plain = answers[plain["query_id"]]["vorgangsnummer"]
    assert not await db.fetchval(
        "SELECT count(*) FROM protocol_log.protokoll WHERE vorgangsnummer = $1", nummer_self
    )
    handed = [r.json() for r in await read_to_end(Topics.PROTOCOL_SELF_LOGGING.name)]
    mine = [h for h in handed if h["vorgangsnummer"] == nummer_self]
    assert len(mine) == 1
    assert mine[0]["tenant_id"] == T["sec_self"]
    entry = await db.fetchval(
        "SELECT entry FROM protocol_log.protokoll WHERE vorgangsnummer = $1", nummer_plain
    )
    e = json.loads(entry)
    assert e["kennung"] == "sachbearbeitung"
    assert e["aktenzeichen"] == "AZ 12-3/2026"
    assert e["anlass"] == "Prüfung der Zuständigkeit"
    assert e["ergebnisstatus"] == "01"
    assert e["treffer"] == [{"gemeindeschluessel": HANNOVER[0], "ordnungsmerkmal": f"U{TOK}"}]
    assert "namen" in e["abgerufene_daten"]
    assert "ausweisdaten" not in e["abgerufene_daten"]
    assert e["angefragt_am"] <= e["freigegeben_am"]


# -- § 34a Abs. 5 BMG: a block cannot be inferred, on any log path ----------------------------

VARYING = {"query_id", "vorgangsnummer", "antwort", "requested_at", "released_at", "protokoll"}
ENTRY_VARYING = {"vorgangsnummer", "kriterien", "angefragt_am", "freigegeben_am"}
NEUTRAL = {
    "blocked (LKA)": kriterien(BLOCKED, "Eva", geburtsdatum="19700707"),
    "blocked (person)": kriterien(SELF_BLOCKED, "Ida", geburtsdatum="19720202"),
    "mixed": kriterien(MIXED, "Eva", geburtsdatum="19710101"),
    "nobody": kriterien(f"Niemand{TOK}", "Eva", geburtsdatum="19700707"),
}


async def _log_views(
    db: asyncpg.Connection, tenant: str, numbers: list[str]
) -> dict[str, dict[str, Any]]:
    """Each query's § 40 entry as the requester can see it: the operator's or the commissioned
    log, or the entry handed to a self-logging authority."""
    if tenant == T["sec_self"]:
        records = await read_all(
            Topics.PROTOCOL_SELF_LOGGING.name,
            until=lambda rs: set(numbers) <= {r.json()["vorgangsnummer"] for r in rs},
        )
        return {
            r.json()["vorgangsnummer"]: r.json()["entry"]
            for r in records
            if r.json()["vorgangsnummer"] in numbers
        }
    rows = await db.fetch(
        "SELECT vorgangsnummer, entry FROM protocol_log.protokoll WHERE vorgangsnummer = ANY($1)",
        numbers,
    )
    return {r["vorgangsnummer"]: json.loads(r["entry"]) for r in rows}


@pytest.mark.parametrize("tenant", ["plain", "sec_comm", "sec_self"])
async def test_blocked_mixed_and_nobody_are_indistinguishable_34a_abs_5(
    world: RawProducer, db: asyncpg.Connection, tenant: str
) -> None:
    queries = {
        case: query(T[tenant], ags=[HANNOVER[0]], kriterien=k) for case, k in NEUTRAL.items()
    }
    answers = await ask(world, *queries.values())
    released = {case: answers[q["query_id"]] for case, q in queries.items()}
    ids = {q["query_id"] for q in queries.values()}
    raw = {
        r.key: r
        for r in await read_all(
            Topics.QUERY_DELIVERED.name, until=lambda rs: ids <= {r.key for r in rs}
        )
        if r.key in ids
    }
    nobody = released["nobody"]
    for case, a in released.items():
        # byte-identical content, the same fields, headers and sizes
        assert {k: v for k, v in a.items() if k not in VARYING} == {
            k: v for k, v in nobody.items() if k not in VARYING
        }, case
        assert a["ergebnisstatus"] == "03"
        assert opened(a) == opened(nobody)
        assert len(a["antwort"]) == len(nobody["antwort"])
        mine, theirs = raw[queries[case]["query_id"]], raw[queries["nobody"]["query_id"]]
        assert sorted(mine.headers) == sorted(theirs.headers), case
        assert len(mine.value) == len(theirs.value), case
    # the log views: no hit, no count, nothing that tells the cases apart (§ 40 Abs. 1 Nr. 7)
    numbers = {case: a["vorgangsnummer"] for case, a in released.items()}
    views = await _log_views(db, T[tenant], list(numbers.values()))
    same = {k: v for k, v in views[numbers["nobody"]].items() if k not in ENTRY_VARYING}
    for case, nummer in numbers.items():
        entry = views[nummer]
        assert (entry["treffer"], entry["anzahl"]) == ([], 0), case
        assert {k: v for k, v in entry.items() if k not in ENTRY_VARYING} == same, case
        assert f"{TOK}" not in json.dumps(entry["treffer"])
    # what the registration office needs goes on the hand-over, under its control
    handovers = await bodies_on(Topics.REGISTER_HANDOVER.name)
    by_nummer = {h["vorgangsnummer"]: h["ordnungsmerkmal"] for h in handovers}
    assert by_nummer.get(numbers["mixed"]) == f"MX2{TOK}"
    assert numbers["nobody"] not in by_nummer


async def test_notices_follow_the_requesting_body_34_abs_5(world: RawProducer) -> None:
    """A block set at the LKA's initiative: an ordinary body's request is told to the person and
    the LKA (Satz 1), a police request only to the LKA (Satz 3); a block the person applied for is
    told to nobody automatically on the authority path."""
    lka = kriterien(BLOCKED, "Eva", geburtsdatum="19700707")
    plain = query(T["plain"], ags=[HANNOVER[0]], kriterien=lka)
    police = query(T["police"], ags=[HANNOVER[0]], kriterien=lka)
    own = query(T["plain"], ags=[HANNOVER[0]], kriterien=NEUTRAL["blocked (person)"])
    answers = await ask(world, plain, police, own)
    notices = await bodies_on(Topics.REGISTER_BLOCK_NOTICE.name)

    def told(q: dict[str, Any]) -> list[str]:
        nummer = answers[q["query_id"]]["vorgangsnummer"]
        return [n["empfaenger"] for n in notices if n["vorgangsnummer"] == nummer]

    assert told(plain) == ["betroffene_person", "veranlassende_behoerde"]
    assert told(police) == ["veranlassende_behoerde"]
    assert told(own) == []


async def test_34a_abs_6_only_authorised_police_staff_see_through_a_block(
    world: RawProducer,
) -> None:
    k = NEUTRAL["blocked (person)"]
    head = query(T["police"], ags=[HANNOVER[0]], kriterien=k, kennung="leitung")
    staff = query(T["police"], ags=[HANNOVER[0]], kriterien=k)
    lka_block = query(T["police"], ags=[HANNOVER[0]], kriterien=NEUTRAL["blocked (LKA)"])
    lka_block["anfragende"]["kennung"] = "leitung"
    answers = await ask(world, head, staff, lka_block)
    assert answers[head["query_id"]]["ergebnisstatus"] == "01"
    assert opened(answers[head["query_id"]])["person"]["familienname"] == SELF_BLOCKED
    assert answers[staff["query_id"]]["ergebnisstatus"] == "03"
    assert answers[lka_block["query_id"]]["ergebnisstatus"] == "03"


def machine_query(name: str, fingerprint: str | None) -> dict[str, Any]:
    q = query(
        T["machine"],
        ags=[HANNOVER[0]],
        kriterien=kriterien(UNIQUE, "Jürgen", geburtsdatum="19800101"),
        client_certificate_fingerprint=fingerprint,
    )
    q["anfragende"]["kennung"] = None
    q["anfragende"]["verfahren"] = name
    return q


async def test_machine_callers_must_be_registered_active_and_present_their_certificate(
    world: RawProducer, db: asyncpg.Connection
) -> None:
    """NMeldVO 2022 § 26 Abs. 2, § 34 Abs. 2 Satz 3 and § 40 Abs. 1 Nr. 6 BMG."""
    cases = {
        "registered": (machine_query("OK.EWO-Schnittstelle", FINGERPRINT), None),
        "unknown": (machine_query("Schattenverfahren", FINGERPRINT), "VERFAHREN_UNBEKANNT"),
        "locked": (machine_query("Altverfahren", "77" * 32), "VERFAHREN_GESPERRT"),
        "wrong certificate": (
            machine_query("OK.EWO-Schnittstelle", "cd" * 32),
            "ZERTIFIKAT_ABWEICHEND",
        ),
        "no certificate": (machine_query("OK.EWO-Schnittstelle", None), "ZERTIFIKAT_ABWEICHEND"),
        "locked user": (
            query(T["plain"], ags=[HANNOVER[0]], kriterien=NEUTRAL["nobody"], kennung="gesperrt"),
            "NUTZER_GESPERRT",
        ),
    }
    answers = await ask(world, *(q for q, _ in cases.values()))
    numbers = []
    for case, (q, grund) in cases.items():
        a = answers[q["query_id"]]
        numbers.append(a["vorgangsnummer"])
        if grund is None:
            assert a["ergebnisstatus"] == "01", case
        else:
            assert a["ausgang"] == "rejected", case
            assert a["antwort"] is None, case
            assert (a["nichterstellung"]["code"], a["nichterstellung"]["grund"]) == ("17", grund)
    rows = await db.fetch(
        "SELECT vorgangsnummer, entry FROM protocol_log.protokoll WHERE vorgangsnummer = ANY($1)",
        numbers,
    )
    entries = {r["vorgangsnummer"]: json.loads(r["entry"]) for r in rows}
    assert len(entries) == len(cases)  # every refusal is logged, too
    ok = entries[answers[cases["registered"][0]["query_id"]]["vorgangsnummer"]]
    assert (ok["verfahren"], ok["kennung"]) == ("OK.EWO-Schnittstelle", None)
    assert ok["verfahren_verantwortlich"] == "Dr. Ruth Ahrens"
    wrong = entries[answers[cases["wrong certificate"][0]["query_id"]]["vorgangsnummer"]]
    assert wrong["verfahren"] == "OK.EWO-Schnittstelle"
    assert wrong["nichterstellung"]["grund"] == "ZERTIFIKAT_ABWEICHEND"
