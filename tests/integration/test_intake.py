"""intake on the real broker and database: outcomes, dead letters, idempotency, duplicates."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from shared.contract.topics import Topics
from tests.helpers import (
    RawProducer,
    Record,
    ServiceProcess,
    application,
    eventually,
    headers_for,
    read_all,
    read_to_end,
    with_key,
)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("intake_process")]
SUBMITTED = Topics.APPLICATION_SUBMITTED
HISTORY = "SELECT status FROM intake.application_status WHERE application_id = $1 ORDER BY id"


async def submit(*bodies: dict, key: str | None = None) -> None:
    """Publishes applications as upstream would, each keyed by its id unless `key` is given."""
    async with RawProducer() as producer:
        for body in bodies:
            await producer.send(SUBMITTED.name, body, key=key or body["application_id"])


async def wait_outcome(app_id: str, topic: str) -> list[Record]:
    records = await read_all(topic, until=lambda rs: any(r.key == app_id for r in rs))
    return [r for r in records if r.key == app_id]


async def test_complete_application_is_accepted_on_the_topic_and_in_postgres(
    db: asyncpg.Connection,
) -> None:
    body = application()
    app_id = body["application_id"]
    await submit(body)

    [record] = await wait_outcome(app_id, Topics.APPLICATION_ACCEPTED.name)
    assert record.headers["ce_type"] == Topics.APPLICATION_ACCEPTED.event_type
    assert record.headers["ce_source"] == "/meldespiegel/intake"
    accepted = record.json()["application"]
    assert accepted["access_type"] == "einfache_behoerdenauskunft"
    assert accepted["administrator"]["surname"] == "Weißmüller"

    row = await db.fetchrow(
        "SELECT status, correlation_id FROM intake.application WHERE application_id = $1", app_id
    )
    assert row["status"] == "accepted"
    assert record.headers["ce_correlationid"] == row["correlation_id"]
    history = await db.fetch(
        "SELECT status FROM intake.application_status WHERE application_id = $1 ORDER BY id", app_id
    )
    assert [h["status"] for h in history] == ["received", "accepted"]


async def test_incomplete_application_lists_every_defect(db: asyncpg.Connection) -> None:
    body = application(**{"administrator.email": None, "signature.official_seal": False})
    app_id = body["application_id"]
    async with RawProducer() as producer:
        await producer.send(SUBMITTED.name, body, key=app_id)
    [record] = await wait_outcome(app_id, Topics.APPLICATION_INCOMPLETE.name)
    defects = record.json()["defects"]
    assert {d["code"] for d in defects} == {"ADMIN_EMAIL_MISSING", "OFFICIAL_SEAL_MISSING"}
    assert all(d["message"] for d in defects)
    assert (
        await db.fetchval("SELECT status FROM intake.application WHERE application_id = $1", app_id)
        == "incomplete"
    )


POISON = {
    "undecodable_json": (b'{"application_id": "x", ', headers_for, "UndecodableEvent"),
    "not_an_object": (b'["a", "list"]', headers_for, "UndecodableEvent"),
    "wrong_schema": (
        json.dumps({"tenant_id": "t-1", "query": "Müller"}).encode(),
        headers_for,
        "ValidationError",
    ),
    "wrong_field_type": (
        json.dumps({**application(), "administrator": "Jördis Weißmüller"}).encode(),
        headers_for,
        "ValidationError",
    ),
    "oversized": (
        json.dumps(
            {**application(), "compliance": {"assured": True, "measures": "x" * 300_000}}
        ).encode(),
        headers_for,
        "EventTooLarge",
    ),
    "unknown_event_type": (
        json.dumps(application()).encode(),
        lambda: headers_for("de.meldespiegel.query.requested.v1"),
        "UnknownEventType",
    ),
    "no_cloudevents_headers": (json.dumps(application()).encode(), lambda: [], "EnvelopeError"),
}


@pytest.mark.parametrize("case", list(POISON))
async def test_bad_input_goes_to_the_dlq_and_the_next_message_is_processed(case: str) -> None:
    raw, make_headers, error_type = POISON[case]
    key = f"poison-{case}-{uuid.uuid4().hex[:8]}"
    follower = application(key)  # same key: same partition, queued behind the poison
    headers = make_headers()
    async with RawProducer() as producer:
        await producer.send(SUBMITTED.name, raw, key=key, headers=headers)
        await producer.send(SUBMITTED.name, follower, key=key)

    [dead] = [
        r
        for r in await read_all(SUBMITTED.dlq, until=lambda rs: any(map(with_key(key), rs)))
        if r.key == key
    ]
    assert dead.value == raw  # the original bytes, untouched
    assert dead.headers["dlq_error_type"] == error_type
    assert dead.headers["dlq_error"]
    assert dead.headers["dlq_original_topic"] == SUBMITTED.name
    assert int(dead.headers["dlq_original_offset"]) >= 0
    for name, value in headers:  # the original headers survive for a redrive
        assert dead.headers[name] == value.decode()

    [accepted] = await wait_outcome(key, Topics.APPLICATION_ACCEPTED.name)
    assert accepted.json()["application"]["application_id"] == key


async def test_redelivered_event_has_no_second_record_or_outcome(db: asyncpg.Connection) -> None:
    body = application()
    app_id = body["application_id"]
    same_event = headers_for()
    async with RawProducer() as producer:
        await producer.send(SUBMITTED.name, body, key=app_id, headers=same_event)
        await producer.send(SUBMITTED.name, body, key=app_id, headers=same_event)
        # a marker behind both on the same partition proves both were consumed
        marker = application(**{"access_type": None})
        await producer.send(SUBMITTED.name, marker, key=app_id)

    await wait_outcome(marker["application_id"], Topics.APPLICATION_INCOMPLETE.name)
    accepted = [r for r in await read_to_end(Topics.APPLICATION_ACCEPTED.name) if r.key == app_id]
    assert len(accepted) == 1
    assert (
        await db.fetchval(
            "SELECT count(*) FROM intake.application WHERE application_id = $1", app_id
        )
        == 1
    )
    assert (
        await db.fetchval(
            "SELECT count(*) FROM intake.inbox WHERE event_id = $1",
            dict(same_event)["ce_id"].decode(),
        )
        == 1
    )


async def test_same_application_delivered_again_as_new_event_keeps_one_outcome(
    db: asyncpg.Connection,
) -> None:
    body = application()
    app_id = body["application_id"]
    await submit(body, body)  # two events (two ce_ids), one application

    await read_all(
        Topics.APPLICATION_ACCEPTED.name, until=lambda rs: any(map(with_key(app_id), rs))
    )

    async def history() -> list[str]:
        return [r["status"] for r in await db.fetch(HISTORY, app_id)]

    async def redelivery_recorded() -> bool:
        return "redelivered" in await history()

    await eventually(redelivery_recorded, "the second delivery in the status history")
    assert await history() == ["received", "accepted", "redelivered"]
    accepted = [r for r in await read_to_end(Topics.APPLICATION_ACCEPTED.name) if r.key == app_id]
    assert len(accepted) == 1


async def test_second_open_application_for_same_role_is_refused_other_role_is_not() -> None:
    authority = {
        "authority.name": f"Polizeidirektion {uuid.uuid4().hex[:6]}",
        "authority.kind": "polizei",
    }
    security = {"access_type": "sicherheitsbehoerde", "logging_arrangement": "eigenprotokollierung"}
    first = application(**authority)
    first["authority"]["name"] = authority["authority.name"]
    second = application(**authority)
    second["authority"]["name"] = authority["authority.name"]
    security_role = application(**authority, **security)
    security_role["authority"]["name"] = authority["authority.name"]
    admin_change = application(**authority, only_administrator_change=True)
    admin_change["authority"]["name"] = authority["authority.name"]

    await submit(first)
    await wait_outcome(first["application_id"], Topics.APPLICATION_ACCEPTED.name)
    await submit(second, security_role, admin_change)

    [refused] = await wait_outcome(second["application_id"], Topics.APPLICATION_REFUSED.name)
    assert refused.json()["reason_code"] == "DUPLICATE_APPLICATION_FOR_ROLE"
    assert refused.json()["conflicting_application_id"] == first["application_id"]
    await wait_outcome(security_role["application_id"], Topics.APPLICATION_ACCEPTED.name)
    await wait_outcome(admin_change["application_id"], Topics.APPLICATION_ACCEPTED.name)


def test_intake_process_is_still_running(intake_process: ServiceProcess) -> None:
    assert intake_process.alive(), intake_process.log_text()[-3000:]
