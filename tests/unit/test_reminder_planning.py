"""When reminders are due, in the client's zone, across DST changes (SPEC §6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from bot.domain.config import RemindersConfig
from bot.domain.reminders import BOOKED_INSIDE_WINDOW, due_time, plan_reminders
from bot.messages.reminders import render_email, render_sms
from storage.models import ReminderChannel

DAY = 24 * 60


def local(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("zone", "meeting", "expected_reminder", "real_hours"),
    [
        # US spring forward, Sun 14 Mar 2027 02:00: Monday's reminder is an ordinary 24 h…
        ("America/New_York", (2027, 3, 15, 9, 0), (2027, 3, 14, 9, 0), 24),
        # …but a Sunday meeting's reminder on Saturday is 23 real hours ahead.
        ("America/New_York", (2027, 3, 14, 9, 0), (2027, 3, 13, 9, 0), 23),
        # US fall back, Sun 7 Nov 2027: 25 real hours.
        ("America/New_York", (2027, 11, 7, 9, 0), (2027, 11, 6, 9, 0), 25),
        # EU spring forward, Sun 28 Mar 2027 (01:00 UTC), and the Monday after.
        ("Europe/Berlin", (2027, 3, 28, 9, 0), (2027, 3, 27, 9, 0), 23),
        ("Europe/Berlin", (2027, 3, 29, 9, 0), (2027, 3, 28, 9, 0), 24),
        # EU fall back, Sun 31 Oct 2027.
        ("Europe/Paris", (2027, 10, 31, 9, 0), (2027, 10, 30, 9, 0), 25),
        # Arizona keeps no DST: always 24 h, while New York changes around it.
        ("America/Phoenix", (2027, 3, 14, 9, 0), (2027, 3, 13, 9, 0), 24),
        # Southern hemisphere: Sydney's DST ends Sun 4 Apr 2027, starts Sun 3 Oct 2027.
        ("Australia/Sydney", (2027, 4, 4, 9, 0), (2027, 4, 3, 9, 0), 25),
        ("Australia/Sydney", (2027, 10, 3, 9, 0), (2027, 10, 2, 9, 0), 23),
    ],
)
def test_a_day_ahead_is_the_same_local_time_the_day_before(
    zone: str,
    meeting: tuple[int, ...],
    expected_reminder: tuple[int, ...],
    real_hours: int,
) -> None:
    start = local(zone, *meeting)
    due = due_time(start.astimezone(UTC), DAY, zone)
    assert due == local(zone, *expected_reminder)
    assert due.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "09:00"
    # (Aware datetimes in one zone subtract as wall clocks: compare real time in UTC.)
    assert start.astimezone(UTC) - due == timedelta(hours=real_hours)


def test_a_day_before_that_falls_in_the_spring_forward_gap_is_the_jump() -> None:
    # 02:30 does not exist on Sun 14 Mar 2027 in New York: the clocks leap 02:00 -> 03:00.
    start = local("America/New_York", 2027, 3, 15, 2, 30)
    due = due_time(start.astimezone(UTC), DAY, "America/New_York")
    assert due == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)  # 03:00 EDT, the jump


def test_a_day_before_in_the_repeated_hour_is_its_first_occurrence() -> None:
    start = local("America/New_York", 2027, 11, 8, 1, 30)
    due = due_time(start.astimezone(UTC), DAY, "America/New_York")
    assert due == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)  # 01:30 EDT, not EST


def test_minutes_beyond_whole_days_are_exact() -> None:
    start = local("America/New_York", 2027, 3, 15, 9, 0)
    assert due_time(start, DAY + 90, "America/New_York") == local(
        "America/New_York", 2027, 3, 14, 7, 30
    )
    assert due_time(start, 120, "America/New_York") == start - timedelta(hours=2)


def _plan(now: datetime, **overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "start": local("America/Phoenix", 2027, 3, 15, 14, 0),
        "client_timezone": "America/Phoenix",
        "phone": "+16025550143",
        "sms_opt_in": True,
        "now": now,
    }
    reminders = overrides.pop("settings", RemindersConfig())
    values.update(overrides)
    planned = plan_reminders(reminders, **values)  # type: ignore[arg-type]
    return {p.channel: p for p in planned}


@freeze_time("2027-03-10 12:00:00")
def test_plan_with_phone_and_opt_in_gets_sms_and_email() -> None:
    plan = _plan(datetime.now(UTC))
    assert set(plan) == {ReminderChannel.SMS, ReminderChannel.EMAIL}
    for planned in plan.values():
        assert planned.due_at == local("America/Phoenix", 2027, 3, 14, 14, 0)  # type: ignore[attr-defined]
        assert planned.skip_reason is None  # type: ignore[attr-defined]


@freeze_time("2027-03-10 12:00:00")
@pytest.mark.parametrize(
    ("phone", "opted_in"),
    [(None, True), ("+16025550143", False), ("602-555-0143", True), ("+0123456789", True)],
)
def test_no_sms_without_e164_phone_and_opt_in(phone: str | None, opted_in: bool) -> None:
    plan = _plan(datetime.now(UTC), phone=phone, sms_opt_in=opted_in)
    assert set(plan) == {ReminderChannel.EMAIL}


@freeze_time("2027-03-10 12:00:00")
def test_zero_minutes_turns_a_channel_off() -> None:
    plan = _plan(
        datetime.now(UTC),
        settings=RemindersConfig(sms_before_minutes=0, email_before_minutes=60),
    )
    assert set(plan) == {ReminderChannel.EMAIL}


@freeze_time("2027-03-15 10:00:00")
def test_a_meeting_booked_inside_the_window_records_its_reminders_as_skipped() -> None:
    plan = _plan(datetime.now(UTC))  # the meeting is 14:00 MST today; reminders were due
    assert {p.skip_reason for p in plan.values()} == {BOOKED_INSIDE_WINDOW}  # type: ignore[attr-defined]


def test_texts_are_in_the_clients_zone_with_its_abbreviation() -> None:
    start = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    sms = render_sms(
        start=start, zone="America/Phoenix", rep="alice@ourco.example", video_url="https://v/x"
    )
    assert "Tue 1 Dec at 2:00 PM MST" in sms
    assert "Join: https://v/x" in sms and "STOP" in sms
    email = render_email(
        request_id="req_1",
        message_key="7@20261201T210000Z",
        to="dana@example.com",
        name="Dana",
        start=start,
        zone="America/Phoenix",
        rep="alice@ourco.example",
        video_url=None,
    )
    assert email.subject == "Reminder: your meeting on Tuesday 1 December 2026, 2:00 PM MST"
    assert email.tag == "reminder"
    assert email.dedupe_key == "email:reminder:7@20261201T210000Z"
    assert "Join by video" not in email.text_body
