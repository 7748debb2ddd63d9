"""The event contract: catalogue, envelope, and that no service spells a topic name itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from shared.contract.envelope import Envelope, EnvelopeError
from shared.contract.topics import CATALOGUE, Topics
from shared.platform.kafka_admin import wanted_topics
from tests.helpers import ROOT

TOPIC_NAME = re.compile(r"^min\.[a-z]+(\.[a-z0-9-]+)+\.v[0-9]+$")


def test_catalogue_names_are_versioned_and_unique() -> None:
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names))
    for spec in CATALOGUE:
        assert TOPIC_NAME.match(spec.name), spec.name
        assert spec.event_type.endswith(spec.name.split(".")[-1])


def test_every_consumed_topic_has_a_dead_letter_companion() -> None:
    created = {w.name: w for w in wanted_topics()}
    for spec in CATALOGUE:
        assert (spec.dlq in created) == spec.consumed
    assert Topics.APPLICATION_SUBMITTED.consumed


def test_no_topic_name_is_spelled_outside_shared() -> None:
    literal = re.compile(r"""["']min\.[a-z]+\.[a-z.-]+["']""")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("services", "demo", "operator_cli")
        for path in (ROOT / folder).rglob("*.py")
        if literal.search(path.read_text("utf-8"))
    ]
    assert offenders == []


def test_envelope_roundtrip_through_headers() -> None:
    env = Envelope.new(source="/meldespiegel/intake", type="t.v1", correlation_id="corr-1")
    back = Envelope.from_headers(env.to_headers())
    assert back == env
    assert back.correlation == "corr-1"


def test_first_event_of_a_chain_correlates_with_itself() -> None:
    env = Envelope(id="e-1", source="/x", type="t", time=datetime.now(UTC))
    assert Envelope.from_headers(env.to_headers()).correlation == "e-1"


@pytest.mark.parametrize("missing", ["ce_id", "ce_source", "ce_type", "ce_specversion"])
def test_envelope_requires_the_cloudevents_attributes(missing: str) -> None:
    headers = Envelope.new(source="/x", type="t", correlation_id=None).to_headers()
    del headers[missing]
    with pytest.raises(EnvelopeError, match=missing):
        Envelope.from_headers(headers)


def test_envelope_rejects_a_naive_time() -> None:
    headers = Envelope.new(source="/x", type="t", correlation_id=None).to_headers()
    headers["ce_time"] = "2026-11-21T10:00:00"
    with pytest.raises(EnvelopeError, match="time zone"):
        Envelope.from_headers(headers)


def test_retry_backoff_doubles_and_stays_capped_through_a_long_outage() -> None:
    from shared.platform.broker import retry_delay
    from shared.platform.settings import Settings

    settings = Settings(retry_backoff_seconds=0.2, retry_backoff_max_seconds=10.0)
    assert [retry_delay(settings, n) for n in (1, 2, 3)] == [0.2, 0.4, 0.8]
    assert retry_delay(settings, 5000) == 10.0


def test_one_backoff_for_handlers_smtp_and_the_supervisor() -> None:
    from shared.platform.retry import backoff

    assert [backoff(1.0, n, 30.0) for n in (1, 2, 3, 4, 5, 6)] == [1, 2, 4, 8, 16, 30]
    assert backoff(5.0, 10**6, 5.0 * 2**12) == 5.0 * 2**12  # no overflow, the ceiling holds
    assert backoff(0.2, 0, 10.0) == 0.2  # an attempt count below one means the first retry
