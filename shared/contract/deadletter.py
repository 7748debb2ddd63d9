"""The dead-letter contract: what a record on a topic's `.dlq` companion carries beside the
original record, written and read only through `DeadLetter`.

A dead letter keeps the original bytes, key and headers (the readable copies, and exactly in
`dlq_original_headers`, even where they are not UTF-8), and adds why it failed, where it stood,
which service gave it up and when. A redrive publishes the bytes back to the original topic
with the original headers and without any `dlq_` header (`redrive_headers`)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

PREFIX = "dlq_"  # every header a dead letter adds; a redrive removes them all
# what a redrive adds: which dead letter, by which operator (who signs the copy), when
REDRIVEN_FROM, REDRIVEN_BY, REDRIVEN_AT = "redriven_from", "redriven_by", "redriven_at"
# the redriving operator's certificate and signature over the copy; an original command's own
# signature (`operator_cert`, `operator_signature`) travels on unchanged
REDRIVE_CERT_HEADER, REDRIVE_SIGNATURE_HEADER = "redrive_cert", "redrive_signature"
RawHeaders = Iterable[tuple[str, bytes | None]]


def exact_headers(raw: RawHeaders | None) -> str:
    """Headers exactly, as JSON `[[name, base64 value or null], …]`: readable copies cannot
    show bytes that are not UTF-8, nulls or repeated names."""
    return json.dumps(
        [[k, None if v is None else base64.b64encode(v).decode("ascii")] for k, v in raw or ()]
    )


def _readable(value: str) -> str:
    # a header must encode as UTF-8: an error message may quote a lone surrogate from the input
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class DeadLetter:
    error_type: str
    error: str
    original_topic: str
    service: str
    failed_at: datetime | None
    original_partition: int | None = None
    original_offset: int | None = None
    original_timestamp: int | None = None
    original_headers: str | None = None  # `exact_headers` of the original record
    original_value_null: bool = False  # a tombstone: the dead letter's empty value stands for null

    def headers(self) -> dict[str, str]:
        h = {
            "dlq_error_type": self.error_type,
            "dlq_error": _readable(self.error),
            "dlq_original_topic": self.original_topic,
            "dlq_service": self.service,
        }
        for name, value in (
            ("dlq_failed_at", self.failed_at.isoformat() if self.failed_at else None),
            ("dlq_original_partition", self.original_partition),
            ("dlq_original_offset", self.original_offset),
            ("dlq_original_timestamp", self.original_timestamp),
            ("dlq_original_headers", self.original_headers),
        ):
            if value is not None:
                h[name] = str(value)
        if self.original_value_null:
            h["dlq_original_value"] = "null"
        return h

    @classmethod
    def of(cls, headers: Mapping[str, str]) -> DeadLetter | None:
        """The dead letter's description, or None if the headers carry none."""
        topic = headers.get("dlq_original_topic")
        if not topic:
            return None

        def number(name: str) -> int | None:
            value = headers.get(name)
            return int(value) if value and value.lstrip("-").isdigit() else None

        failed = headers.get("dlq_failed_at")
        try:
            failed_at = datetime.fromisoformat(failed) if failed else None
        except ValueError:
            failed_at = None
        return cls(
            error_type=headers.get("dlq_error_type", ""),
            error=headers.get("dlq_error", ""),
            original_topic=topic,
            service=headers.get("dlq_service", ""),
            failed_at=failed_at,
            original_partition=number("dlq_original_partition"),
            original_offset=number("dlq_original_offset"),
            original_timestamp=number("dlq_original_timestamp"),
            original_headers=headers.get("dlq_original_headers"),
            original_value_null=headers.get("dlq_original_value") == "null",
        )

    @property
    def position(self) -> tuple[str, int, int] | None:
        if self.original_partition is None or self.original_offset is None:
            return None
        return (self.original_topic, self.original_partition, self.original_offset)


def redrive_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The original headers of a dead letter, for publishing it back."""
    return {k: v for k, v in headers.items() if not k.startswith(PREFIX)}
