"""KPI figures on seeded datasets whose expected values are worked out by hand, on SQLite
and PostgreSQL; and `frontdesk report` over them (JSON, text and PNG).

The main dataset: two weeks in America/New_York (Mon 2 .. Sun 15 November 2026, EST
throughout), SLA 15 minutes.

  escalation  route   reasons                         claim   resolved  outcome
  vip1        vip     vip_domain:majorclient.com (+     5 m     60 m    booked
                      keyword:urgent, not counted)
  vip2        vip     vip_domain:majorclient.com       open     open          (36 h old)
  r1          review  keyword:urgent                   10 m     30 m    declined
  r2          review  keyword:urgent, group_size:12    20 m      4 h    booked
  r3          review  group_size:8                     40 m     open          (12 h old)
  e1          error   api_error:google:403:…            3 m     15 m    handled_elsewhere

  16 auto-booked, 1 still processing; outside the period (by local time): one review
  request at Sun 1 Nov 23:30 and one auto-booked at Mon 16 Nov 00:30.

  requests 22, escalated 6, rate 6/22 = 0.2727 (too restrictive); figures as at the end
  to claim (s): 180 300 600 1200 2400 129600(open)   p50 = 3rd = 600, p90 = 6th = 129600
  to resolve (s): 900 1800 3600 14400 43200(open) 129600(open)   p50 = 3600, p90 = 129600
  SLA breaches (claim > 900 s): 1200, 2400, 129600 -> 3
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.reports.kpis import HEALTHY, NO_REQUESTS, TOO_RESTRICTIVE, as_json, compute_kpis
from storage.db import Database
from storage.kpi_queries import KpiQueries
from storage.models import (
    BookingStatus,
    RequestStatus,
)
from tests.conftest import EXAMPLE_CONFIG
from tests.integration.kpi_seed import Seeder

NEW_YORK = ZoneInfo("America/New_York")
SINCE = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)  # Mon 2 Nov 00:00 EST
WEEK2 = datetime(2026, 11, 9, 5, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 16, 5, 0, tzinfo=UTC)  # Mon 16 Nov 00:00 EST
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
API_ERROR = "api_error:google:403:insufficientPermissions"


def _minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def seed_two_weeks(db: Database) -> None:
    seed = Seeder(db)
    monday = SINCE + timedelta(hours=14)  # Mon 2 Nov 09:00 EST
    for n in range(16):
        seed.request(RequestStatus.BOOKED_AUTO, (monday if n < 10 else WEEK2) + _minutes(n))
    seed.request(RequestStatus.PROCESSING, monday + _minutes(30))
    seed.escalation(
        RequestStatus.ESCALATED_VIP,
        monday + _minutes(1),
        ["vip_domain:majorclient.com", "keyword:urgent"],  # the keyword does not count
        _minutes(5),
        _minutes(60),
        "booked",
    )
    seed.escalation(
        RequestStatus.ESCALATED_VIP,
        datetime(2026, 11, 14, 17, 0, tzinfo=UTC),  # Sat 14 Nov 12:00 EST: 36 h before the end
        ["vip_domain:majorclient.com"],
        sla_pings=3,
    )
    seed.escalation(
        RequestStatus.ESCALATED_MANUAL_REVIEW,
        monday + _minutes(2),
        ["keyword:urgent"],
        _minutes(10),
        _minutes(30),
        "declined",
    )
    seed.escalation(
        RequestStatus.ESCALATED_MANUAL_REVIEW,
        WEEK2 + timedelta(hours=20),
        ["keyword:urgent", "group_size:12"],
        _minutes(20),
        _minutes(240),
        "booked",
        sla_pings=1,
    )
    seed.escalation(
        RequestStatus.ESCALATED_MANUAL_REVIEW,
        datetime(2026, 11, 15, 17, 0, tzinfo=UTC),  # Sun 15 Nov 12:00 EST: 12 h before the end
        ["group_size:8"],
        _minutes(40),
        sla_pings=2,
    )
    seed.escalation(
        RequestStatus.ESCALATED_ON_ERROR,
        monday + _minutes(3),
        [API_ERROR],
        _minutes(3),
        _minutes(15),
        "handled_elsewhere",
    )
    # Outside the period in New York time, although inside it by UTC date.
    seed.escalation(
        RequestStatus.ESCALATED_MANUAL_REVIEW,
        datetime(2026, 11, 2, 4, 30, tzinfo=UTC),  # Sun 1 Nov 23:30 EST
        ["keyword:urgent"],
        _minutes(1),
    )
    seed.request(RequestStatus.BOOKED_AUTO, datetime(2026, 11, 16, 5, 30, tzinfo=UTC))
    # Meetings that ended in the period: auto 7 held, 2 no-show, 1 rescheduled, 2 unanswered;
    # human 3 held, 1 no-show. Not counted: a cancelled one, one ending after the period.
    meeting_end = SINCE + timedelta(days=3)
    for outcome, times in (("held", 7), ("no_show", 2), ("rescheduled", 1), (None, 2)):
        for _ in range(times):
            seed.meeting(meeting_end, outcome)
    for outcome, times in (("held", 3), ("no_show", 1)):
        for _ in range(times):
            seed.meeting(meeting_end, outcome, booked_by="U0ALICE")
    seed.meeting(meeting_end, "no_show", status=BookingStatus.CANCELLED)
    seed.meeting(UNTIL + timedelta(hours=1), "no_show")


def report_json(
    db: Database, since: datetime = SINCE, until: datetime = UNTIL, now: datetime = UNTIL
) -> dict[str, Any]:
    """The report as it stands at `now` (by default: run at the period's very end)."""
    kpis = compute_kpis(KpiQueries(db), since, until, now=now, sla_minutes=15, zone=NEW_YORK)
    return as_json(kpis)


def test_figures_worked_out_by_hand(migrated_db: Database) -> None:
    seed_two_weeks(migrated_db)
    report = report_json(migrated_db)

    assert report["requests"] == 22
    assert report["in_progress"] == 1
    assert report["escalated"] == 6
    assert report["human_intervention_rate"] == round(6 / 22, 4) == 0.2727
    assert report["verdict"] == TOO_RESTRICTIVE
    assert report["as_of"] == UNTIL.isoformat()

    assert report["time_to_claim"] == {"p50": 600.0, "p90": 129600.0, "max": 129600.0, "open": 1}
    assert report["time_to_resolution"] == {
        "p50": 3600.0,
        "p90": 129600.0,
        "max": 129600.0,
        "open": 2,
    }
    assert report["open_escalations"] == 2
    assert report["open_by_age"] == {
        "<15m": 0, "15m-1h": 0, "1h-4h": 0, "4h-1d": 1, "1d-3d": 1, "3d-7d": 0, ">=7d": 0
    }  # fmt: skip
    assert report["resolution_histogram"] == {
        "<15m": 0, "15m-1h": 2, "1h-4h": 1, "4h-1d": 1, "1d-3d": 0, "3d-7d": 0, ">=7d": 0
    }  # fmt: skip
    assert report["sla_breaches"] == 3
    assert report["sla_pinged"] == 3

    assert report["no_show_rate"] == {"auto": round(2 / 9, 4), "human": 0.25}
    assert report["meetings"]["auto"] == {
        "held": 7, "no_show": 2, "rescheduled": 1, "unanswered": 2
    }  # fmt: skip
    assert report["vip_conversion"] == 0.5
    assert report["vip"] == {"escalated": 2, "booked": 1}

    routes = report["by_route"]
    assert {route: entry["requests"] for route, entry in routes.items()} == {
        "auto": 16, "vip": 2, "review": 3, "error": 1
    }  # fmt: skip
    assert routes["auto"]["share"] == round(16 / 22, 4)
    assert routes["review"]["share"] == round(3 / 22, 4)
    # review claims: 600, 1200, 2400 -> p50 = 2nd, p90 = 3rd
    assert routes["review"]["time_to_claim"] == {
        "p50": 1200.0,
        "p90": 2400.0,
        "max": 2400.0,
        "open": 0,
    }
    assert routes["review"]["sla_breaches"] == 2
    assert routes["vip"]["time_to_resolution"]["open"] == 1
    assert routes["error"]["time_to_resolution"]["p50"] == 900.0

    reasons = report["by_reason"]
    assert list(reasons) == [
        "group_size",
        "keyword:urgent",
        "vip_domain:majorclient.com",
        API_ERROR,
    ]
    assert reasons["group_size"]["escalations"] == 2  # group_size:12 and :8 folded
    assert reasons["group_size"]["time_to_claim"]["p50"] == 1200.0
    assert reasons["keyword:urgent"]["time_to_claim"]["p50"] == 600.0
    assert reasons["keyword:urgent"]["share_of_requests"] == round(2 / 22, 4)
    assert [d["reason"] for d in report["drivers"]] == [
        "group_size",
        "keyword:urgent",
        "vip_domain:majorclient.com",
    ]
    assert "group_size_threshold" in report["drivers"][0]["advice"]
    assert report["drivers"][1]["advice"].startswith('keyword "urgent"')

    assert report["weekly"] == [
        {
            "week_start": SINCE.isoformat(),
            "requests": 13,
            "escalated": 3,
            "human_intervention_rate": round(3 / 13, 4),
        },
        {
            "week_start": WEEK2.isoformat(),
            "requests": 9,
            "escalated": 3,
            "human_intervention_rate": round(3 / 9, 4),
        },
    ]


def test_the_empty_period(migrated_db: Database) -> None:
    report = report_json(migrated_db)
    assert report["requests"] == report["escalated"] == 0
    assert report["human_intervention_rate"] is None
    assert report["verdict"] == NO_REQUESTS
    assert report["drivers"] == []
    empty = {"p50": None, "p90": None, "max": None, "open": 0}
    assert report["time_to_claim"] == report["time_to_resolution"] == empty
    assert report["no_show_rate"] == {"auto": None, "human": None}
    assert report["vip_conversion"] is None
    assert report["by_route"]["review"]["time_to_claim"] == empty
    assert report["by_reason"] == {}
    assert [week["human_intervention_rate"] for week in report["weekly"]] == [None, None]


def test_a_period_with_only_open_escalations(migrated_db: Database) -> None:
    """Nobody has claimed anything yet: times are the escalations' ages at the report's
    end, all open. One claimed after that end was still open then.
    """
    seed = Seeder(migrated_db)
    since = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # Mon 23 Nov 00:00 EST
    until = since + timedelta(days=7)
    for age_minutes, claimed_later in ((30, False), (90, False), (240, True)):
        seed.escalation(
            RequestStatus.ESCALATED_MANUAL_REVIEW,
            NOW - _minutes(age_minutes),
            ["keyword:custom"],
            claim=_minutes(age_minutes + 5) if claimed_later else None,
        )
    report = report_json(migrated_db, since, until, now=NOW)  # still running
    assert report["as_of"] == NOW.isoformat()
    assert report["requests"] == report["escalated"] == 3
    assert report["human_intervention_rate"] == 1.0
    assert report["time_to_claim"] == {"p50": 5400.0, "p90": 14400.0, "max": 14400.0, "open": 3}
    assert report["time_to_resolution"]["open"] == 3
    assert report["open_by_age"]["15m-1h"] == 1
    assert report["open_by_age"]["1h-4h"] == 1
    assert report["open_by_age"]["4h-1d"] == 1
    assert report["resolution_histogram"] == dict.fromkeys(report["resolution_histogram"], 0)
    assert report["sla_breaches"] == 3
    assert report["vip_conversion"] is None


def test_figures_as_they_stand_now_not_cut_at_the_end(migrated_db: Database) -> None:
    """Run two days after the period: a request from its last evening claimed the next
    morning counts with its real time to claim (and its SLA breach); a VIP booked after the
    end counts as booked and resolved, consistently.
    """
    seed = Seeder(migrated_db)
    sunday_late = UNTIL - _minutes(10)  # Sun 15 Nov 23:50 EST
    seed.request(RequestStatus.BOOKED_AUTO, sunday_late)
    seed.escalation(
        RequestStatus.ESCALATED_MANUAL_REVIEW, sunday_late, ["keyword:urgent"], _minutes(40)
    )
    seed.escalation(
        RequestStatus.ESCALATED_VIP,
        sunday_late,
        ["vip_domain:majorclient.com"],
        _minutes(20),
        _minutes(11 * 60),
        "booked",
    )
    report = report_json(migrated_db, now=UNTIL + timedelta(days=2))
    assert report["time_to_claim"] == {"p50": 1200.0, "p90": 2400.0, "max": 2400.0, "open": 0}
    assert report["sla_breaches"] == 2
    assert report["vip_conversion"] == 1.0
    assert report["by_route"]["vip"]["open"] == 0
    assert report["open_escalations"] == 1  # the review: claimed, not resolved
    # Run at the end instead, both were still open then.
    at_end = report_json(migrated_db)
    assert at_end["time_to_claim"]["open"] == 2
    assert at_end["time_to_claim"]["max"] == 600.0


def test_reason_codes_and_durations_to_the_millisecond(migrated_db: Database) -> None:
    """Group sizes fold into one code, a VIP counts only under its vip_domain code, and a
    code listed twice counts twice; durations are exact to the millisecond: claimed at the
    SLA itself is no breach, a millisecond later is one.
    """
    seed = Seeder(migrated_db)
    at = SINCE + timedelta(hours=15)
    review = RequestStatus.ESCALATED_MANUAL_REVIEW
    seed.escalation(review, at, ["group_size:8", "keyword:urgent", "group_size:12"], _minutes(15))
    seed.escalation(review, at, ["keyword:urgent", "keyword:urgent"], timedelta(seconds=123.456))
    seed.escalation(
        RequestStatus.ESCALATED_VIP,
        at,
        ["keyword:urgent", "vip_domain:majorclient.com"],
        timedelta(seconds=900.001),
    )
    report = report_json(migrated_db)
    by_reason = {code: figures["escalations"] for code, figures in report["by_reason"].items()}
    assert by_reason == {"keyword:urgent": 3, "group_size": 2, "vip_domain:majorclient.com": 1}
    assert report["by_reason"]["keyword:urgent"]["time_to_claim"]["p50"] == 123.5
    assert report["time_to_claim"] == {"p50": 900.0, "p90": 900.0, "max": 900.0, "open": 0}
    assert report["sla_breaches"] == 1
    assert report["by_route"]["review"]["sla_breaches"] == 0


@pytest.mark.parametrize(
    ("escalated", "verdict"), [(1, "too permissive"), (3, HEALTHY), (4, TOO_RESTRICTIVE)]
)
def test_verdict_follows_the_band(migrated_db: Database, escalated: int, verdict: str) -> None:
    """20 requests: 1 escalated is 5 %, 3 is 15 % (inside, the band is closed), 4 is 20 %."""
    seed = Seeder(migrated_db)
    at = SINCE + timedelta(hours=15)
    for n in range(20 - escalated):
        seed.request(RequestStatus.BOOKED_AUTO, at + _minutes(n))
    for n in range(escalated):
        seed.escalation(RequestStatus.ESCALATED_MANUAL_REVIEW, at, [f"keyword:k{n}"])
    report = report_json(migrated_db)
    assert report["verdict"] == verdict
    assert report["verdict_summary"].startswith(f"{escalated / 20:.1%} of requests")


def _cli(db_url: str, *args: str) -> Any:
    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("FRONTDESK_CONFIG", None)
    return CliRunner().invoke(main, ["report", "--config", str(EXAMPLE_CONFIG), *args], env=env)


def test_cli_json_text_and_png(migrated_db: Database, database_url: str, tmp_path: Path) -> None:
    """Dates are whole days in the config's zone (New York), --until included."""
    seed_two_weeks(migrated_db)
    result = _cli(database_url, "--since", "2026-11-02", "--until", "2026-11-15", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["since"], report["until"]) == (SINCE.isoformat(), UNTIL.isoformat())
    for key in ("requests", "escalated", "human_intervention_rate", "vip_conversion", "by_route"):
        assert key in report
    assert (report["requests"], report["escalated"]) == (22, 6)
    assert set(report["time_to_claim"]) >= {"p50", "p90", "max"}
    assert set(report["no_show_rate"]) == {"auto", "human"}

    chart = tmp_path / "kpis.png"
    result = _cli(
        database_url, "--since", "2026-11-02", "--until", "2026-11-15", "--png", str(chart)
    )
    assert result.exit_code == 0, result.output
    assert "human intervention rate: 27.3%   verdict: too restrictive" in result.output
    assert "- group_size: 2 (9.1%)" in result.output
    assert "time to claim" in result.output and "10 min" in result.output
    assert "VIP conversion: 50% (1 booked of 2 escalated)" in result.output
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert chart.stat().st_size > 10_000


def test_cli_rejects_bad_dates(migrated_db: Database, database_url: str) -> None:
    result = _cli(database_url, "--since", "yesterday")
    assert result.exit_code == 2
    assert "'yesterday' is not a date like 2026-11-01" in result.output
    result = _cli(database_url, "--since", "2026-11-10", "--until", "2026-11-09")
    assert result.exit_code == 2
    assert "--since must be on or before --until" in result.output
