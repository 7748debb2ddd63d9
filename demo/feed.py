"""`python -m demo.feed`: submits sample access applications like a scan/e-form system would, and
prints what becomes of them (readable progress for `scripts/run`).

First a scripted round that shows every path (accepted, incomplete, duplicate, administrator change,
a security authority, a dead letter), then one random application every few seconds. The feed also
plays the Verfahrensbetreuung (`ops-verfahrensbetreuung`): it signs each recommendation of legal
review as it stands, with the operator's key, as `meldespiegel review sign` would; cases the
rules leave open wait for a person (`meldespiegel review list`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import signal
import sys
import uuid
from datetime import UTC, date, datetime
from typing import Any

from shared.contract.deadletter import DeadLetter
from shared.contract.envelope import Envelope
from shared.contract.topics import Topics, TopicSpec
from shared.platform.broker import json_or_none
from shared.platform.kafka_client import KafkaClient
from shared.platform.kafka_security import client_options
from shared.platform.operator_signatures import COMMAND, OperatorKey, Seal
from shared.platform.pki import load_operator_key
from shared.platform.settings import get_settings

SOURCE = "/demo/scan-intake"
AUTHORITIES = [
    (
        "Landeshauptstadt Hannover, Fachbereich Öffentliche Ordnung",
        "kommunalverwaltung",
        "Trammplatz 2",
        "30159",
        "Hannover",
    ),
    ("Polizeidirektion Göttingen", "polizei", "Groner Landstraße 51", "37081", "Göttingen"),
    (
        "Staatsanwaltschaft Oldenburg",
        "staatsanwaltschaft",
        "Gerichtsstraße 7",
        "26135",
        "Oldenburg",
    ),
    (
        "AOK Niedersachsen, Regionaldirektion Lüneburg",
        "gesetzliche_krankenkasse",
        "Am Alten Eisenwerk 1",
        "21339",
        "Lüneburg",
    ),
    (
        "Stadt Wolfsburg, Bürgerdienste",
        "kommunalverwaltung",
        "Porschestraße 49",
        "38440",
        "Wolfsburg",
    ),
]
PEOPLE = [
    ("frau", "Jördis", "Weißmüller"),
    ("herr", "Björn", "Großkopf"),
    ("frau", "Anneliese", "Schäfer"),
    ("divers", "Kai", "Østergård"),
    ("herr", "Jürgen", "Öztürk"),
]


def _mailbox(name: str) -> str:
    """A name as it appears in an e-mail address: umlauts written out, ß as ss."""
    folded = name.lower()
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ø", "oe"), ("å", "aa")):
        folded = folded.replace(a, b)
    return folded.encode("ascii", "ignore").decode()


def sample(
    authority: tuple[str, ...], person: tuple[str, ...], *, security: bool = False, **overrides: Any
) -> dict[str, Any]:
    name, kind, street, postcode, town = authority
    salutation, first, last = person
    body: dict[str, Any] = {
        "application_id": f"DEMO-{date.today():%Y%m%d}-{uuid.uuid4().hex[:6].upper()}",
        "received_on": date.today().isoformat(),
        "intake_channel": "post",
        "access_type": "sicherheitsbehoerde" if security else "einfache_behoerdenauskunft",
        "authority": {"name": name, "kind": kind, "state": "03"},
        "administrator": {
            "salutation": salutation,
            "first_name": first,
            "surname": last,
            "email": f"{_mailbox(first)}.{_mailbox(last)}@behoerde.example",
            "phone": "+49 511 120-0",
            "office_name": name.split(",")[-1].strip(),
            "street_and_number": street,
            "postcode": postcode,
            "town": town,
        },
        "compliance": {
            "assured": True,
            "measures": "Zugriff nur über das Landesnetz; persönliche Kennungen; "
            "Rechtekonzept; jährliche Prüfung der Berechtigungen.",
        },
        "signature": {"head_of_authority_signed": True, "official_seal": True},
        "network": {"channel": "landesnetz"},
        "logging_arrangement": "auftragsverarbeitung" if security else None,
        "only_administrator_change": False,
    }
    for path, value in overrides.items():
        target = body
        *parents, leaf = path.split(".")
        for part in parents:
            target = target[part]
        target[leaf] = value
    return body


def scripted_round() -> list[tuple[str, dict[str, Any] | bytes]]:
    suffix = uuid.uuid4().hex[:4].upper()
    hannover = (AUTHORITIES[0][0] + f" ({suffix})", *AUTHORITIES[0][1:])
    polizei = (AUTHORITIES[1][0] + f" ({suffix})", *AUTHORITIES[1][1:])
    return [
        ("complete application, einfache Behördenauskunft", sample(hannover, PEOPLE[0])),
        ("security authority with commissioned logging", sample(polizei, PEOPLE[1], security=True)),
        ("same authority, second role: a separate application", sample(polizei, PEOPLE[1])),
        ("second open application for the same role", sample(hannover, PEOPLE[2])),
        (
            "administrator change for an existing tenant",
            sample(hannover, PEOPLE[2], only_administrator_change=True),
        ),
        (
            "scan without seal and e-mail address",
            sample(
                AUTHORITIES[4],
                PEOPLE[3],
                **{"signature.official_seal": False, "administrator.email": None},
            ),
        ),
        ("unreadable delivery from the scan system", b'{"application_id": "DEMO-BROKEN", '),
        (
            "a private company, refused by legal review",
            sample(
                ("Auskunftei Nord GmbH", "private_stelle", "Hafenstraße 3", "26122", "Oldenburg"),
                PEOPLE[4],
            ),
        ),
    ]


def random_application() -> dict[str, Any]:
    authority = random.choice(AUTHORITIES)
    authority = (authority[0] + f" ({uuid.uuid4().hex[:4].upper()})", *authority[1:])
    security = authority[1] in {"polizei", "staatsanwaltschaft"} and random.random() < 0.5
    body = sample(authority, random.choice(PEOPLE), security=security)
    if random.random() < 0.3:
        body["compliance"]["measures"] = None
    return body


def kafka() -> KafkaClient:
    settings = get_settings()
    return KafkaClient(
        settings.kafka_bootstrap, client_id="meldespiegel-demo", **client_options(settings)
    )


async def publish(
    client: KafkaClient,
    spec: TopicSpec,
    key: str,
    body: dict[str, Any] | bytes,
    source: str = SOURCE,
    signed_by: OperatorKey | None = None,
    seal: Seal = COMMAND,
) -> None:
    """Publishes like an upstream system: CloudEvents headers, JSON body, keyed; an operator's
    command signed with the operator's key (a gateway's record with the gateway's, `seal`)."""
    env = Envelope.new(source=source, type=spec.event_type, correlation_id=None, subject=key)
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    headers = env.to_headers()
    if signed_by is not None:
        headers |= signed_by.sign(seal, spec.name, key.encode(), headers, raw)
    await client.publish(spec.name, raw, key, headers)


