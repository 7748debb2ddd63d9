"""The one backoff every retry in meldespiegel waits by: a handler's next attempt, an SMTP
relay's next try, the local supervisor's next restart. No dependencies, so the supervisor script
can import it too."""

from __future__ import annotations

MAX_DOUBLINGS = 30  # an outage may last thousands of attempts; 2**30 × any first delay is plenty


def backoff(first_s: float, attempt: int, ceiling_s: float) -> float:
    """The delay before retry number `attempt` (1 for the first): `first_s`, doubled with each
    retry, at most `ceiling_s`."""
    return min(first_s * 2 ** min(max(attempt, 1) - 1, MAX_DOUBLINGS), ceiling_s)
