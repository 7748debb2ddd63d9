"""The dashboard's read model, free of I/O: what the operators' live page shows, folded from the
log, metrics and review topics. It holds no personal data: the metrics and alerts carry tenants
and pseudonyms only, and reviews are shown by application id and authority."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.topics import Topics

MINUTES_SHOWN = 30
ALERTS_SHOWN = 20
KINDS = ("eindeutig", "trefferliste", "neutral", "ergebnisliste", "abgelehnt")


@dataclass
class Minute:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    weighted_p50: float = 0.0  # sum of p50 × total, for the mean over tenants
    total: int = 0
    p95: float = 0.0  # the worst tenant's
    p99: float = 0.0


@dataclass
class Dashboard:
    minutes: dict[str, Minute] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    overdue: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ALERTS_SHOWN))
    dead_letters: dict[str, int] = field(default_factory=dict)
    version: int = 0

    def apply(self, topic: str, body: dict[str, Any]) -> None:
        """Folds one event in; unknown or malformed events change nothing."""
        try:
            handler = _HANDLERS[topic]
        except KeyError:
            return
        try:
            handler(self, body)
        except (KeyError, TypeError, ValueError):
            return  # the topics' own consumers dead-letter bad events; the page just skips them
        self.version += 1

    def set_dead_letters(self, sizes: dict[str, int]) -> None:
        if sizes != self.dead_letters:
            self.dead_letters = dict(sizes)
            self.version += 1

    def snapshot(self) -> dict[str, Any]:
        minutes = sorted(self.minutes)[-MINUTES_SHOWN:]
        series = []
        for key in minutes:
            m = self.minutes[key]
            series.append(
                {
                    "minute": key,
                    **m.counts,
                    "total": m.total,
                    "p50": round(m.weighted_p50 / m.total, 1) if m.total else 0.0,
                    "p95": m.p95,
                    "p99": m.p99,
                }
            )
        return {
            "version": self.version,
            "minutes": series,
            "queries_total": sum(m.total for m in self.minutes.values()),
            "pending_reviews": sorted(self.pending.values(), key=lambda p: p["since"]),
            "overdue": sorted(self.overdue.values(), key=lambda p: p["since"]),
            "alerts": list(reversed(self.alerts)),
            "dead_letters": dict(sorted(self.dead_letters.items())),
        }


def _metrics(d: Dashboard, body: dict[str, Any]) -> None:
    key = datetime.fromisoformat(body["minute"]).strftime("%Y-%m-%d %H:%M")
    m = d.minutes.setdefault(key, Minute())
    for kind in KINDS:
        m.counts[kind] += int(body["counts"].get(kind, 0))
    total = int(body["total"])
    m.total += total
    m.weighted_p50 += float(body["latency_ms_p50"]) * total
    m.p95 = max(m.p95, float(body["latency_ms_p95"]))
    m.p99 = max(m.p99, float(body["latency_ms_p99"]))


def _alert(d: Dashboard, body: dict[str, Any]) -> None:
    d.alerts.append(
        {
            k: body[k]
            for k in (
                "rule",
                "tenant_id",
                "user_ref",
                "observed",
                "threshold",
                "window",
                "raised_at",
            )
        }
    )


def _pending(d: Dashboard, body: dict[str, Any]) -> None:
    d.pending[body["application_id"]] = {
        "application_id": body["application_id"],
        "authority": body["authority_name"],
        "needed": [n["code"] for n in body["needed"]],
        "since": body["pending_since"],
    }


def _overdue(d: Dashboard, body: dict[str, Any]) -> None:
    d.overdue[body["application_id"]] = {
        "application_id": body["application_id"],
        "level": body["level"],
        "waiting_for": body["waiting_for"],
        "since": body["pending_since"],
    }


def _decided(d: Dashboard, body: dict[str, Any]) -> None:
    d.pending.pop(body["application_id"], None)
    d.overdue.pop(body["application_id"], None)


_HANDLERS = {
    Topics.PROTOCOL_METRICS.name: _metrics,
    Topics.PROTOCOL_ALERTS.name: _alert,
    Topics.REVIEW_PENDING_MANUAL.name: _pending,
    Topics.REVIEW_OVERDUE.name: _overdue,
    Topics.REVIEW_DECIDED.name: _decided,
}
WATCHED = tuple(_HANDLERS)