async def submit(client: KafkaClient, body: dict[str, Any] | bytes, what: str = "") -> None:
    key = body["application_id"] if isinstance(body, dict) else "DEMO-BROKEN"
    await publish(client, Topics.APPLICATION_SUBMITTED, key, body)
    print(f"→ submitted   {key}  {what}".rstrip(), flush=True)
    if isinstance(body, dict) and body.get("logging_arrangement") == "auftragsverarbeitung":
        # the customer representative records the authority's logging commission a bit later
        await asyncio.sleep(1.5)
        commission = {
            "application_id": key,
            "reference": f"AV-{uuid.uuid4().hex[:6].upper()}",
            "commissioned_at": datetime.now(UTC).isoformat(),
            "recorded_by": "demo-kundenbetreuung",
        }
        await publish(client, Topics.REVIEW_LOGGING_COMMISSIONED, key, commission)
        print(f"→ commission  {key}  logging commissioned by the authority", flush=True)


def _accepted(body: dict[str, Any]) -> str:
    app = body["application"]
    return f"✔ accepted    {app['application_id']}  {app['authority_name']} ({app['access_type']})"


def _incomplete(body: dict[str, Any]) -> str:
    return f"✎ incomplete  {body['application_id']}  " + ", ".join(
        d["code"] for d in body["defects"]
    )


def _refused(body: dict[str, Any]) -> str:
    return (
        f"✘ refused     {body['application_id']}  {body['reason_code']} "
        f"(conflicts with {body.get('conflicting_application_id')})"
    )


