"""The whole reminder path under freezegun, across a DST change: a booking is confirmed,
its reminder planned, and the dispatch tick sends it at 09:00 local the day before the
meeting, not an hour early or late. The tick runs directly (freezegun does not wake a
sleeping scheduler thread), with the app's own clock: real time, frozen.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from bot.components import build_components
from bot.domain.config import Config
from bot.services.booking import Booked
from storage.db import Database
from storage.models import ReminderChannel, StoredRequest
from tests.conftest import make_settings


def request_for(start: datetime, zone: str, rep: str) -> StoredRequest:
    return StoredRequest(
        idempotency_key=f"dst-{start.isoformat()}",
        body_sha256="0" * 64,
        name="Dana Reyes",
        email="dana@northwind.example",
        phone="+16025550143",
        sms_opt_in=True,
        timezone=zone,
        requested_start=start,
        duration_minutes=30,
        rep_email=rep,
    )


@pytest.mark.parametrize(
    ("booked_at", "meeting", "zone", "rep", "due"),
    [
        # US spring forward (Sun 14 Mar 2027): a Monday 09:00 EDT meeting, reminded Sunday
        # 09:00 EDT, the morning of the change.
        (
            "2027-03-10 15:00",
            datetime(2027, 3, 15, 13, 0, tzinfo=UTC),
            "America/New_York",
            "alice@ourco.example",
            datetime(2027, 3, 14, 13, 0, tzinfo=UTC),
        ),
        # EU fall back (Sun 31 Oct 2027): a Monday 09:00 CET meeting with a Berlin client,
        # reminded Sunday 09:00 CET, just after the clocks went back.
        (
            "2027-10-27 08:00",
            datetime(2027, 11, 1, 8, 0, tzinfo=UTC),
            "Europe/Berlin",
            "bruno@ourco.example",
            datetime(2027, 10, 31, 8, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_reminder_goes_out_at_nine_local_the_day_before(
    migrated_db: Database,
    example_config: Config,
    booked_at: str,
    meeting: datetime,
    zone: str,
    rep: str,
    due: datetime,
) -> None:
    with freeze_time(booked_at) as frozen:
        components = build_components(
            make_settings(migrated_db.url), example_config, db=migrated_db
        )
        request, _ = components.requests.create(request_for(meeting, zone, rep))
        booked = components.triage.booker.book(request)
        assert isinstance(booked, Booked), booked

        frozen.move_to(due - timedelta(seconds=1))
        assert components.dispatcher.tick() == {}

        frozen.move_to(due)
        assert components.dispatcher.tick() == {"sent": 2}
        sent = {r.channel: r for r in components.reminders.for_request(request.id)}
        assert sent[ReminderChannel.SMS].sent_at == due
        (sms,) = components.outbox.latest(service="sms", request_id=request.id)
        assert "9:00 AM" in sms.payload["body"]
