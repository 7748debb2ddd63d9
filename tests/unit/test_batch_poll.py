"""The batch subscribers' poll (`shared.platform.broker._poll_batch`): a record that arrives
while the consumer waits is handed over at once, an idle poll sleeps only what `getmany` did not
already wait, so that no hop of the query path adds a sleep to an answer's way and no idle
consumer spins."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared.platform import broker
from shared.platform.broker import BATCH_POLL_MS, _poll_batch


class Consumer:
    def __init__(self, batches: dict[str, list[str]], waits: bool) -> None:
        self.batches = batches
        self.waits = waits  # an empty poll that waited its timeout out, or one back at once

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
        if not self.batches and self.waits:
            await asyncio.sleep(timeout_ms / 1000)
        return self.batches


class Subscriber:
    batch_timeout_ms = BATCH_POLL_MS
    max_records = 500


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(broker, "_sleep", sleep)
    return slept


async def test_records_are_handed_over_without_a_sleep(sleeps: list[float]) -> None:
    consumer: Any = Consumer({"p0": ["a", "b"], "p1": ["c"]}, waits=False)
    assert await _poll_batch(Subscriber(), consumer) == ("a", "b", "c")  # type: ignore[arg-type]
    assert sleeps == []


async def test_an_idle_poll_that_waited_does_not_sleep_again(sleeps: list[float]) -> None:
    consumer: Any = Consumer({}, waits=True)
    assert await _poll_batch(Subscriber(), consumer) == ()  # type: ignore[arg-type]
    assert sleeps == []


async def test_an_empty_poll_back_early_sleeps_the_rest(sleeps: list[float]) -> None:
    consumer: Any = Consumer({}, waits=False)
    assert await _poll_batch(Subscriber(), consumer) == ()  # type: ignore[arg-type]
    assert len(sleeps) == 1
    assert 0 < sleeps[0] <= BATCH_POLL_MS / 1000
