"""The dashboard's worklists of the registration offices (§ 34a Abs. 5 BMG): per office the
undecided cases, the overdue ones and the oldest, with no record reference kept or shown, and the
same after a restart from the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.dashboard.domain import Dashboard
from shared.contract.topics import Topics

SAMPLE = Path(__file__).parents[1] / "contract" / "samples" / "de.meldespiegel.office.case.v1.json"


def case(case_id: str, ags: str, status: str, opened: str, overdue: bool = False) -> dict[str, Any]:
    body = json.loads(SAMPLE.read_text("utf-8"))
    return body | {
        "case_id": case_id,
        "gemeindeschluessel": ags,
        "status": status,
        "opened_at": opened,
        "overdue_since": "2026-12-08T09:00:00+00:00" if overdue else None,
    }


def test_offices_with_undecided_cases_and_nothing_that_names_a_record() -> None:
    d = Dashboard()
    events = [
        case("03-A/OM1", "03241001", "open", "2026-12-05T08:00:00+00:00"),
        case("03-B/OM2", "03241001", "open", "2026-12-01T08:00:00+00:00", overdue=True),
        case("03-C/OM3", "03101000", "open", "2026-12-04T08:00:00+00:00"),
        case("03-C/OM3", "03101000", "released", "2026-12-04T08:00:00+00:00"),
    ]
    assert all(d.apply(Topics.OFFICE_CASE.name, e) for e in events)
    shown = d.snapshot()["worklists"]
    assert shown == [
        {"gemeindeschluessel": "03241001", "open": 2, "overdue": 1,
         "oldest": "2026-12-01T08:00:00Z"},
    ]  # fmt: skip
    kept = json.dumps(d.checkpoint())
    assert "OM1" not in kept
    assert "Meyer" not in kept  # the handover's criteria are not kept
    assert Dashboard.restored(json.loads(kept)).snapshot()["worklists"] == shown
