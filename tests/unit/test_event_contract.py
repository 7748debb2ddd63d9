"""The event contract: the committed AsyncAPI document and JSON Schemas are what the code
generates, and `v1` events only ever grow: every stored sample of every event type still
validates, and every field a sample carries is still in its schema."""

from __future__ import annotations

import json

import pytest

from shared.contract.topics import CATALOGUE
from tests.helpers import ROOT
from tools import contract

SAMPLES = ROOT / "tests" / "contract" / "samples"
BY_TYPE = {spec.event_type: spec for spec in CATALOGUE}


def test_committed_documents_are_what_the_code_generates() -> None:
    assert contract.stale() == [], "run: python -m tools.contract write"


def test_asyncapi_names_every_topic_its_writer_and_its_consumers() -> None:
    document = json.loads(contract.ASYNCAPI.read_text("utf-8"))
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == {spec.name for spec in CATALOGUE}
    receive = {op for op in document["operations"] if ":receive:" in op}
    assert "min.query.requested.v1:receive:query_router" in receive
    assert "min.query.answered.v1:receive:protocol_log" in receive
    assert "min.application.submitted.v1:receive:intake" in receive


def test_every_event_type_has_a_stored_sample() -> None:
    assert {p.name.removesuffix(".json") for p in SAMPLES.glob("*.json")} == set(BY_TYPE)


@pytest.mark.parametrize("event_type", sorted(BY_TYPE))
def test_stored_samples_still_validate_and_lose_no_field(event_type: str) -> None:
    sample = json.loads((SAMPLES / f"{event_type}.json").read_text("utf-8"))
    model = BY_TYPE[event_type].event
    model.model_validate(sample)
    removed = set(sample) - set(model.model_fields)
    assert removed == set(), f"{event_type} lost {removed}: a breaking change needs a v2 topic"
