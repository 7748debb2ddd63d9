"""Integration tests run against the stack `scripts/test` starts (real Kafka and PostgreSQL);
without it they fail with a message saying so, they never skip."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.helpers import ROOT, ServiceProcess, database_url

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


@pytest.fixture(scope="module")
def intake_process(artifacts: Path, request: pytest.FixtureRequest) -> Iterator[ServiceProcess]:
    """One intake process for a test module, stopped with SIGTERM afterwards."""
    proc = ServiceProcess("services.intake", artifacts / f"intake-{request.module.__name__}.log")
    proc.start()
    yield proc
    code = proc.stop()
    assert code == 0, f"intake exited with {code}:\n{proc.log_text()[-3000:]}"
