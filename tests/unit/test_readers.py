"""Readers that only look at topics (the CLI, the demo feeds) skip what they cannot read and
follow the tenants' current state."""

from __future__ import annotations

import json
from typing import Any

import pytest

from demo.queries import Tenants
from operator_cli.domain import Satz, _describe
from shared.broker import json_or_none
from shared.topics import Topics

DEEP = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    "value",
    [DEEP, b"\xff\xfe", b'{"n": 1' + b"0" * 5000 + b"}", b"[1, 2]", b"NaN", b"", None],
    ids=["deep", "not-utf8", "huge-int", "array", "nan", "empty", "tombstone"],
)
def test_an_unreadable_record_is_none_for_readers_and_never_raises(value: bytes | None) -> None:
    assert json_or_none(value) is None


def test_the_cli_shows_an_unreadable_record_as_skipped() -> None:
    satz = Satz(Topics.REVIEW_DECIDED.name, 0, 7, "A-1", DEEP, {}, 0)
    assert satz.body == {}
    assert not satz.readable
    assert "unreadable" in _describe(satz)


def state(version: int, status: str, users: dict[str, str]) -> bytes:
    body: dict[str, Any] = {
        "tenant_id": "T-1",
        "authority_name": "Landkreis Göttingen",
        "status": status,
        "version": version,
        "users": [{"username": u, "status": s} for u, s in users.items()],
    }
    return json.dumps(body).encode()


def test_the_demo_asks_only_as_users_that_are_active_now() -> None:
    tenants = Tenants()
    tenants.apply(b"T-1", json_or_none(state(1, "active", {"admin": "active"})))
    assert tenants.pick() == ("T-1", ("Landkreis Göttingen", "admin"))
    # the demo's administrator change: the old administrator locked, a new one active
    tenants.apply(
        b"T-1", json_or_none(state(2, "active", {"admin": "replaced", "admin2": "active"}))
    )
    assert tenants.pick() == ("T-1", ("Landkreis Göttingen", "admin2"))
    tenants.apply(b"T-1", json_or_none(state(3, "suspended", {"admin2": "active"})))
    assert tenants.pick() is None
    tenants.apply(b"T-1", json_or_none(state(4, "active", {"admin2": "active"})))
    tenants.apply(b"T-1", None)  # tombstone: the tenant erased
    assert tenants.pick() is None
    tenants.apply(b"T-2", {"tenant_id": "T-2"})  # not a tenant state: skipped, counted
    assert tenants.skipped.count == 1
