"""The access lifecycle on the real broker and database, services as processes: an application
from submission to the legal decision, including the cases the law treats specially."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from shared.contract.topics import Topics
from tests.helpers import RawProducer, application, eventually, headers_for, read_all, read_to_end

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("lifecycle_processes")]


async def submit(*bodies: dict) -> None:
    async with RawProducer() as producer:
        for body in bodies:
            await producer.send(Topics.APPLICATION_SUBMITTED.name, body, key=body["application_id"])


async def decision_for(app_id: str) -> dict:
    records = await read_all(
        Topics.REVIEW_DECIDED.name, until=lambda rs: any(r.key == app_id for r in rs)
    )
    [mine] = [r for r in records if r.key == app_id]
    return mine.json()


def same_authority(name: str, **changes: object) -> dict:
    body = application(**changes)
    body["authority"]["name"] = name
    return body


async def test_two_roles_of_one_authority_are_two_approved_applications(
    db: asyncpg.Connection,
) -> None:
    name = f"Polizeidirektion Lüneburg {uuid.uuid4().hex[:6]}"
    simple = same_authority(name, **{"authority.kind": "polizei"})
    security = same_authority(
        name,
        **{
            "authority.kind": "polizei",
            "access_type": "sicherheitsbehoerde",
            "logging_arrangement": "eigenprotokollierung",
        },
    )
    await submit(simple, security)
    first = await decision_for(simple["application_id"])
    second = await decision_for(security["application_id"])
    assert (first["decision"], first["data_scope"]) == ("approved", "bmg_34_1_satz_1")
    assert (second["decision"], second["data_scope"]) == ("approved", "bmg_34_1_satz_1_und_2")
    assert first["application"]["authority_key"] == second["application"]["authority_key"]
    # intake closes the decided applications
    for app_id in (simple["application_id"], security["application_id"]):

        async def closed(app_id: str = app_id) -> bool:
            status = await db.fetchval(
                "SELECT status FROM intake.application WHERE application_id = $1", app_id
            )
            return status == "approved"

        await eventually(closed, f"intake records the approval of {app_id}")


async def test_police_without_logging_arrangement_is_incomplete() -> None:
    body = application(**{"authority.kind": "polizei", "access_type": "sicherheitsbehoerde"})
    await submit(body)
    records = await read_all(
        Topics.APPLICATION_INCOMPLETE.name,
        until=lambda rs: any(r.key == body["application_id"] for r in rs),
    )
    [mine] = [r.json() for r in records if r.key == body["application_id"]]
    assert [d["code"] for d in mine["defects"]] == ["LOGGING_ARRANGEMENT_MISSING"]
    assert "§ 40 Abs. 3 BMG" in mine["defects"][0]["message"]


async def test_police_with_commissioned_logging_waits_for_the_commission() -> None:
    body = application(
        **{
            "authority.kind": "polizei",
            "access_type": "sicherheitsbehoerde",
            "logging_arrangement": "auftragsverarbeitung",
        }
    )
    app_id = body["application_id"]
    await submit(body)
    # the application is accepted, but no decision comes while the commission is missing;
    # the commission, published behind it on the same key, releases it
    await read_all(
        Topics.APPLICATION_ACCEPTED.name, until=lambda rs: any(r.key == app_id for r in rs)
    )
    commission = {
        "application_id": app_id,
        "reference": "AV-2026-0815",
        "commissioned_at": datetime.now(UTC).isoformat(),
        "recorded_by": "kb-3",
    }
    async with RawProducer() as producer:
        await producer.send(
            Topics.REVIEW_LOGGING_COMMISSIONED.name,
            commission,
            key=app_id,
            headers=headers_for(Topics.REVIEW_LOGGING_COMMISSIONED.event_type),
        )
    decided = await decision_for(app_id)
    assert decided["decision"] == "approved"
    assert "AV-2026-0815" in decided["conditions"][0]["text"]


@pytest.mark.parametrize(
    ("changes", "code", "provision"),
    [
        (
            {
                "authority.kind": "gesetzliche_krankenkasse",
                "access_type": "sicherheitsbehoerde",
                "logging_arrangement": "eigenprotokollierung",
            },
            "HEALTH_INSURER_NOT_SECURITY_AUTHORITY",
            "§ 34 Abs. 4 Satz 1 BMG",
        ),
        ({"authority.kind": "private_stelle"}, "NOT_A_PUBLIC_BODY", "§ 34a Abs. 1 BMG"),
    ],
)
async def test_refusals_give_the_reason_and_cite_the_provision(
    changes: dict, code: str, provision: str
) -> None:
    body = application(**changes)
    await submit(body)
    decided = await decision_for(body["application_id"])
    assert decided["decision"] == "rejected"
    assert [r["code"] for r in decided["reasons"]] == [code]
    assert provision in decided["statement"]


async def test_decisions_carry_the_correlation_of_the_submission() -> None:
    body = application()
    app_id = body["application_id"]
    await submit(body)
    await decision_for(app_id)
    accepted = [r for r in await read_to_end(Topics.APPLICATION_ACCEPTED.name) if r.key == app_id]
    decided = [r for r in await read_to_end(Topics.REVIEW_DECIDED.name) if r.key == app_id]
    assert decided[0].headers["ce_correlationid"] == accepted[0].headers["ce_correlationid"]
    assert decided[0].headers["ce_source"] == "/meldespiegel/legal_review"


async def test_after_approval_the_role_takes_only_an_administrator_change() -> None:
    name = f"Stadt Celle {uuid.uuid4().hex[:6]}"
    first = same_authority(name)
    await submit(first)
    assert (await decision_for(first["application_id"]))["decision"] == "approved"
    again = same_authority(name)
    change = same_authority(name, only_administrator_change=True)
    await submit(again, change)
    records = await read_all(
        Topics.APPLICATION_REFUSED.name,
        until=lambda rs: any(r.key == again["application_id"] for r in rs),
    )
    [refused] = [r.json() for r in records if r.key == again["application_id"]]
    assert refused["conflicting_application_id"] == first["application_id"]
    assert (await decision_for(change["application_id"]))["decision"] == "approved"
