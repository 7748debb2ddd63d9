"""What operators do on the running system, as an audit trail operators and auditors can read."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Redriven(BaseModel):
    """`min.operator.redriven.v1`: a dead letter published back to its original topic."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    dead_letter: str = Field(description="<dlq topic>/<partition>/<offset> of the dead letter")
    dlq_topic: str
    original_topic: str
    event_id: str | None = Field(None, description="ce_id of the redriven event")
    error_type: str | None = Field(None, description="why it was dead-lettered")
    operator: str = Field(min_length=1)
    redriven_at: datetime
