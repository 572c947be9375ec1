"""The upkeep job: a Microsoft connection is the app's own, so once an admin fixes its
permission the probe heals the reps it had marked broken (Google reps heal by consenting
again); a person's hold abandoned by a dead process is released."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from bot.scheduler import ABANDONED_HOLD, upkeep
from bot.services.booking import Unavailable
from integrations.base import Probe
from storage.models import BookingStatus, StoredBooking, utcnow
from storage.repositories.bookings import BOOKINGS
from tests.conftest import post_signed
from tests.integration.doubles import CalendarDouble, quiet

BRUNO, ALICE = "bruno@ourco.example", "alice@ourco.example"


class ProbedCalendar(CalendarDouble):
    """A calendar whose probe passes or fails on demand."""

    def __init__(self, inner, healthy: bool) -> None:
        super().__init__(inner)
        self.healthy = healthy
        self.probed: list[str] = []

    def probe(self, rep):
        self.probed.append(rep.email)
        return [Probe("microsoft", rep.email, "credentials", self.healthy, "")]


def test_a_broken_microsoft_rep_heals_when_its_probe_passes(make_app, sandbox_calendar) -> None:
    calendar = ProbedCalendar(sandbox_calendar, healthy=False)
    _, components = make_app(calendar=calendar)
    components.connections.mark_broken(BRUNO, "microsoft", "ErrorAccessDenied")
    components.connections.mark_broken(ALICE, "google", "invalid_grant")

    assert components.health.heal(components.integrations.calendars) == []
    assert set(components.connections.broken_reps()) == {BRUNO, ALICE}

    calendar.healthy = True
    assert components.health.heal(components.integrations.calendars) == [BRUNO]
    assert set(components.connections.broken_reps()) == {ALICE}  # Google waits for consent
    assert calendar.probed == [BRUNO, BRUNO]


def age(components, booking: StoredBooking, by: timedelta) -> None:
    """Make a hold look `by` old (hold ages are real time, not the test's clock)."""
    with components.db.transaction() as conn:
        conn.execute(
            update(BOOKINGS).where(BOOKINGS.c.id == booking.id).values(created_at=utcnow() - by)
        )


def test_upkeep_releases_a_persons_hold_abandoned_by_a_dead_process(make_app) -> None:
    client, components = make_app()
    body = {
        "submission_id": "abandoned-1",
        "name": "Dana Reyes",
        "email": "dana@northwind.example",
        "timezone": "America/New_York",
        "requested_start": "2026-12-01T10:00:00",
        "notes": "urgent",  # escalated: a person books it
    }
    request_id = post_signed(quiet(client), body).json()["request_id"]
    chosen = components.requests.get(request_id).model_copy(update={"rep_email": ALICE})
    booker = components.triage.booker
    held = booker.hold(chosen, booked_by="U0OMAR")
    assert isinstance(held, StoredBooking) and held.status == BookingStatus.RESERVED
    # Its completion died with the process; meanwhile nobody else may take the request.
    assert isinstance(booker.hold(chosen, booked_by="U0PRIYA"), Unavailable)

    age(components, held, ABANDONED_HOLD - timedelta(seconds=5))
    upkeep(components)
    assert components.bookings.get_by_request(request_id).status == BookingStatus.RESERVED

    age(components, held, ABANDONED_HOLD + timedelta(seconds=5))
    upkeep(components)
    assert components.bookings.get_by_request(request_id).status == BookingStatus.RELEASED


def test_resolving_waits_for_a_booking_in_progress_but_not_for_an_abandoned_one(make_app) -> None:
    from bot.services.booking import STALE_HOLD
    from bot.services.triage import BOOKING_IN_PROGRESS, TriageError
    from storage.statuses import Outcome
    from tests.slack_requests import slack_config

    client, components = make_app(slack_config())  # no ops group: anyone may act
    body = {
        "submission_id": "resolve-vs-book",
        "name": "Dana Reyes",
        "email": "dana@northwind.example",
        "timezone": "America/New_York",
        "requested_start": "2026-12-01T10:00:00",
        "notes": "urgent",
    }
    request_id = post_signed(quiet(client), body).json()["request_id"]
    chosen = components.requests.get(request_id).model_copy(update={"rep_email": ALICE})
    held = components.triage.booker.hold(chosen, booked_by="U0OMAR")
    assert isinstance(held, StoredBooking)

    try:
        components.triage.close(request_id, "U0PRIYA", Outcome.SPAM, None)
    except TriageError as refused:
        assert str(refused) == BOOKING_IN_PROGRESS.format(user="U0OMAR")
    else:
        raise AssertionError("closed while a booking was in progress")

    age(components, held, STALE_HOLD + timedelta(seconds=5))  # its completion died
    closed = components.triage.close(request_id, "U0PRIYA", Outcome.SPAM, None)
    assert (closed.outcome, closed.resolved_by) == ("spam", "U0PRIYA")