def _decided(body: dict[str, Any]) -> str:
    terms = body["conditions"] if body["decision"] == "approved" else body["reasons"]
    signed = ", ".join(body.get("signatures") or []) or "the rules, unsigned"
    codes = ", ".join(t["code"] for t in terms if t["code"] != "SIGNED_AS_RECOMMENDED")
    return f"⚖ {body['decision']:<11} {body['application_id']}  signed by {signed}" + (
        f"  {codes}" if codes else ""
    )


def _manual(body: dict[str, Any]) -> str:
    if body.get("proposed"):
        return f"⚐ recommended {body['application_id']}  {body['proposed']}, to be signed"
    return f"⏸ manual      {body['application_id']}  " + ", ".join(
        n["code"] for n in body["needed"]
    )


def _provisioned(body: dict[str, Any]) -> str:
    return (
        f"🔑 {body['kind']:<11} {body['application_id']}  account {body['administrator_username']}"
    )


# what the demo follows, and how it prints each topic's events
FOLLOWED = {
    Topics.ACCOUNT_PROVISIONED.name: _provisioned,
    Topics.APPLICATION_ACCEPTED.name: _accepted,
    Topics.APPLICATION_INCOMPLETE.name: _incomplete,
    Topics.APPLICATION_REFUSED.name: _refused,
    Topics.REVIEW_DECIDED.name: _decided,
    Topics.REVIEW_PENDING_MANUAL.name: _manual,
}


def describe(topic: str, body: dict[str, Any], headers: dict[str, str]) -> str:
    if topic in FOLLOWED:
        return FOLLOWED[topic](body)
    letter = DeadLetter.of(headers)
    error = f"{letter.error_type}: {letter.error[:90]}" if letter else "?"
    return f"☠ dead letter {error}"


OPERATOR = "ops-verfahrensbetreuung"  # the local installation's Verfahrensbetreuung


async def sign(client: KafkaClient, operator: OperatorKey, body: dict[str, Any]) -> None:
    """The Verfahrensbetreuung signs a recommendation as it stands (§ 35a VwVfG: the decision is
    the person's)."""
    decision = {
        "application_id": body["application_id"],
        "operator_id": OPERATOR,
        "decision": body["proposed"],
        "reason": "Der Empfehlung wird gefolgt.",
    }
    await publish(
        client, Topics.REVIEW_MANUAL_DECISION, body["application_id"], decision,
        "/demo/operators", signed_by=operator,
    )  # fmt: skip
    print(f"✍ signed      {body['application_id']}  {body['proposed']} by {OPERATOR}", flush=True)


async def follow(stop: asyncio.Event, client: KafkaClient) -> None:
    """Prints what becomes of the applications, from now on (no consumer group), and signs the
    recommendations as the Verfahrensbetreuung."""
    operator = load_operator_key(get_settings().pki_dir, OPERATOR)
    follower = await kafka().follow(*FOLLOWED, Topics.APPLICATION_SUBMITTED.dlq)
    skipped = Skipped()
    try:
        while not stop.is_set():
            for r in await follower.next(0.5):
                body = json_or_none(r.value)
                try:
                    line = describe(r.topic, body if body is not None else {}, r.headers)
                except Exception:  # a record of another shape than the demo expects
                    skipped.one(r.topic)
                    continue
                print(line, flush=True)
                if r.topic == Topics.REVIEW_PENDING_MANUAL.name and body and body.get("proposed"):
                    await asyncio.sleep(0.5)  # a moment to read it
                    await sign(client, operator, body)
    finally:
        await follower.close()


class Skipped:
    """Records a demo reader cannot show: skipped, counted and said, never fatal."""

    def __init__(self) -> None:
        self.count = 0

    def one(self, topic: str) -> None:
        self.count += 1
        print(f"⚠ an unreadable record on {topic} skipped ({self.count} so far)", flush=True)


async def main(interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    producer = kafka()
    follower = asyncio.create_task(follow(stop, producer))
    try:
        await asyncio.sleep(3)  # let the follower join before the first outcome
        for what, body in scripted_round():
            await submit(producer, body, what)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
        while not stop.is_set():
            await submit(producer, random_application())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
    finally:
        stop.set()
        await producer.__aexit__()
        await follower
    print(f"demo feed stopped at {datetime.now(UTC):%H:%M:%S}", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # coordinator chatter at start-up
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0))
