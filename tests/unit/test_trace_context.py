"""The W3C trace context an event carries (`traceparent`) is kept as it is, passed on to what the
event causes, and a malformed one is ignored: it is never a reason to refuse the event."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from shared.contract.envelope import Envelope, traceparent_of
from shared.contract.topics import Topics
from shared.platform import tracing
from shared.platform.messaging import Outgoing, outbox_row
from tests.factories import approval, complete_application

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def headers(**extra: str) -> dict[str, str]:
    env = Envelope.new(source="/test", type=Topics.TENANT_STATE.event_type, correlation_id=None)
    return env.to_headers() | extra


def test_a_valid_traceparent_is_read_and_written_back() -> None:
    env = Envelope.from_headers(headers(traceparent=VALID))
    assert env.traceparent == VALID
    assert env.to_headers()["traceparent"] == VALID


@given(st.text(max_size=80))
def test_a_malformed_traceparent_is_ignored_not_refused(value: str) -> None:
    env = Envelope.from_headers(headers(traceparent=value))
    assert env.traceparent == (value if traceparent_of({"traceparent": value}) else None)
    assert env.traceparent is None or len(env.traceparent) == 55


def test_without_tracing_an_event_passes_its_cause_s_trace_on() -> None:
    assert tracing.hop(VALID, "x", {}) == VALID  # no provider configured: nothing recorded
    cause = Envelope.from_headers(headers(traceparent=VALID))
    decided = Outgoing(Topics.REVIEW_DECIDED, approval(complete_application()))
    row = outbox_row(decided, "/meldespiegel/legal_review", cause)
    assert row.headers["traceparent"] == VALID
    assert row.envelope.correlation_id == cause.correlation
