"""Periods of the KPI report: weeks start Monday 00:00 in the business zone (DST-correct),
and `frontdesk report` dates are whole local days with --until included.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import click
import pytest

from bot.cli import report_period
from bot.domain.reasons import advice
from bot.reports.kpis import week_boundaries

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _hours(boundaries: list[datetime]) -> list[float]:
    return [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(boundaries)]


def test_weeks_across_the_us_spring_forward() -> None:
    zone = ZoneInfo("America/New_York")  # clocks go forward on Sunday 14 March 2027
    since = datetime(2027, 3, 1, 5, 0, tzinfo=UTC)  # Mon 1 Mar 00:00 EST
    until = datetime(2027, 3, 22, 4, 0, tzinfo=UTC)  # Mon 22 Mar 00:00 EDT
    boundaries = week_boundaries(since, until, zone)
    assert [b.astimezone(zone).strftime("%a %d %H:%M") for b in boundaries] == [
        "Mon 01 00:00",
        "Mon 08 00:00",
        "Mon 15 00:00",
        "Mon 22 00:00",
    ]
    assert _hours(boundaries) == [168, 167, 168]


def test_weeks_across_the_southern_autumn() -> None:
    zone = ZoneInfo("Australia/Sydney")  # clocks go back on Sunday 4 April 2027
    since = datetime(2027, 3, 28, 13, 0, tzinfo=UTC)  # Mon 29 Mar 00:00 AEDT
    until = datetime(2027, 4, 11, 14, 0, tzinfo=UTC)  # Mon 12 Apr 00:00 AEST
    assert _hours(week_boundaries(since, until, zone)) == [169, 168]


def test_partial_weeks_at_both_ends_and_arizona() -> None:
    zone = ZoneInfo("America/Phoenix")  # no DST: every week is 168 h
    since = datetime(2026, 11, 4, 19, 0, tzinfo=UTC)  # Wed 4 Nov 12:00 MST
    until = datetime(2026, 11, 17, 7, 0, tzinfo=UTC)  # Tue 17 Nov 00:00 MST
    boundaries = week_boundaries(since, until, zone)
    assert boundaries[0] == since and boundaries[-1] == until
    assert boundaries[1] == datetime(2026, 11, 9, 7, 0, tzinfo=UTC)
    assert _hours(boundaries) == [108, 168, 24]


def test_report_period_is_whole_local_days_with_until_included() -> None:
    zone = ZoneInfo("Europe/Berlin")  # CET in November
    start, end = report_period("2026-11-01", "2026-11-30", zone, NOW)
    assert start == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)


def test_report_period_defaults_to_the_last_30_days() -> None:
    zone = ZoneInfo("UTC")
    assert report_period(None, None, zone, NOW) == (NOW - timedelta(days=30), NOW)
    start, end = report_period("2026-11-20", None, zone, NOW)
    assert (start, end) == (datetime(2026, 11, 20, tzinfo=UTC), NOW)


def test_report_period_rejects_an_inverted_range() -> None:
    with pytest.raises(click.BadParameter, match="--since must be on or before --until"):
        report_period("2026-11-10", "2026-11-09", ZoneInfo("UTC"), NOW)


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("keyword:urgent", 'keyword "urgent"'),
        ("group_size", "raise gate.group_size_threshold"),
        ("vip_domain:majorclient.com", "VIP domain majorclient.com: by policy"),
        ("no_time_selected", "required field"),
        ("slot_unavailable", "offer only free slots"),
        ("api_error:postmark:422:406", "postmark failures: fix the integration"),
    ],
)
def test_advice_names_the_rule_to_change(reason: str, expected: str) -> None:
    assert expected in advice(reason)
