"""Builders shared by the unit tests: a valid TOML config to start from, reps, booking rules."""

from __future__ import annotations

from typing import Any

from bot.domain.config import BookingConfig, Rep

VALID_TOML = """\
timezone = "America/New_York"

[slack]
escalation_channel = "C0ESCALATE"
ops_usergroup = "S0OPS"
sla_minutes = 15

[[vip]]
domain = "majorclient.com"
owner_email = "olivia@ourco.example"
owner_slack_id = "U0OLIVIA"

[[reps]]
email = "alice@ourco.example"
slack_id = "U0ALICE"
timezone = "America/New_York"
working_hours = { mon = "09:00-17:00", fri = "09:00-12:00" }
provider = "google"
booking_calendar = "alice@ourco.example"

[[reps]]
email = "bruno@ourco.example"
slack_id = "U0BRUNO"
timezone = "Europe/Berlin"
working_hours = { mon = "08:30-16:30" }
provider = "microsoft"
booking_calendar = "bruno@ourco.example"
"""


WEEKDAY_HOURS = {day: "09:00-17:00" for day in ("mon", "tue", "wed", "thu")} | {
    "fri": "09:00-12:00"
}


def make_rep(timezone: str = "America/New_York", **overrides: Any) -> Rep:
    values: dict[str, Any] = {
        "email": "rep@ourco.example",
        "timezone": timezone,
        "working_hours": WEEKDAY_HOURS,
        "provider": "google",
        "booking_calendar": "rep@ourco.example",
        **overrides,
    }
    return Rep(**values)


def make_booking(**overrides: Any) -> BookingConfig:
    values: dict[str, Any] = {
        "min_notice_minutes": 120,
        "buffer_minutes": 10,
        "horizon_days": 21,
        **overrides,
    }
    return BookingConfig(**values)
