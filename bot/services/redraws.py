"""Redrawing escalation messages off the ack path, one message at a time, latest state wins.

A claim answers Slack once the database has settled it; the message's chat.update follows
on a small pool of its own, so a burst of clicks never queues redraws behind other work
after the ack (modals, refusals). Each redraw reads the database when it runs: requests
for a message that is already waiting are folded into that one, and a message being
redrawn is drawn once more afterwards if it changed meanwhile (never two draws of one
message at once, so an older state cannot land last). A failed redraw is logged and tried
again later, after Slack's Retry-After when it gave one: what people did is stored either
way, and the message must catch up with it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor

from integrations.base import IntegrationError

log = logging.getLogger("frontdesk.redraws")

RETRY_DELAYS_SECONDS = (2.0, 10.0, 30.0, 120.0, 600.0)
Schedule = Callable[[float, Callable[[], None]], None]


def _timer(delay: float, work: Callable[[], None]) -> None:
    timer = threading.Timer(delay, work)
    timer.daemon = True  # a pending retry does not hold the process up at shutdown
    timer.start()


class MessageRedraws:
    """`request(key)` has `draw(key)` run soon on `executor` (None: at once, in the caller,
    as on AWS Lambda, where no thread may outlive the response).
    """

    def __init__(
        self,
        draw: Callable[[str], None],
        executor: Executor | None = None,
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
        schedule: Schedule = _timer,
    ) -> None:
        self.draw = draw
        self.executor = executor
        self.retry_delays = retry_delays
        self.schedule = schedule
        # Messages queued or being drawn -> whether a change came after the draw began.
        self._dirty: dict[str, bool] = {}
        self._lock = threading.Lock()

    def request(self, key: str) -> None:
        """Redraw `key`'s message from what the database holds when the draw runs."""
        self._request(key, attempt=0)

    def _request(self, key: str, attempt: int) -> None:
        with self._lock:
            if key in self._dirty:  # queued or running: it, or its next round, draws this
                self._dirty[key] = True
                return
            self._dirty[key] = False
        if self.executor is None:
            self._run(key, attempt)
        else:
            self.executor.submit(self._run, key, attempt)

    def _run(self, key: str, attempt: int) -> None:
        while True:
            with self._lock:
                self._dirty[key] = False  # what changed until now, this draw shows
            error = self._draw(key, attempt)
            with self._lock:
                if error is None and self._dirty[key]:
                    attempt = 0
                    continue  # changed while drawing: once more, still the only drawer
                del self._dirty[key]
            if error is not None:
                self._retry_later(key, attempt, error)  # the retry draws the latest state
            return

    def _draw(self, key: str, attempt: int) -> Exception | None:
        try:
            self.draw(key)
        except Exception as exc:
            return exc
        if attempt:
            log.info("redrew a message after failures", extra={"key": key, "attempts": attempt})
        return None

    def _retry_later(self, key: str, attempt: int, error: Exception) -> None:
        reason = error.message if isinstance(error, IntegrationError) else repr(error)
        if attempt >= len(self.retry_delays):
            log.error(
                "gave up redrawing a message",
                extra={"key": key, "attempts": attempt + 1, "error": reason},
            )
            return
        delay = self.retry_delays[attempt]
        after = getattr(error, "retry_after", None)
        if isinstance(after, (int, float)) and after > delay:
            delay = float(after)  # Slack said when to come back
        log.warning(
            "could not redraw a message; trying again",
            extra={"key": key, "attempt": attempt + 1, "in_seconds": delay, "error": reason},
        )
        self.schedule(delay, lambda: self._request(key, attempt + 1))
