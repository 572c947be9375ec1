"""Two clients move their meetings to the same free slot at the same moment (SPEC §11):
both read the calendars before either holds the slot, and the database lets one win — on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from bot.domain.config import Rep
from bot.domain.intervals import Interval
from bot.services.booking_changes import ChangeResult
from integrations.base import CalendarProvider, CreatedEvent, EventDraft, MovedEvent, Probe
from integrations.sandbox import SandboxCalendar
from storage.models import BookingStatus
from storage.statuses import ChangeStatus
from tests.conftest import post_signed

CHEN = "chen@ourco.example"
FIRST = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # Tue 10:00 MST
SECOND = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)  # Tue 11:00 MST
TARGET = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # Wed 10:00 MST


class MeetingCalendar:
    """The sandbox calendar, where busy reads wait for each other: the moves race."""

    name = "sandbox"

    def __init__(self, inner: CalendarProvider, readers: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(readers, timeout=5)
        self.racing = False
        self.moves = 0

    def busy(self, rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        found = self.inner.busy(rep, start, end)
        if self.racing:
            self.barrier.wait()
        return found

    def create_event(self, rep: Rep, draft: EventDraft) -> CreatedEvent:
        return self.inner.create_event(rep, draft)

    def probe(self, rep: Rep) -> list[Probe]:
        return self.inner.probe(rep)

    def cancel_event(self, rep: Rep, calendar_id: str, event_id: str) -> None:
        self.inner.cancel_event(rep, calendar_id, event_id)

    def move_event(
        self, rep: Rep, calendar_id: str, event_id: str, start: datetime, end: datetime
    ) -> MovedEvent:
        self.moves += 1
        return self.inner.move_event(rep, calendar_id, event_id, start, end)


def book(client: Any, submission_id: str, start: datetime) -> str:
    body = {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": f"{submission_id}@northwind.example",
        "timezone": "America/Phoenix",
        "requested_start": start.isoformat(),
        "rep": CHEN,
    }
    answer = post_signed(client, body).json()
    assert answer["status"] == "booked_auto", answer
    return str(answer["request_id"])


def test_two_moves_to_one_slot_at_once_one_wins(
    make_app: Any, sandbox_calendar: SandboxCalendar
) -> None:
    calendar = MeetingCalendar(sandbox_calendar, readers=2)
    client, components = make_app(calendar=calendar)
    changes = components.booking_changes
    requests = [book(client, "first", FIRST), book(client, "second", SECOND)]
    opened = []
    for request_id in requests:
        booking = components.bookings.get_by_request(request_id)
        assert booking is not None
        opened.append(changes.open(changes.url_for(booking).rsplit("/", 1)[1]))

    calendar.racing = True
    with ThreadPoolExecutor(2) as pool:
        results: list[ChangeResult] = list(
            pool.map(lambda one: changes.reschedule(one, TARGET), opened)
        )

    assert sorted(result.outcome for result in results) == ["moved", "taken"]
    assert calendar.moves == 1
    (winner,) = [r for r in results if r.outcome == "moved"]
    (loser,) = [r for r in results if r.outcome == "taken"]
    moved = components.bookings.get(winner.booking.id or 0)
    kept = components.bookings.get(loser.booking.id or 0)
    assert moved is not None and (moved.start, moved.version) == (TARGET, 2)
    assert kept is not None and kept.start in (FIRST, SECOND) and kept.version == 1
    assert kept.status == moved.status == BookingStatus.CONFIRMED
    assert kept.pending_start is None and moved.pending_start is None
    statuses = {
        change.status
        for result in results
        for change in changes.changes.for_booking(result.booking.id or 0)
    }
    assert statuses == {ChangeStatus.DONE, ChangeStatus.REFUSED}
