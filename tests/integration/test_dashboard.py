"""The operators' live page in a real headless Chromium (Debian's, driven by Playwright): it shows
the figures of the traffic this test produced and updates when new events arrive, without a
reload. The test keeps a screenshot in tests/artifacts/dashboard.png."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from shared.contract.topics import Topics
from tests.helpers import RawProducer, ServiceProcess, eventually, headers_for, stop_all
from tests.hostile import sample
from tests.retrieval import publish
from tests.smtp import free_port

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
# the probe flags this machine needs: no sandbox as root, no background network
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def metrics(minute: str, total: int, p99: float) -> dict[str, Any]:
    return {
        "tenant_id": "T-dashboard",
        "minute": minute,
        "counts": {"eindeutig": total - 2, "neutral": 1, "abgelehnt": 1},
        "total": total,
        "latency_ms_p50": 35.0,
        "latency_ms_p95": 80.0,
        "latency_ms_p99": p99,
        "latency_ms_max": p99 + 10,
    }


async def text(page: Page, selector: str) -> str:
    return (await page.text_content(selector)) or ""


async def test_live_page_shows_and_updates_the_figures(artifacts: Path) -> None:
    port = free_port()
    run = uuid.uuid4().hex[:8]
    dashboard = ServiceProcess(
        "services.dashboard",
        artifacts / "dashboard.log",
        {
            "MELDESPIEGEL_DASHBOARD_PORT": str(port),
            "MELDESPIEGEL_DASHBOARD_DLQ_SECONDS": "1",
            "MELDESPIEGEL_DASHBOARD_READER": f"dashboard-page-test-{run}",  # no checkpoint yet
        },
    ).start()
    application_id = f"DASH-{run}"
    user_ref = f"ref{run}"
    try:
        async with RawProducer() as producer:
            # a minute later than any real traffic, so that it is the page's latest
            await publish(
                producer,
                Topics.PROTOCOL_METRICS.name,
                metrics("2099-12-31T23:58:00+00:00", 7, 240.0),
                "T-dashboard",
            )
            await publish(
                producer,
                Topics.PROTOCOL_ALERTS.name,
                {
                    "alert_id": run,
                    "rule": "night_burst",
                    "tenant_id": "T-dashboard",
                    "user_ref": user_ref,
                    "observed": 20,
                    "threshold": 20,
                    "window": "10min",
                    "text": "Eine Kennung hat nachts viele Abrufe in kurzer Zeit gestellt.",
                    "raised_at": "2099-12-31T23:58:30+00:00",
                },
                "T-dashboard",
            )
            await publish(
                producer,
                Topics.REVIEW_PENDING_MANUAL.name,
                {
                    "application_id": application_id,
                    "authority_name": "Zweckverband Leine",
                    "needed": [{"code": "OTHER_PUBLIC_BODY", "text": "…", "provisions": []}],
                    "pending_since": "2099-12-31T20:00:00+00:00",
                },
                application_id,
            )
            await producer.send(
                Topics.QUERY_REQUESTED.dlq,
                b"dead",
                key=run,
                headers=headers_for(Topics.QUERY_REQUESTED.event_type),
            )

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/health")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, "the dashboard reads its topics")
            state = (await http.get("/state")).json()
            assert "kennung" not in json.dumps(state)

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            await page.goto(f"http://127.0.0.1:{port}/")

            async def shows(selector: str, wanted: str) -> bool:
                return wanted in await text(page, selector)

            await eventually(lambda: shows("#last-minute", "7"), "the injected minute")
            assert await text(page, "#last-p99") == "240"
            await eventually(lambda: shows("#alerts", user_ref), "the alert")
            await eventually(lambda: shows("#pending", application_id), "the pending review")
            assert int(await text(page, "#pending-count")) >= 1
            await eventually(
                lambda: page.evaluate(
                    "Number(document.getElementById('dlq-total').textContent) >= 1"
                ),
                "the dead letter counted",
            )
            await eventually(
                lambda: page.evaluate("document.getElementById('behind').textContent === '0'"),
                "the page says it has read everything",
            )
            assert (await text(page, "#unreadable")).isdigit()
            first_row = await text(page, "#minutes tbody tr:first-child")
            assert "2099-12-31 23:58" in first_row
            version = await page.evaluate("document.body.dataset.version")

            # new events arrive: the open page follows without a reload
            async with RawProducer() as producer:
                await publish(
                    producer,
                    Topics.PROTOCOL_METRICS.name,
                    metrics("2099-12-31T23:59:00+00:00", 11, 480.0),
                    "T-dashboard",
                )
                decided = sample(Topics.REVIEW_DECIDED)  # a whole decision: the page checks
                decided["application_id"] = application_id
                decided["application"]["application_id"] = application_id
                await publish(producer, Topics.REVIEW_DECIDED.name, decided, application_id)
            await eventually(lambda: shows("#last-minute", "11"), "the page updated live")
            assert await text(page, "#last-p99") == "480"
            assert "2099-12-31 23:59" in await text(page, "#minutes tbody tr:first-child")
            await eventually(
                lambda: page.evaluate(
                    f"!document.getElementById('pending').textContent.includes('{application_id}')"
                ),
                "the decided review leaves the list",
            )
            assert await page.evaluate("document.body.dataset.version") != version
            await page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)
            await browser.close()
    finally:
        stop_all([dashboard])
