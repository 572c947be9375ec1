"""The redraw queue (bot/services/redraws.py): coalesced per message, one draw of a message
at a time, failed draws tried again later (after Retry-After when Slack gave one).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from bot.services.redraws import MessageRedraws
from integrations.base import IntegrationError


class HeldExecutor:
    """Queues work until `run_all`, so a test decides when the pool gets to it."""

    def __init__(self) -> None:
        self.queued: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future[Any]:
        self.queued.append((fn, args))
        return Future()

    def run_all(self) -> None:
        while self.queued:
            fn, args = self.queued.pop(0)
            fn(*args)


class Later:
    """A `schedule` that remembers (delay, work) instead of starting a timer."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, work: Callable[[], None]) -> None:
        self.scheduled.append((delay, work))

    def fire(self) -> float:
        delay, work = self.scheduled.pop(0)
        work()
        return delay


def test_requests_for_a_waiting_message_are_one_draw() -> None:
    drawn: list[str] = []
    pool = HeldExecutor()
    redraws = MessageRedraws(drawn.append, pool)

    for _ in range(3):
        redraws.request("R1")
    redraws.request("R2")
    pool.run_all()

    assert sorted(drawn) == ["R1", "R2"]
    redraws.request("R1")  # done: a new change is drawn again
    pool.run_all()
    assert drawn.count("R1") == 2


def test_a_change_during_a_draw_is_drawn_once_more_by_the_same_worker() -> None:
    started, release = threading.Event(), threading.Event()
    drawn: list[str] = []

    def draw(key: str) -> None:
        drawn.append(key)
        if len(drawn) == 1:
            started.set()
            release.wait(5)

    with ThreadPoolExecutor(4) as pool:
        redraws = MessageRedraws(draw, pool)
        redraws.request("R1")
        assert started.wait(5)
        redraws.request("R1")  # changed while drawn: never a second drawer at once
        redraws.request("R1")
        release.set()
    assert drawn == ["R1", "R1"]


def test_without_a_pool_the_draw_happens_at_once() -> None:
    drawn: list[str] = []
    MessageRedraws(drawn.append).request("R1")
    assert drawn == ["R1"]


def test_a_failed_draw_is_tried_again_later_with_growing_delays_then_given_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    attempts: list[str] = []

    def draw(key: str) -> None:
        attempts.append(key)
        raise IntegrationError("slack", 503, "service_unavailable")

    later = Later()
    redraws = MessageRedraws(draw, retry_delays=(1.0, 5.0), schedule=later)
    with caplog.at_level(logging.WARNING, logger="frontdesk.redraws"):
        redraws.request("R1")
        assert [later.fire(), later.fire()] == [1.0, 5.0]

    assert attempts == ["R1"] * 3
    assert not later.scheduled
    [gave_up] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert gave_up.getMessage() == "gave up redrawing a message"


def test_a_rate_limited_draw_waits_for_retry_after_and_draws_the_latest_state() -> None:
    failures = [IntegrationError("slack", 429, "ratelimited", retry_after=30.0)]
    state = {"R1": "claimed"}
    shown: list[str] = []

    def draw(key: str) -> None:
        if failures:
            raise failures.pop()
        shown.append(state[key])

    later = Later()
    redraws = MessageRedraws(draw, retry_delays=(2.0,), schedule=later)
    redraws.request("R1")
    state["R1"] = "unclaimed"

    assert later.fire() == 30.0  # Slack's Retry-After, longer than our own delay
    assert shown == ["unclaimed"]


def test_a_draw_that_crashes_is_retried_like_a_refusal() -> None:
    calls: list[str] = []

    def draw(key: str) -> None:
        calls.append(key)
        if len(calls) == 1:
            raise RuntimeError("boom")

    later = Later()
    MessageRedraws(draw, retry_delays=(0.5,), schedule=later).request("R1")
    assert later.fire() == 0.5
    assert calls == ["R1", "R1"]
