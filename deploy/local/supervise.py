"""The local process list's supervisor (what `scripts/run` runs the Procfile with).

    supervise.py run PROCFILE --state DIR     start every entry, restart what exits, until Ctrl-C
    supervise.py restart NAME… --state DIR    restart entries of a running supervisor by hand
    supervise.py status --state DIR           each entry, its pid and whether it runs

- Each entry runs in its own process group; its output is printed line by line behind its name.
- An entry that exits (crashed, killed, stopped by hand) is started again: at once when it was
  restarted by hand, otherwise after a backoff of 1, 2, 4 … 30 s, reset once it has run for a
  minute. Every restart is printed.
- Ctrl-C (or SIGTERM) stops every entry (SIGTERM, SIGKILL after 20 s) and nothing else.
- `DIR/NAME.pid` names each entry's running process; `restart` asks for a restart through
  `DIR/NAME.restart` and stops the process, which the supervisor then starts again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere
from shared.platform.retry import backoff

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0
STOP_GRACE_S = 20.0


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} [run] {text}", flush=True)


def read_procfile(path: Path) -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        entries[name.strip()] = command.strip()
    return entries


@dataclass
class Entry:
    name: str
    command: str
    state: Path
    width: int
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    failures: int = 0  # in a row, for the backoff
    started_at: float = 0.0
    output: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def pidfile(self) -> Path:
        return self.state / f"{self.name}.pid"

    @property
    def by_hand(self) -> Path:
        return self.state / f"{self.name}.restart"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            f"exec {self.command}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its own group: a stop reaches whatever it started
        )
        self.started_at = time.monotonic()
        self.pidfile.write_text(f"{self.proc.pid}\n")
        self.output = asyncio.create_task(self._print())

    async def _print(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        label = self.name.ljust(self.width)
        while line := await self.proc.stdout.readline():
            text = line.decode("utf-8", "replace").rstrip("\n")
            print(f"{time.strftime('%H:%M:%S')} {label} | {text}", flush=True)

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    async def supervise(self, stopping: asyncio.Event) -> None:
        await self.start()
        say(f"{self.name} started (pid {self.proc.pid if self.proc else '?'})")
        while True:
            assert self.proc is not None
            code = await self.proc.wait()
            if self.output is not None:
                await self.output
            self.pidfile.unlink(missing_ok=True)
            if stopping.is_set():
                return
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            if self.by_hand.exists():
                self.by_hand.unlink(missing_ok=True)
                delay = 0.0
                say(f"{self.name} stopped ({how}) for a restart by hand")
            else:
                ran = time.monotonic() - self.started_at
                self.failures = 1 if ran >= STABLE_AFTER_S else self.failures + 1
                delay = backoff(BACKOFF_FIRST_S, self.failures, BACKOFF_MAX_S)
                say(f"{self.name} exited ({how}) after {ran:.0f} s; restarting in {delay:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
            if stopping.is_set():
                return
            await self.start()
            self.restarts += 1
            say(f"{self.name} restarted (pid {self.proc.pid}, restart {self.restarts})")


def prepare(state: Path) -> None:
    """A fresh state directory: pid files of an earlier run name processes that are gone."""
    state.mkdir(parents=True, exist_ok=True)
    for old in [*state.glob("*.pid"), *state.glob("*.restart")]:
        old.unlink()


async def run(procfile: Path, state: Path) -> int:
    entries = read_procfile(procfile)
    width = max(map(len, entries), default=0)
    running = [Entry(name, cmd, state, width) for name, cmd in entries.items()]
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stopping.set)
    tasks = [asyncio.create_task(e.supervise(stopping)) for e in running]
    await stopping.wait()
    say("stopping every process")
    for e in running:
        e.signal(signal.SIGTERM)
    _, pending = await asyncio.wait(tasks, timeout=STOP_GRACE_S)
    for e in running:
        if e.proc is not None and e.proc.returncode is None:
            say(f"{e.name} did not stop in {STOP_GRACE_S:g} s: killed")
            e.signal(signal.SIGKILL)
    if pending:
        await asyncio.wait(pending, timeout=5)
    return 0


def restart(names: list[str], state: Path) -> int:
    status = 0
    for name in names:
        pidfile = state / f"{name}.pid"
        try:
            pid = int(pidfile.read_text())
        except (FileNotFoundError, ValueError):
            print(f"{name}: not running under scripts/run (no {pidfile})", file=sys.stderr)
            status = 1
            continue
        (state / f"{name}.restart").touch()
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            (state / f"{name}.restart").unlink(missing_ok=True)
            print(f"{name}: pid {pid} is gone; scripts/run is restarting it", file=sys.stderr)
            continue
        print(f"{name}: asked to restart (pid {pid} stopped)")
    return status


def status(state: Path) -> int:
    for pidfile in sorted(state.glob("*.pid")):
        pid = int(pidfile.read_text())
        try:
            os.kill(pid, 0)
            alive = "running"
        except ProcessLookupError:
            alive = "gone"
        print(f"{pidfile.stem:<14} pid {pid:<8} {alive}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "restart", "status"])
    parser.add_argument("args", nargs="*")
    parser.add_argument("--state", type=Path, required=True)
    a = parser.parse_args()
    if a.command == "run":
        prepare(a.state)
        return asyncio.run(run(Path(a.args[0]), a.state))
    if a.command == "restart":
        return restart(a.args, a.state)
    return status(a.state)


if __name__ == "__main__":
    raise SystemExit(main())
