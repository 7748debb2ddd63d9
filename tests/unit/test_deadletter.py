"""The dead-letter contract: what a writer puts in the headers is what a reader gets back, and a
redrive keeps the original headers only."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from shared.contract.deadletter import PREFIX, DeadLetter, exact_headers, redrive_headers

RAW = [("ce_id", b"e-1"), ("odd", b"\xff\xfe"), ("empty", None), ("ce_id", b"again")]


def test_written_headers_read_back_the_same_dead_letter() -> None:
    letter = DeadLetter(
        error_type="ValidationError",
        error="kriterien.familienname: field required \udcff",
        original_topic="min.query.requested.v1",
        service="query_router",
        failed_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        original_partition=2,
        original_offset=4711,
        original_timestamp=1_790_000_000_000,
        original_headers=exact_headers(RAW),
        original_value_null=True,
    )
    headers = letter.headers()
    assert all(name.startswith(PREFIX) for name in headers)
    for value in headers.values():
        value.encode("utf-8")  # every header is valid UTF-8, a lone surrogate escaped
    back = DeadLetter.of(headers)
    assert back is not None
    assert back.position == ("min.query.requested.v1", 2, 4711)
    assert back.original_value_null
    assert back.failed_at == letter.failed_at
    assert back.error.startswith("kriterien.familienname: field required")
    exact = [(k, None if v is None else base64.b64decode(v)) for k, v in json.loads(
        back.original_headers or "[]")]  # fmt: skip
    assert exact == RAW  # bytes that are not UTF-8, nulls and repeated names survive


def test_a_dead_letter_without_its_position_and_plain_headers() -> None:
    mail = DeadLetter("MailDeliveryFailed", "{}", "min.account.credentials.v1", "mail_dispatch",
                      None)  # fmt: skip
    assert DeadLetter.of(mail.headers()) == mail
    assert mail.position is None
    assert DeadLetter.of({"ce_id": "e-1"}) is None


def test_redrive_keeps_the_original_headers_only() -> None:
    headers = {
        "ce_id": "e-1",
        "ce_type": "t",
        **DeadLetter("E", "x", "topic", "svc", None).headers(),
    }
    assert redrive_headers(headers) == {"ce_id": "e-1", "ce_type": "t"}
