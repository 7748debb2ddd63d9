"""`scripts/run` as a developer starts it: every process of the list comes up; one killed with
SIGKILL is started again while the others keep running, and so is one restarted by hand
(`scripts/run restart NAME`); demo answers keep coming. Ctrl-C stops what the run started (its
broker) and leaves what was running before it: the PostgreSQL cluster and the test broker this
suite runs on."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.helpers import ROOT, database_url, eventually

pytestmark = pytest.mark.integration
STATE = ROOT / ".local" / "run-dev"
DEV_KAFKA_PORT = 9092


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def entries() -> list[str]:
    lines = (ROOT / "deploy" / "local" / "Procfile").read_text().splitlines()
    return [line.split(":", 1)[0] for line in lines if line.strip() and not line.startswith("#")]


def pids() -> dict[str, int]:
    out = {}
    for f in STATE.glob("*.pid"):
        try:
            out[f.stem] = int(f.read_text())
        except ValueError:
            continue  # being written
    return out


def unbidden_exits(text: str) -> list[str]:
    """The supervisor's lines for processes that ended by themselves (a crash, a failed start),
    not the one this test killed."""
    return [
        line
        for line in text.splitlines()
        if "[run] " in line and " exited (" in line and "register_ni exited (signal 9)" not in line
    ]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def local_run(artifacts: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    if port_open(DEV_KAFKA_PORT):
        pytest.fail("a broker already listens on 127.0.0.1:9092; this test starts its own there")
    log = artifacts / "scripts-run.log"
    # the developer's environment, not this suite's stack
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MELDESPIEGEL_") and k != "DATABASE_URL"
    }
    env["MELDESPIEGEL_DEMO_PERSONS"] = "3000"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the whole run, as from a terminal
        )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


async def test_a_killed_process_comes_back_and_ctrl_c_stops_only_what_the_run_started(
    local_run: tuple[subprocess.Popen[bytes], Path],
) -> None:
    proc, log = local_run
    names = entries()

    def all_up() -> dict[str, int] | None:
        assert proc.poll() is None, f"scripts/run ended:\n{log.read_text()[-3000:]}"
        running = pids()
        return running if set(names) <= set(running) else None

    before = await eventually(all_up, "every process of the list started", 300)

    # SIGKILL one service: it is started again, the others keep their processes
    os.kill(before["register_ni"], signal.SIGKILL)

    def register_back() -> int | None:
        now = pids().get("register_ni")
        return now if now and now != before["register_ni"] and alive(now) else None

    await eventually(register_back, "register_ni started again", 60)
    text = log.read_text()
    assert "register_ni exited (signal 9)" in text
    assert "register_ni restarted" in text
    others = {n: p for n, p in before.items() if n != "register_ni"}
    assert {n: p for n, p in pids().items() if n in others} == others
    assert all(alive(p) for p in others.values())

    # a restart by hand
    restarted = await asyncio.to_thread(
        subprocess.run,
        ["bash", "scripts/run", "restart", "query_router"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert restarted.returncode == 0, restarted.stderr
    await eventually(
        lambda: pids().get("query_router") not in (None, before["query_router"]),
        "query_router restarted by hand",
        60,
    )
    assert "query_router stopped" in log.read_text()

    # the demo's answers keep coming through the restarted register and router
    lines_before = len(log.read_text().splitlines())

    def new_answer() -> bool:
        text = log.read_text()
        assert not unbidden_exits(text), f"a process exited on its own:\n{text[-6000:]}"
        fresh = text.splitlines()[lines_before:]
        return any(" queries " in line and "✉" in line for line in fresh)

    try:
        await eventually(new_answer, "a demo answer after the restarts", 240)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{log.read_text()[-6000:]}") from None

    assert not unbidden_exits(log.read_text())

    # Ctrl-C: the run's own broker stops, the suite's database and broker stay
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=120) in (0, 130, -signal.SIGINT)
    assert not port_open(DEV_KAFKA_PORT)
    conn = await asyncpg.connect(database_url())
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
    assert port_open(int(os.environ["MELDESPIEGEL_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1]))
    assert "PostgreSQL was running before: left running" in log.read_text()
