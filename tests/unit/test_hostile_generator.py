"""The hostile-record generator keeps its promise: a record meant for the dead-letter topic is
refused by the topic's decoder or schema, whatever was drawn."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.platform.broker import POISON, decode_event
from shared.platform.settings import Settings
from tests.hostile import consumed_topics, hostile, valid


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_record_meant_for_the_dead_letter_topic_is_refused(data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(consumed_topics()))
    good = valid(spec)
    raw = data.draw(hostile(spec, [good.key or b"k"]))
    record = SimpleNamespace(value=raw.value, headers=raw.headers, key=raw.key)
    limit = spec.max_event_bytes or Settings().max_event_bytes
    as_read = SimpleNamespace(value=good.value, headers=good.headers, key=good.key)
    decode_event(spec, as_read, limit)  # type: ignore[arg-type]  # the valid one is taken
    if raw.expect == "erase":
        assert spec.compacted
        assert raw.value is None
        return
    with pytest.raises(POISON):
        decode_event(spec, record, limit)  # type: ignore[arg-type]
