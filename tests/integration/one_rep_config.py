"""A minimal config with one rep working 08:00-18:00 on weekdays, for end-to-end tests."""

from __future__ import annotations

WEEKDAY_HOURS = ", ".join(f'{day} = "08:00-18:00"' for day in ("mon", "tue", "wed", "thu", "fri"))


def one_rep_config(
    *, email: str, slack_id: str, zone: str, provider: str, calendars: list[str], channel: str
) -> str:
    """The TOML text; the rep books on their first calendar."""
    listed = ", ".join(f'"{calendar}"' for calendar in calendars)
    return f"""
timezone = "{zone}"

[slack]
escalation_channel = "{channel}"

[gate]
escalation_keywords = ["group", "urgent", "custom", "reschedule"]
group_size_threshold = 5

[[reps]]
email = "{email}"
slack_id = "{slack_id}"
timezone = "{zone}"
working_hours = {{ {WEEKDAY_HOURS} }}
provider = "{provider}"
booking_calendar = "{calendars[0]}"
calendars = [{listed}]

[booking]
default_duration_minutes = 30
min_notice_minutes = 120
buffer_minutes = 10
horizon_days = 21
video = "auto"
"""
