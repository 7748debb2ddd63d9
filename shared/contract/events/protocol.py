"""protocol_log's outputs besides the released answers: entries handed to self-logging security
authorities, and the figures and alerts for dashboards (which carry no personal data)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from shared.contract.events.base import Event


class SelfLogEntry(Event):
    """`min.protocol.self-logging.v1`: a security authority that logs itself (§ 40 Abs. 3 BMG)
    receives its entry here; the operator keeps none."""

    tenant_id: str
    vorgangsnummer: str
    entry: dict[str, Any]
    handed_over_at: datetime


class AnswerCounts(Event):
    eindeutig: int = 0  # 01
    trefferliste: int = 0  # 02
    neutral: int = 0  # 03
    ergebnisliste: int = 0  # 04
    abgelehnt: int = 0  # refused or technical error


class ProtocolMetrics(Event):
    """`min.protocol.metrics.v1`: one tenant's released answers in one minute."""

    tenant_id: str
    minute: datetime
    counts: AnswerCounts
    total: int
    latency_ms_p50: float
    latency_ms_p95: float
    latency_ms_p99: float
    latency_ms_max: float


class AlertRule(StrEnum):
    REPEATED_SUBJECT = "repeated_subject"  # one user, the same person, many times
    NIGHT_BURST = "night_burst"  # many queries by one user at night
    VOLUME_ABOVE_USUAL = "volume_above_usual"  # a user's day far above their own average


class ProtocolAlert(Event):
    """`min.protocol.alerts.v1`: an evaluation rule fired. The user appears only as a pseudonym;
    who it is can be established from the log, with a stated purpose."""

    alert_id: str
    rule: AlertRule
    tenant_id: str
    user_ref: str = Field(description="keyed hash of tenant and user Kennung")
    observed: int
    threshold: int
    window: str
    text: str
    raised_at: datetime


class Zweck(StrEnum):
    """The only purposes a log may be read for (§ 40 Abs. 5 BMG, § 3 Abs. 2 Nr. 3 PortalV)."""

    DATENSCHUTZKONTROLLE = "datenschutzkontrolle"
    STRAFVERFAHREN = "strafverfahren"  # criminal proceedings arising from the control
    BETRIEBSSICHERUNG = "betriebssicherung"
    AUSKUNFT_BETROFFENE = "auskunft_betroffene"
