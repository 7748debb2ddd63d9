"""Hostile records for any consumed topic, as `hypothesis` strategies: the one generator every
test of bad input uses. Each record is what an upstream system, an operator's kcat or a broken
producer could put on a topic; none of them may stop a consumer or take a valid event with it.

A record's `expect` says what must become of it: `apply` (a valid event, applied once),
`dead_letter` (on the topic's `.dlq`, with a reason) or `erase` (a tombstone on a compacted topic,
which deletes the key's record)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError

from shared.contract.topics import CATALOGUE, TopicSpec
from shared.platform.operator_signatures import COMMAND
from shared.platform.settings import Settings
from tests.helpers import headers_for
from tests.identities import operator_key

SAMPLES = Path(__file__).resolve().parent / "contract" / "samples"
Headers = list[tuple[str, bytes | None]]

# the deepest nesting json.loads survives is about 1,000 levels; these go well past it
DEEP = st.integers(min_value=1_500, max_value=60_000)


@dataclass(frozen=True)
class Raw:
    """A record as it goes onto the topic."""

    kind: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    expect: str = "dead_letter"  # or "apply", "erase"


def consumed_topics() -> list[TopicSpec]:
    return [spec for spec in CATALOGUE if spec.consumed]


def sample(spec: TopicSpec) -> dict[str, Any]:
    """A valid body of the topic's event, from the contract's stored samples."""
    body: dict[str, Any] = json.loads((SAMPLES / f"{spec.event_type}.json").read_text())
    return body


def envelope_headers(event_type: str, event_id: str | None = None) -> Headers:
    return list(headers_for(event_type, event_id))


def valid(spec: TopicSpec, event_id: str | None = None) -> Raw:
    """A valid event; an operator's command signed by the operator it names, as the CLI does."""
    body = sample(spec)
    key = spec.key_of(spec.event.model_validate(body)).encode()
    headers = envelope_headers(spec.event_type, event_id)
    raw = json.dumps(body).encode()
    if spec.operator_command:
        named = body.get("operator_id") or body.get("requested_by") or body["actor"]["id"]
        plain = {k: v.decode() for k, v in headers if v is not None}
        signed = operator_key(named).sign(COMMAND, spec.name, key, plain, raw)
        headers += [(k, v.encode()) for k, v in signed.items()]
    return Raw("valid", key, raw, headers, expect="apply")


def event_id_of(raw: Raw) -> str:
    return next(v.decode() for k, v in raw.headers if k == "ce_id" and v is not None)


def _limit(spec: TopicSpec) -> int:
    return spec.max_event_bytes or Settings().max_event_bytes


def _invalid_for(spec: TopicSpec, body: dict[str, Any]) -> bool:
    try:
        spec.event.model_validate(body)
    except ValidationError:
        return True
    return False


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=20)
)


def _nested(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children))


JSON_VALUES = st.recursive(JSON_SCALARS, _nested, max_leaves=6)


@st.composite
def _wrong_schema(draw: st.DrawFn, spec: TopicSpec) -> bytes:
    """The sample with one field dropped, nulled or given a value of another type: schema
    violations, wrong types and null values."""
    body = sample(spec)
    field = draw(st.sampled_from(sorted(body)))
    how = draw(st.sampled_from(["drop", "null", "other"]))
    if how == "drop":
        del body[field]
    elif how == "null":
        body[field] = None
    else:
        body[field] = draw(JSON_VALUES)
    if not _invalid_for(spec, body):  # an optional field dropped is no violation; no event
        body = {}  # of the catalogue is valid without its required fields
    return json.dumps(body).encode()


