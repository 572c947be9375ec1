"""Test doubles for our own integration Protocols (integrations/base.py) and small helpers
the integration tests share. Doubles delegate to the sandbox when they have nothing to break,
so the outbox still shows exactly what would have been sent.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import select

from bot.components import Components
from bot.domain.config import Rep
from bot.domain.intervals import Interval
from integrations.base import (
    CalendarProvider,
    Confirmation,
    CreatedEvent,
    EmailSender,
    EventDraft,
    MovedEvent,
    PostedMessage,
    Probe,
)
from storage.models import BookingRequest, OutboxMessage


class Crash(BaseException):
    """The process dying mid-call: not an Exception, so no `except Exception` catches it."""


class KilledAtPost:
    """The real Slack client of a process killed at its next post: before the post leaves,
    or (`after`) once Slack has it and before anything is recorded.
    """

    def __init__(self, inner: Any, *, after: bool) -> None:
        self.inner = inner
        self.after = after

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def post_message(self, *args: Any, **kwargs: Any) -> Any:
        if self.after:
            self.inner.post_message(*args, **kwargs)
        raise Crash("killed at a post to Slack")


class CalendarDouble:
    """Wraps a calendar; counts calls, and can be slow, fail or "crash" on demand."""

    name = "double"

    def __init__(self, inner: CalendarProvider) -> None:
        self.inner = inner
        self.delay = 0.0
        self.busy_error: BaseException | None = None
        self.create_error: BaseException | None = None
        self.crash_after_insert = False  # create the event, then die before answering
        self.busy_calls = 0
        self.create_calls = 0
        self.inner_creates = 0
        self._lock = threading.Lock()

    def busy(self, rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        with self._lock:
            self.busy_calls += 1
        if self.busy_error is not None:
            raise self.busy_error
        return self.inner.busy(rep, start, end)

    def create_event(self, rep: Rep, draft: EventDraft) -> CreatedEvent:
        with self._lock:
            self.create_calls += 1
        if self.delay:
            time.sleep(self.delay)
        if self.create_error is not None:
            raise self.create_error
        created = self.inner.create_event(rep, draft)
        with self._lock:
            self.inner_creates += 1
        if self.crash_after_insert:
            raise Crash("killed after the calendar insert")
        return created

    def probe(self, rep: Rep) -> list[Probe]:
        return self.inner.probe(rep)

    def cancel_event(self, rep: Rep, calendar_id: str, event_id: str) -> None:
        self.inner.cancel_event(rep, calendar_id, event_id)

    def move_event(
        self, rep: Rep, calendar_id: str, event_id: str, start: datetime, end: datetime
    ) -> MovedEvent:
        return self.inner.move_event(rep, calendar_id, event_id, start, end)


class EmailDouble:
    """Wraps an email sender; counts sends and raises `error` when it is set."""

    name = "double"

    def __init__(self, inner: EmailSender, error: BaseException | None = None) -> None:
        self.inner = inner
        self.error = error
        self.sent: list[Confirmation] = []

    def send(self, message: Confirmation) -> str:
        if self.error is not None:
            raise self.error
        self.sent.append(message)
        return self.inner.send(message)


class ChatDouble:
    """A Slack that refuses everything with `error`."""

    name = "double"

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.calls: list[str] = []

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        dedupe_key: str,
        request_id: str | None = None,
    ) -> PostedMessage:
        self.calls.append("post_message")
        raise self.error

    def backlog_seconds(self, channel: str) -> float:
        return 0.0

    def open_dm(self, user_id: str) -> str:
        self.calls.append("open_dm")
        raise self.error

    def user_id_for_email(self, email: str) -> str | None:
        self.calls.append("user_id_for_email")
        raise self.error


def quiet(client: TestClient) -> TestClient:
    """A client on the same app that returns 500s as responses instead of raising them."""
    return TestClient(client.app, raise_server_exceptions=False)


def stored_requests(components: Components) -> int:
    with components.db.read() as session:
        return int(session.exec(select(func.count()).select_from(BookingRequest)).one())


def outbox(
    components: Components, service: str | None = None, request_id: str | None = None
) -> list[OutboxMessage]:
    """Everything recorded in the sandbox outbox, newest first."""
    return components.outbox.latest(limit=1000, service=service, request_id=request_id)


def body_sha(payload: dict[str, Any]) -> str:
    """The hash the webhook computes for a JSON body posted by `post_signed`."""
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


FINAL_STATUSES = {"booked_auto", "escalated_vip", "escalated_manual_review", "escalated_on_error"}
