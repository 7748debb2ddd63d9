"""A municipality that goes silent raises an alert, on the real stack: Mainz (07, a register no
other test runs) delivers once to its register, then nothing; delivery_monitor, told to expect a
delivery every few seconds instead of every day (NMeldVO 2022 § 23 Abs. 2), raises
`ausgeblieben` once, and `meldespiegel deliveries` shows the office's log with the alert."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.contract.topics import Topics
from tests.helpers import (
    RawProducer,
    ServiceProcess,
    cli,
    cli_ok,
    read_all,
    skip_backlog,
    stop_all,
)
from tests.retrieval import deliver, delivery, delivery_log, person, token

pytestmark = pytest.mark.integration
MAINZ = ("07315000", "Mainz", "55116")
GAP_S = 6


@pytest.fixture(scope="module")
def monitored(artifacts: Path) -> Iterator[list[ServiceProcess]]:
    skip_backlog("delivery_monitor", "register_mirror_07")
    procs = [
        ServiceProcess(
            "services.register_mirror",
            artifacts / "register-07-monitored.log",
            {"MELDESPIEGEL_REGISTER_STATE": "07"},
        ).start(),
        ServiceProcess(
            "services.delivery_monitor",
            artifacts / "delivery-monitor.log",
            {
                "MELDESPIEGEL_DELIVERY_MAX_GAP_HOURS": str(GAP_S / 3600),
                "MELDESPIEGEL_DELIVERY_CHECK_SECONDS": "1",
            },
        ).start(),
    ]
    yield procs
    stop_all(procs)


async def test_a_silent_municipality_raises_an_alert_once(
    monitored: list[ServiceProcess],
) -> None:
    d = delivery(MAINZ, [person(f"M{token()}", f"Schmitt{token()}", ["Eva"], "19700101", MAINZ)])
    async with RawProducer() as producer:
        await deliver(producer, d)
    [entry] = await delivery_log({d["delivery_id"]})
    assert entry["status"] == "applied"

    def alerted(records: list) -> bool:
        return any(r.key == MAINZ[0] and r.json()["kind"] == "ausgeblieben" for r in records)

    alerts = await read_all(Topics.REGISTER_DELIVERY_ALERTS.name, until=alerted, deadline_s=60)
    mine = [r.json() for r in alerts if r.key == MAINZ[0]]
    assert [a["kind"] for a in mine] == ["ausgeblieben"]
    assert "§ 23 Abs. 2 NMeldVO" in mine[0]["detail"]
    assert mine[0]["absender"]["name"] == "Stadt Mainz"

    shown = json.loads(cli_ok(cli("deliveries", MAINZ[0], "-o", "json")))
    delivered = [r for r in shown if r["detail"] == d["delivery_id"]]
    assert [(r["what"], r["records"], r["status"]) for r in delivered] == [
        ("aenderung 1/1", 1, "applied")
    ]
    assert [r["what"] for r in shown if r["status"] == "alert"] == ["alert: ausgeblieben"]
    table = cli_ok(cli("deliveries", MAINZ[0]))
    assert "alert: ausgeblieben" in table