@st.composite
def hostile(draw: st.DrawFn, spec: TopicSpec, keys: list[bytes]) -> Raw:
    """One hostile record for `spec`; `keys` are the valid events' keys, so that poison and
    valid events share partitions."""
    key_choices = [st.sampled_from(keys), st.binary(min_size=1, max_size=40)]
    if not spec.compacted:  # a compacted topic refuses records without a key
        key_choices.append(st.none())
    key = draw(st.one_of(*key_choices))
    good = json.dumps(sample(spec)).encode()
    ok_headers = envelope_headers(spec.event_type)
    kind = draw(
        st.sampled_from(
            [
                "random_bytes",
                "empty_body",
                "not_an_object",
                "non_utf8_header",
                "null_header",
                "repeated_header",
                "no_envelope",
                "wrong_event_type",
                "bad_ce_time",
                "deep_nesting",
                "huge_integer",
                "long_integer",
                "non_finite_number",
                "wrong_schema",
                "oversized",
                "tombstone",
            ]
        )
    )
    value: bytes | None = good
    headers = ok_headers
    expect = "dead_letter"
    if kind == "random_bytes":
        value = draw(st.binary(max_size=300))
        headers = draw(st.sampled_from([ok_headers, []]))
    elif kind == "empty_body":
        value = b""
    elif kind == "not_an_object":
        value = json.dumps(draw(st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS)))).encode()
    elif kind == "non_utf8_header":
        name = draw(
            st.sampled_from(["ce_id", "ce_type", "ce_correlationid", "correlation_id", "x-trace"])
        )
        bad = b"\xff" + draw(st.binary(max_size=10))
        headers = [(k, v) for k, v in ok_headers if k != name] + [(name, bad)]
    elif kind == "null_header":
        name = draw(st.sampled_from(["ce_source", "ce_subject", "x-trace"]))
        headers = [(k, v) for k, v in ok_headers if k != name] + [(name, None)]
    elif kind == "repeated_header":
        headers = [*ok_headers, ("ce_type", b"de.meldespiegel.other.v1")]
    elif kind == "no_envelope":
        headers = draw(st.sampled_from([[], [(k, v) for k, v in ok_headers if k != "ce_id"]]))
    elif kind == "wrong_event_type":
        others = sorted({s.event_type for s in CATALOGUE} - {spec.event_type})
        headers = envelope_headers(draw(st.sampled_from(others)))
    elif kind == "bad_ce_time":
        headers = [(k, v) for k, v in ok_headers if k != "ce_time"] + [
            ("ce_time", draw(st.sampled_from([b"yesterday", b"2026-11-30T10:00:00"])))
        ]
    elif kind == "deep_nesting":
        depth = draw(DEEP)
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        value = b'{"x": ' + opener * depth + b"1" + closer * depth + b"}"
    elif kind == "huge_integer":  # past Python's 4,300-digit limit for int()
        digits = draw(st.integers(min_value=4_301, max_value=20_000))
        value = good[:-1] + b', "n": 1' + b"0" * digits + b"}"
    elif kind == "long_integer":  # within Python's limit, past any 64-bit column
        digits = draw(st.integers(min_value=20, max_value=4_300))
        value = good[:-1] + b', "n": 9' + b"9" * digits + b"}"
    elif kind == "non_finite_number":
        value = good[:-1] + b', "n": ' + draw(st.sampled_from([b"NaN", b"Infinity", b"1e999"]))
        value += b"}"
    elif kind == "wrong_schema":
        value = draw(_wrong_schema(spec))
    elif kind == "oversized":
        pad = _limit(spec) + draw(st.integers(min_value=1, max_value=1000))
        value = json.dumps({**sample(spec), "padding": "x" * pad}).encode()
    elif kind == "tombstone":
        value = None
        key = key if key is not None else draw(st.sampled_from(keys))  # the client wants one
        headers = draw(st.sampled_from([[], ok_headers]))
        if spec.compacted:
            expect = "erase"
    return Raw(kind, key, value, headers, expect)


def fits_on(spec: TopicSpec, raw: Raw) -> bool:
    """Whether the broker takes the record at all: a topic whose own size limit equals the
    consumer's accepts nothing larger, so such an event cannot arrive there."""
    return not (raw.kind == "oversized" and spec.max_event_bytes is not None)


@st.composite
def interleaved(draw: st.DrawFn, spec: TopicSpec) -> list[Raw]:
    """Valid events of `spec` with hostile records between them, a valid event last (so that a
    stalled consumer shows), and one valid event delivered twice under the same id."""
    n_valid = draw(st.integers(min_value=1, max_value=4))
    valids = [valid(spec) for _ in range(n_valid)]
    keys = [v.key for v in valids if v.key is not None]
    poison = [
        r for r in draw(st.lists(hostile(spec, keys), min_size=1, max_size=5)) if fits_on(spec, r)
    ]
    records: list[Raw] = []
    for i, v in enumerate(valids[:-1]):
        records.append(v)
        records.extend(poison[i::n_valid])
    records.extend(poison[n_valid - 1 :: n_valid])
    records.append(valids[-1])
    if draw(st.booleans()):
        records.append(valids[0])  # the same event id again: applied once
    return records
