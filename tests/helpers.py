"""Test helpers: sample applications, raw publishing, reading topics, service processes."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from shared.contract.envelope import Envelope
from shared.contract.topics import Topics
from shared.platform.kafka_client import KafkaClient, Record

ROOT = Path(__file__).resolve().parent.parent

COMPLETE_APPLICATION: dict[str, Any] = {
    "application_id": "placeholder",
    "received_on": "2026-11-02",
    "intake_channel": "post",
    "access_type": "einfache_behoerdenauskunft",
    "authority": {
        "name": "Landkreis Göttingen, Ordnungsamt",
        "kind": "kommunalverwaltung",
        "state": "03",
    },
    "administrator": {
        "salutation": "frau",
        "first_name": "Jördis",
        "surname": "Weißmüller",
        "email": "joerdis.weissmueller@landkreis-goettingen.example",
        "phone": "+49 551 525-0",
        "office_name": "Ordnungsamt",
        "street_and_number": "Reinhäuser Landstraße 4",
        "postcode": "37083",
        "town": "Göttingen",
    },
    "compliance": {
        "assured": True,
        "measures": "Zugriff nur über das Landesnetz, persönliche Kennungen, jährliche Prüfung.",
    },
    "signature": {
        "head_of_authority_signed": True,
        "official_seal": True,
        "signatory": "Landrätin",
        "signed_on": "2026-10-28",
    },
    "network": {"channel": "landesnetz"},
    "only_administrator_change": False,
}


def application(app_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """A complete application; `changes` use dotted paths ("administrator.email": None)."""
    body = copy.deepcopy(COMPLETE_APPLICATION)
    body["application_id"] = app_id or f"T-{uuid.uuid4().hex[:12]}"
    # distinct authority per application, so that tests do not collide on the duplicate rule
    body["authority"]["name"] = f"Behörde {body['application_id']}"
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        if value is _DELETE:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return body


_DELETE = object()
DELETE: Any = _DELETE


def headers_for(
    event_type: str = Topics.APPLICATION_SUBMITTED.event_type, event_id: str | None = None
) -> list[tuple[str, bytes]]:
    env = Envelope(
        id=event_id or str(uuid.uuid4()),
        source="/tests/upstream",
        type=event_type,
        time=datetime.now(UTC),
    )
    return [(k, v.encode()) for k, v in env.to_headers().items()]


def bootstrap() -> str:
    value = os.environ.get("MELDESPIEGEL_KAFKA_BOOTSTRAP")
    if not value:
        raise RuntimeError("the local test stack is not configured: run scripts/test")
    return value


def database_url() -> str:
    value = os.environ.get("DATABASE_URL")
    if not value:
        raise RuntimeError("the local test stack is not configured: run scripts/test")
    return value


class RawProducer:
    """Publishes as an upstream system would, through the platform's one Kafka client."""

    def __init__(self) -> None:
        self.client = KafkaClient(bootstrap())

    async def __aenter__(self) -> RawProducer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)

    async def send(
        self,
        topic: str,
        value: bytes | dict[str, Any],
        *,
        key: str,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        raw = value if isinstance(value, bytes) else json.dumps(value).encode()
        await self.client.publish(
            topic, raw, key, headers if headers is not None else headers_for()
        )


async def read_all(
    topic: str, *, until: Callable[[list[Record]], bool], deadline_s: float = 90.0
) -> list[Record]:
    """Reads `topic` from the beginning until `until(records)` holds; fails after the deadline
    (a liveness bound, not a timing assertion)."""
    try:
        return await KafkaClient(bootstrap()).read_until(topic, until, deadline_s)
    except TimeoutError as exc:
        raise AssertionError(f"condition not met within {deadline_s}s: {exc}") from None


async def read_to_end(topic: str) -> list[Record]:
    """Every record of `topic` up to its end offsets at the time of the call."""
    return await KafkaClient(bootstrap()).read(topic)


async def eventually(condition: Callable[[], Any], what: str, seconds: float = 90.0) -> Any:
    """Polls `condition` (sync or async) until it is truthy and returns its value; fails naming
    `what` after `seconds`. A liveness bound for asynchronous effects, not a timing."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > end:
            raise AssertionError(f"not within {seconds:g} s: {what}")
        await asyncio.sleep(0.1)


def with_key(key: str) -> Callable[[Record], bool]:
    return lambda r: r.key == key


# legal_review lets the rules' outcome stand unsigned, recorded as automatic: for tests whose
# subject is not the signature (tests/integration/test_operator_cli.py signs as operators do)
AUTOMATIC_DECISIONS = {"MELDESPIEGEL_REVIEW_AUTO_SIGN": "true"}


class ServiceProcess:
    """A service as its own OS process, started the way the run command starts it."""

    def __init__(self, module: str, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.module = module
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self._starts_before = 0

    STARTED = "FastStream app started successfully"

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._starts_before = self.log_text().count(self.STARTED)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def started(self) -> bool:
        """This start has finished starting up (its consumers run, its signal handling is in
        place: a stop from now on is a graceful one)."""
        return self.log_text().count(self.STARTED) > self._starts_before

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""


def stop_all(procs: list[ServiceProcess]) -> None:
    """Stops every process first, then reports those that did not exit cleanly: a failing one
    must not leave the others running."""
    codes = [(proc, proc.stop()) for proc in procs]
    for proc, code in codes:
        assert code == 0, f"{proc.module} exited with {code}:\n{proc.log_text()[-3000:]}"


def cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs `meldespiegel ARGS` as an operator would, as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "operator_cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
        input=stdin,
    )


def cli_ok(result: subprocess.CompletedProcess[str]) -> str:
    """The command succeeded without a traceback; its standard output."""
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def cli_refused(result: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    """The command failed with `code` and said `message`, without a traceback."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr


def wait_for_http(url: str, seconds: float = 90.0) -> None:
    """Until `url` answers 200: a service process's API has started."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer in {seconds:.0f} s")
        time.sleep(0.3)


async def skipped_backlog(*groups: str) -> None:
    """Moves each consumer group (none of its members may run) to the current end of what it
    consumed, so that a module's services start where that module's events start, not with
    everything earlier modules left on the shared topics (a mail dispatcher otherwise sends
    hundreds of earlier modules' mails first). Only before services start that nothing has been
    published for yet; never before a restart."""
    client = KafkaClient(bootstrap())
    for group in groups:
        # a member of an earlier module that was killed still holds the group until its
        # session times out: then the services read the backlog, only more slowly
        with contextlib.suppress(KafkaError):
            await client.skip_to_end(group)


def skip_backlog(*groups: str) -> None:
    """`skipped_backlog` for a synchronous fixture."""
    asyncio.run(skipped_backlog(*groups))
