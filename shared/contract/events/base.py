"""The one base of every event schema."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """v1 topics evolve additively: a consumer ignores fields it does not know yet. Text is taken
    without surrounding white space."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
