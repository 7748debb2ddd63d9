"""What operators do on the running system, as an audit trail operators and auditors can read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.contract.events.base import Event


class Redriven(Event):
    """`min.operator.redriven.v1`: a dead letter published back to its original topic."""

    dead_letter: str = Field(description="<dlq topic>/<partition>/<offset> of the dead letter")
    dlq_topic: str
    original_topic: str
    event_id: str | None = Field(None, description="ce_id of the redriven event")
    error_type: str | None = Field(None, description="why it was dead-lettered")
    operator: str = Field(min_length=1)
    redriven_at: datetime


class DashboardCheckpoint(Event):
    """`min.dashboard.checkpoint.v1`: the dashboard's fold of its topics and how far it had read,
    so that a restart reads on from there instead of from a year of records."""

    reader: str = Field(min_length=1, description="which dashboard wrote it (the compaction key)")
    positions: dict[str, int] = Field(description="next offset to read, by `<topic>/<partition>`")
    state: dict[str, Any] = Field(description="the page's read model (services/dashboard)")
    written_at: datetime
