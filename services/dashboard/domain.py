"""The dashboard's read model, free of I/O: what the operators' live page shows, folded from the
log, metrics and review topics. It holds no personal data: the metrics and alerts carry tenants
and pseudonyms only, and reviews are shown by application id and authority."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from shared.contract.topics import Topics, by_name

MINUTES_SHOWN = 30
MINUTES_KEPT = 24 * 60  # late metrics for the last day still land in their minute
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
    queries_total: int = 0
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    overdue: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ALERTS_SHOWN))
    # the registration offices' deliveries that need attention (delivery_monitor)
    delivery_alerts: deque[dict[str, Any]] = field(
        default_factory=lambda: deque(maxlen=ALERTS_SHOWN)
    )
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)  # the open ones
    # the registration offices' undecided cases, by a digest of the case id (which names a
    # register record): office, since when, overdue
    office_cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)  # skipped records, by topic
    behind: int = 0  # records on the watched topics not read yet
    version: int = 0

    def apply(self, topic: str, body: dict[str, Any] | None) -> bool:
        """Folds one event in; False (and counted) for a record the page cannot read. A handler
        checks the whole event before it changes anything, so a bad one leaves no trace."""
        handler = _HANDLERS.get(topic)
        if handler is None:
            return False
        try:
            if body is None:
                raise ValueError("not a JSON object")
            # the topic's schema first: the handlers then see the types the contract promises
            handler(self, by_name(topic).event.model_validate(body).model_dump(mode="json"))
        except Exception:  # the topics' own consumers dead-letter bad events; the page skips them
            self.unreadable[topic] = self.unreadable.get(topic, 0) + 1
            self.version += 1
            return False
        self.version += 1
        return True

    def set_dead_letters(self, sizes: dict[str, int]) -> None:
        if sizes != self.dead_letters:
            self.dead_letters = dict(sizes)
            self.version += 1

    def set_behind(self, records: int) -> None:
        if records != self.behind:
            self.behind = records
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
            "queries_total": self.queries_total,
            "pending_reviews": sorted(self.pending.values(), key=lambda p: p["since"]),
            "overdue": sorted(self.overdue.values(), key=lambda p: p["since"]),
            "alerts": list(reversed(self.alerts)),
            "delivery_alerts": list(reversed(self.delivery_alerts)),
            "open_cases": sorted(self.cases.values(), key=lambda c: c["opened_at"]),
            "worklists": _worklists(self.office_cases.values()),
            "dead_letters": dict(sorted(self.dead_letters.items())),
            "unreadable": dict(sorted(self.unreadable.items())),
            "behind": self.behind,
        }

    # -- checkpoint: what a restart starts from ------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        return {
            "minutes": {k: asdict(m) for k, m in self.minutes.items()},
            "queries_total": self.queries_total,
            "pending": self.pending,
            "overdue": self.overdue,
            "alerts": list(self.alerts),
            "delivery_alerts": list(self.delivery_alerts),
            "cases": self.cases,
            "office_cases": self.office_cases,
            "unreadable": self.unreadable,
        }

    @classmethod
    def restored(cls, state: dict[str, Any]) -> Dashboard:
        """The fold a checkpoint holds; raises (KeyError, TypeError, ValueError) if it is not
        one, and the caller reads from the beginning instead."""
        d = cls(
            minutes={k: Minute(**m) for k, m in state["minutes"].items()},
            queries_total=int(state["queries_total"]),
            pending=dict(state["pending"]),
            overdue=dict(state["overdue"]),
            unreadable={k: int(v) for k, v in state["unreadable"].items()},
        )
        d.alerts.extend(state["alerts"])
        d.delivery_alerts.extend(state.get("delivery_alerts", []))  # older checkpoints: none
        d.cases.update(state.get("cases", {}))
        d.office_cases.update(state.get("office_cases", {}))
        return d


def _metrics(d: Dashboard, body: dict[str, Any]) -> None:
    key = datetime.fromisoformat(body["minute"]).strftime("%Y-%m-%d %H:%M")
    counts = {kind: int(body["counts"].get(kind, 0)) for kind in KINDS}
    total = int(body["total"])
    p50, p95, p99 = (float(body[f"latency_ms_{p}"]) for p in ("p50", "p95", "p99"))
    m = d.minutes.setdefault(key, Minute())
    for kind in KINDS:
        m.counts[kind] += counts[kind]
    m.total += total
    d.queries_total += total
    m.weighted_p50 += p50 * total
    m.p95 = max(m.p95, p95)
    m.p99 = max(m.p99, p99)
    if len(d.minutes) > MINUTES_KEPT:
        for old in sorted(d.minutes)[:-MINUTES_KEPT]:
            del d.minutes[old]


def _alert(d: Dashboard, body: dict[str, Any]) -> None:
    fields = ("rule", "tenant_id", "user_ref", "observed", "threshold", "window", "raised_at")
    d.alerts.append({k: body[k] for k in fields})


def _delivery_alert(d: Dashboard, body: dict[str, Any]) -> None:
    d.delivery_alerts.append(
        {
            "gemeindeschluessel": body["absender"]["gemeindeschluessel"],
            "office": body["absender"]["name"],
            "kind": body["kind"],
            "detail": body["detail"],
            "raised_at": body["raised_at"],
        }
    )


def _case(d: Dashboard, body: dict[str, Any]) -> None:
    if body["status"] == "closed":
        d.cases.pop(body["case_id"], None)
        return
    d.cases[body["case_id"]] = {
        "case_id": body["case_id"],
        "tenant_id": body["tenant_id"],
        "rule": body["alert"]["rule"],
        "status": body["status"],
        "steps": [s["action"] for s in body["steps"]],
        "opened_at": body["opened_at"],
    }


def _office_case(d: Dashboard, body: dict[str, Any]) -> None:
    key = hashlib.sha256(body["case_id"].encode()).hexdigest()[:24]
    if body["status"] != "open":  # decided: off the worklist
        d.office_cases.pop(key, None)
        return
    d.office_cases[key] = {
        "gemeindeschluessel": body["gemeindeschluessel"],
        "opened_at": body["opened_at"],
        "overdue": body["overdue_since"] is not None,
    }


def _worklists(cases: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per office: undecided cases, how many are overdue, since when the oldest waits."""
    offices: dict[str, dict[str, Any]] = {}
    for c in cases:
        o = offices.setdefault(
            c["gemeindeschluessel"],
            {"gemeindeschluessel": c["gemeindeschluessel"], "open": 0, "overdue": 0,
             "oldest": c["opened_at"]},
        )  # fmt: skip
        o["open"] += 1
        o["overdue"] += int(c["overdue"])
        o["oldest"] = min(o["oldest"], c["opened_at"])
    return sorted(offices.values(), key=lambda o: o["oldest"])


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
    Topics.REGISTER_DELIVERY_ALERTS.name: _delivery_alert,
    Topics.CASE_STATE.name: _case,
    Topics.OFFICE_CASE.name: _office_case,
    Topics.REVIEW_PENDING_MANUAL.name: _pending,
    Topics.REVIEW_OVERDUE.name: _overdue,
    Topics.REVIEW_DECIDED.name: _decided,
}
WATCHED = tuple(_HANDLERS)
