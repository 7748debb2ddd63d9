"""Integration tests run against the stack `scripts/test` starts (real Kafka and PostgreSQL);
without it they fail with a message saying so, they never skip."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.helpers import AUTOMATIC_DECISIONS, ROOT, ServiceProcess, database_url, stop_all

ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
async def db() -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url())
    try:
        yield conn
    finally:
        await conn.close()


def run_services(artifacts: Path, module: str, *names: str) -> Iterator[list[ServiceProcess]]:
    procs = [
        ServiceProcess(
            f"services.{name}", artifacts / f"{name}-{module}.log", AUTOMATIC_DECISIONS
        ).start()
        for name in names
    ]
    yield procs
    stop_all(procs)


@pytest.fixture(scope="module")
def intake_process(artifacts: Path, request: pytest.FixtureRequest) -> Iterator[ServiceProcess]:
    """One intake process for a test module, stopped with SIGTERM afterwards."""
    for procs in run_services(artifacts, request.module.__name__, "intake"):
        yield procs[0]


@pytest.fixture(scope="module")
def lifecycle_processes(
    artifacts: Path, request: pytest.FixtureRequest
) -> Iterator[list[ServiceProcess]]:
    """The access-lifecycle services as processes for a test module."""
    yield from run_services(artifacts, request.module.__name__, "intake", "legal_review")
