"""CloudEvents 1.0 in Kafka's binary content mode: the attributes travel as `ce_*` headers, the body
is the event's JSON. kcat and Kafka UIs show both as they are."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
# a CloudEvents extension attribute, so its name is lower-case letters and digits only: other
# CloudEvents SDKs carry it through as `correlationid`
CORRELATION_HEADER = "ce_correlationid"
# the name events published before carry (FastStream also writes it): still read
FORMER_CORRELATION_HEADER = "correlation_id"
REQUIRED_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_specversion")
# W3C Trace Context, as OpenTelemetry's Kafka instrumentations carry it (`shared.platform.tracing`)
TRACE_HEADER = "traceparent"
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
# an operator's command or redrive carries the operator's certificate (DER, base64) and an Ed25519
# signature over the record (`shared.platform.operator_signatures`)
OPERATOR_CERT_HEADER = "operator_cert"
OPERATOR_SIGNATURE_HEADER = "operator_signature"
# a record between two states' gateways carries the sending gateway's certificate and signature,
# which the receiving side pins by fingerprint (`shared.platform.operator_signatures.pinned`)
GATEWAY_CERT_HEADER = "gateway_cert"
GATEWAY_SIGNATURE_HEADER = "gateway_signature"


class EnvelopeError(ValueError):
    """The Kafka headers are not a usable CloudEvents envelope."""


@dataclass(frozen=True)
class Envelope:
    id: str
    source: str
    type: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str = ""
    subject: str | None = None
    traceparent: str | None = None  # the trace this event belongs to

    @property
    def correlation(self) -> str:
        """The correlation id, falling back to the event's own id for the first event of a chain."""
        return self.correlation_id or self.id

    @classmethod
    def new(
        cls,
        *,
        source: str,
        type: str,
        correlation_id: str | None,
        subject: str | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        event_id = str(uuid.uuid4())
        return cls(
            id=event_id,
            source=source,
            type=type,
            correlation_id=correlation_id or event_id,
            subject=subject,
            traceparent=traceparent,
        )

    def to_headers(self) -> dict[str, str]:
        headers = {
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_time": self.time.isoformat(),
            "ce_specversion": SPECVERSION,
            "content-type": CONTENT_TYPE,
            CORRELATION_HEADER: self.correlation,
        }
        if self.subject:
            headers["ce_subject"] = self.subject
        if self.traceparent:
            headers[TRACE_HEADER] = self.traceparent
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Envelope:
        missing = [h for h in REQUIRED_HEADERS if not headers.get(h)]
        if missing:
            raise EnvelopeError(f"missing CloudEvents header(s): {', '.join(missing)}")
        if headers["ce_specversion"] != SPECVERSION:
            raise EnvelopeError(f"unsupported ce_specversion {headers['ce_specversion']!r}")
        raw_time = headers.get("ce_time")
        try:
            time = datetime.fromisoformat(raw_time) if raw_time else datetime.now(UTC)
        except ValueError as exc:
            raise EnvelopeError(f"ce_time is not an RFC 3339 timestamp: {raw_time!r}") from exc
        if time.tzinfo is None:
            raise EnvelopeError("ce_time must carry a time zone")
        return cls(
            id=headers["ce_id"],
            source=headers["ce_source"],
            type=headers["ce_type"],
            time=time,
            correlation_id=correlation_of(headers) or headers["ce_id"],
            subject=headers.get("ce_subject"),
            traceparent=traceparent_of(headers),
        )


def traceparent_of(headers: Mapping[str, str]) -> str | None:
    """The W3C traceparent the headers carry, or None for none or anything else: a malformed one
    is ignored, never a reason to refuse the event."""
    value = headers.get(TRACE_HEADER)
    return value if value is not None and _TRACEPARENT.fullmatch(value) else None


def correlation_of(headers: Mapping[str, str]) -> str | None:
    """The correlation id the headers carry, under its name or the former one."""
    return headers.get(CORRELATION_HEADER) or headers.get(FORMER_CORRELATION_HEADER)


def decode_headers(raw: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """Kafka header values are bytes; ours are UTF-8 text. Undecodable values are kept escaped."""
    return {k: (v or b"").decode("utf-8", "backslashreplace") for k, v in raw}
