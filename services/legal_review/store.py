"""Persistence of review cases, logging commissions and manual decisions (schema `legal_review`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import asyncpg

from services.legal_review.domain import DECIDED, Ergebnis, Pruefung, Unterschrift
from shared.contract.events.application import CompleteApplication
from shared.contract.events.review import Auflage, Begruendung, Datenumfang, Entscheidung


@dataclass(frozen=True)
class Case:
    application: CompleteApplication
    status: str
    reasons: list[Begruendung]
    pending_since: datetime | None
    reminded_at: datetime | None
    escalated_at: datetime | None
    recommendation: Pruefung | None = None  # the rules' outcome, while it waits for signatures
    signatures: tuple[Unterschrift, ...] = ()


def recommendation_json(r: Pruefung | None) -> str | None:
    if r is None:
        return None
    return json.dumps({
        "result": r.result.value, "reasons": [x.model_dump() for x in r.reasons],
        "conditions": [c.model_dump() for c in r.conditions],
        "data_scope": r.data_scope.value if r.data_scope else None,
    })  # fmt: skip


def recommendation_of(raw: str | None) -> Pruefung | None:
    if raw is None:
        return None
    r = json.loads(raw)
    return Pruefung(
        Ergebnis(r["result"]),
        [Begruendung.model_validate(x) for x in r["reasons"]],
        [Auflage.model_validate(c) for c in r["conditions"]],
        Datenumfang(r["data_scope"]) if r["data_scope"] else None,
    )


def signatures_json(signatures: tuple[Unterschrift, ...]) -> str:
    return json.dumps(
        [{"operator_id": s.operator_id, "decision": s.decision.value, "reason": s.reason}
         for s in signatures]
    )  # fmt: skip


def signatures_of(raw: str) -> tuple[Unterschrift, ...]:
    return tuple(
        Unterschrift(s["operator_id"], Entscheidung(s["decision"]), s["reason"])
        for s in json.loads(raw)
    )


class Reviews(Protocol):
    """What legal_review keeps: review cases, logging commissions, manual decisions (the fast
    tier's fake is `tests/fakes/legal_review.py`)."""

    async def case(self, application_id: str, *, lock: bool = False) -> Case | None: ...
    async def save(
        self,
        app: CompleteApplication,
        status: str,
        reasons: list[Begruendung],
        now: datetime,
        decided_by: str | None = None,
        recommendation: Pruefung | None = None,
        signatures: tuple[Unterschrift, ...] = (),
    ) -> None: ...
    async def commission(self, application_id: str) -> str | None: ...
    async def add_commission(
        self,
        application_id: str,
        reference: str,
        commissioned_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> None: ...
    async def log_manual_decision(
        self,
        application_id: str,
        operator_id: str,
        decision: str,
        reason: str,
        outcome: str,
        now: datetime,
    ) -> None: ...
    async def open_cases(self) -> list[Case]: ...
    async def mark_overdue(self, application_id: str, level: str, now: datetime) -> None: ...


class ReviewStore:
    """Works inside the caller's transaction."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def case(self, application_id: str, *, lock: bool = False) -> Case | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM review_case WHERE application_id = $1" + (" FOR UPDATE" if lock else ""),
            application_id,
        )
        return _case(row) if row else None

    async def save(
        self,
        app: CompleteApplication,
        status: str,
        reasons: list[Begruendung],
        now: datetime,
        decided_by: str | None = None,
        recommendation: Pruefung | None = None,
        signatures: tuple[Unterschrift, ...] = (),
    ) -> None:
        decided = Ergebnis(status) in DECIDED
        await self.conn.execute(
            """INSERT INTO review_case (application_id, status, application, reasons, received_at,
                   pending_since, decided_at, decided_by, recommendation, signatures)
               VALUES ($1, $2, $3, $4, $5::timestamptz,
                       CASE WHEN $6::boolean THEN NULL ELSE $5::timestamptz END,
                       CASE WHEN $6::boolean THEN $5::timestamptz END, $7, $8, $9)
               ON CONFLICT (application_id) DO UPDATE SET
                   status = EXCLUDED.status, reasons = EXCLUDED.reasons,
                   pending_since = CASE WHEN $6::boolean THEN NULL
                       ELSE coalesce(review_case.pending_since, $5::timestamptz) END,
                   decided_at = EXCLUDED.decided_at, decided_by = EXCLUDED.decided_by,
                   recommendation = EXCLUDED.recommendation, signatures = EXCLUDED.signatures""",
            app.application_id,
            status,
            app.model_dump_json(),
            json.dumps([r.model_dump() for r in reasons]),
            now,
            decided,
            decided_by,
            recommendation_json(recommendation),
            signatures_json(signatures),
        )

    async def commission(self, application_id: str) -> str | None:
        return await self.conn.fetchval(
            "SELECT reference FROM logging_commission WHERE application_id = $1", application_id
        )

    async def add_commission(
        self,
        application_id: str,
        reference: str,
        commissioned_at: datetime,
        recorded_by: str,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            """INSERT INTO logging_commission (application_id, reference, commissioned_at,
                   recorded_by, received_at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (application_id) DO UPDATE SET reference = EXCLUDED.reference,
                   commissioned_at = EXCLUDED.commissioned_at,
                   recorded_by = EXCLUDED.recorded_by, received_at = EXCLUDED.received_at""",
            application_id,
            reference,
            commissioned_at,
            recorded_by,
            now,
        )

    async def log_manual_decision(
        self,
        application_id: str,
        operator_id: str,
        decision: str,
        reason: str,
        outcome: str,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            """INSERT INTO manual_decision (application_id, operator_id, decision, reason, outcome,
                   at) VALUES ($1, $2, $3, $4, $5, $6)""",
            application_id,
            operator_id,
            decision,
            reason,
            outcome,
            now,
        )

    async def open_cases(self) -> list[Case]:
        rows = await self.conn.fetch(
            """SELECT * FROM review_case WHERE status NOT IN ('approved', 'rejected')
               ORDER BY pending_since FOR UPDATE SKIP LOCKED"""
        )
        return [_case(r) for r in rows]

    async def mark_overdue(self, application_id: str, level: str, now: datetime) -> None:
        column = {"reminder": "reminded_at", "escalation": "escalated_at"}[level]
        await self.conn.execute(
            f"UPDATE review_case SET {column} = $2 WHERE application_id = $1", application_id, now
        )


def _case(row: asyncpg.Record) -> Case:
    return Case(
        application=CompleteApplication.model_validate_json(row["application"]),
        status=row["status"],
        reasons=[Begruendung.model_validate(r) for r in json.loads(row["reasons"])],
        pending_since=row["pending_since"],
        reminded_at=row["reminded_at"],
        escalated_at=row["escalated_at"],
        recommendation=recommendation_of(row["recommendation"]),
        signatures=signatures_of(row["signatures"]),
    )
