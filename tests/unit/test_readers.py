"""Readers that only look at topics (the CLI, the demo feeds) skip what they cannot read and
follow the tenants' current state."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo.queries import Tenants
from operator_cli import domain
from operator_cli.domain import _describe
from services.dashboard.domain import Dashboard
from shared.contract.envelope import decode_headers
from shared.contract.topics import Topics
from shared.platform.broker import json_or_none
from shared.platform.kafka_client import Record
from tests.hostile import hostile, valid
from tests.retrieval import tenant_state

DEEP = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    "value",
    [DEEP, b"\xff\xfe", b'{"n": 1' + b"0" * 5000 + b"}", b"[1, 2]", b"NaN", b"", None],
    ids=["deep", "not-utf8", "huge-int", "array", "nan", "empty", "tombstone"],
)
def test_an_unreadable_record_is_none_for_readers_and_never_raises(value: bytes | None) -> None:
    assert json_or_none(value) is None


def test_the_cli_shows_an_unreadable_record_as_skipped() -> None:
    record = Record(Topics.REVIEW_DECIDED.name, 0, 7, "A-1", DEEP, {}, 0)
    assert record.body == {}
    assert not record.readable
    assert "unreadable" in _describe(record)


def state(version: int, status: str, users: dict[str, str]) -> dict[str, Any] | None:
    body = tenant_state("T-1", status=status, users=users, version=version)
    return json_or_none(json.dumps(body).encode())


def test_the_demo_asks_only_as_users_that_are_active_now() -> None:
    tenants = Tenants()
    tenants.apply("T-1", state(1, "active", {"admin": "active"}))
    assert tenants.pick() == ("T-1", ("Behörde T-1", "admin"))
    # the demo's administrator change: the old administrator locked, a new one active
    tenants.apply("T-1", state(2, "active", {"admin": "replaced", "admin2": "active"}))
    assert tenants.pick() == ("T-1", ("Behörde T-1", "admin2"))
    tenants.apply("T-1", state(3, "suspended", {"admin2": "active"}))
    assert tenants.pick() is None
    tenants.apply("T-1", state(4, "active", {"admin2": "active"}))
    assert tenants.pick() is not None
    tenants.apply("T-1", None)  # tombstone: the tenant erased
    assert tenants.pick() is None
    tenants.apply("T-2", {"tenant_id": "T-2"})  # not a tenant state: skipped, counted
    assert tenants.skipped.count == 1


READ_TOPICS = [
    Topics.TENANT_STATE,
    Topics.REVIEW_PENDING_MANUAL,
    Topics.REVIEW_DECIDED,
    Topics.REVIEW_OVERDUE,
    Topics.APPLICATION_ACCEPTED,
    Topics.APPLICATION_INCOMPLETE,
    Topics.ACCOUNT_PROVISIONED,
    Topics.QUERY_DELIVERED,
    Topics.PROTOCOL_METRICS,
    Topics.PROTOCOL_ALERTS,
    Topics.OPERATOR_REDRIVEN,
    Topics.OFFICE_CASE,
    Topics.REGISTER_BLOCK_NOTICE,
    Topics.OFFICE_NOTICE_LETTER,
]


@settings(
    max_examples=int(os.environ.get("MELDESPIEGEL_HOSTILE_EXAMPLES_UNIT", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_reader_folds_any_hostile_record_without_raising(data: st.DataObject) -> None:
    """The CLI's folds, the dashboard's read model and the demo's tenant follower, each given
    valid records and generated hostile ones (tests/hostile.py) of the topics they read."""
    records = []
    for spec in data.draw(st.lists(st.sampled_from(READ_TOPICS), min_size=1, max_size=4)):
        good = valid(spec)
        raws = [good, *data.draw(st.lists(hostile(spec, [good.key or b"k"]), max_size=3))]
        records += [
            Record(
                spec.name,
                0,
                i,
                raw.key.decode("utf-8", "replace") if raw.key is not None else None,
                raw.value or b"",
                decode_headers(raw.headers),
                0,
            )
            for i, raw in enumerate(raws)
        ]
    by_topic = {spec.name: [s for s in records if s.topic == spec.name] for spec in READ_TOPICS}
    domain.neueste_staende(by_topic[Topics.TENANT_STATE.name])
    domain.offene_pruefungen(
        by_topic[Topics.REVIEW_PENDING_MANUAL.name],
        by_topic[Topics.REVIEW_DECIDED.name],
        by_topic[Topics.REVIEW_OVERDUE.name],
    )
    domain.zurueckgegeben(by_topic[Topics.OPERATOR_REDRIVEN.name])
    domain.bearbeitungen(by_topic[Topics.OFFICE_CASE.name])
    domain.mitteilungen(
        by_topic[Topics.REGISTER_BLOCK_NOTICE.name], by_topic[Topics.OFFICE_NOTICE_LETTER.name]
    )
    domain.zeitleiste(records)
    domain.stand(records)
    for s in records:
        domain.application_of(s)
    dashboard = Dashboard()
    tenants = Tenants()
    for s in records:
        dashboard.apply(s.topic, json_or_none(s.value))
        if s.topic == Topics.TENANT_STATE.name:
            tenants.apply(s.key, json_or_none(s.value))
    dashboard.snapshot()
    Dashboard.restored(dashboard.checkpoint())
    tenants.pick()
