"""The KPI summaries of the Home tab and the weekly digest: they validate through
slack_sdk.models, say "-" for what a period has nothing for, count open escalations, name
the driving reason codes only outside the healthy band, and stay inside Slack's limits.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block

from bot.messages.blocks import FIELD_LIMIT
from bot.messages.kpi_blocks import (
    DRIVERS_HEADING,
    NO_EARLIER_RATE,
    count_change,
    digest_blocks,
    digest_text,
    duration_change,
    period_blocks,
    points_change,
)
from bot.reports.kpis import HEALTHY, NO_REQUESTS, TOO_PERMISSIVE, TOO_RESTRICTIVE, Meetings
from storage.kpi_queries import AGE_LABELS, DurationStats, EscalationFigures
from tests.unit.kpi_builders import SINCE, kpis

NEW_YORK = ZoneInfo("America/New_York")
UNTIL = SINCE + timedelta(days=7)
NONE = (0,) * len(AGE_LABELS)


def figures(
    count: int,
    claim: tuple[float | None, float | None, int],
    resolve: tuple[float | None, float | None, int],
    *,
    breaches: int = 0,
    booked: int = 0,
) -> EscalationFigures:
    """(p50, p90, open) for claim and resolution, in seconds."""
    return EscalationFigures(
        count,
        DurationStats(count, claim[2], claim[0], claim[1], claim[1]),
        DurationStats(count, resolve[2], resolve[0], resolve[1], resolve[1]),
        breaches,
        0,
        booked,
        NONE,
        NONE,
    )


def validated(blocks: list[Block]) -> list[dict[str, Any]]:
    """Each block as Slack gets it, checked by slack_sdk (to_dict validates every object)."""
    payload = [block.to_dict() for block in blocks]
    assert [b.to_dict() for b in Block.parse_all(payload)] == payload
    return payload


def fields_of(payload: list[dict[str, Any]]) -> list[str]:
    return [field["text"] for block in payload for field in block.get("fields", [])]


def texts_of(payload: list[dict[str, Any]]) -> str:
    return "\n".join(str(block) for block in payload)


# A week with four escalations, one of them still open, and a rate above the band.
BUSY = kpis(
    16,
    review=2,
    vip=2,
    escalations={
        "all": figures(4, (600.0, 2400.0, 0), (3600.0, 14400.0, 1), breaches=2, booked=1),
        "route:vip": figures(2, (1200.0, 2400.0, 0), (7200.0, 14400.0, 1), booked=1),
        "reason:keyword:urgent": figures(2, (300.0, 600.0, 0), (1800.0, 3600.0, 0)),
        "reason:vip_domain:majorclient.com": figures(2, (1200.0, 2400.0, 0), (7200.0, None, 1)),
    },
    meetings={"auto": Meetings(held=4, no_show=1), "human": Meetings(held=1, no_show=1)},
    in_progress=1,
)


def test_a_period_shows_every_kpi_in_short_words() -> None:
    assert BUSY.verdict.words == TOO_RESTRICTIVE
    payload = validated(period_blocks("Last 7 days", BUSY))

    assert payload[0]["text"]["text"] == "*Last 7 days*"
    assert fields_of(payload) == [
        "*Intervention rate*\n:large_orange_circle: 20.0% — too restrictive",
        "*Requests*\n20 finished, 4 escalated (1 in progress)",
        "*Time to claim*\np50 10 min · p90 40 min",
        "*Time to resolution*\np50 60 min · p90 4.0 h (1 still open)",
        "*No-show rate*\nauto-booked 20.0% · human-handled 50.0%",
        "*VIP conversion*\n50% (1 of 2 booked)",
        "*SLA breaches*\n2 of 4 (claimed after 15 min)",
        "*Client changes*\n0 cancelled · 0 rescheduled",
    ]
    # Above the band: the reason codes that send the most to people, with what to change.
    drivers = payload[1]["text"]["text"]
    assert drivers.startswith(DRIVERS_HEADING)
    assert '• `keyword:urgent`: 2 (10.0% of requests) — keyword "urgent": narrow it' in drivers
    assert "`vip_domain:majorclient.com`: 2" in drivers


def test_an_empty_period_shows_dashes_not_a_crash() -> None:
    empty = kpis()
    assert empty.verdict.words == NO_REQUESTS

    payload = validated(period_blocks("Last 30 days", empty))

    assert len(payload) == 1  # no drivers section
    assert fields_of(payload) == [
        "*Intervention rate*\n:white_circle: - — no requests",
        "*Requests*\n0 finished, 0 escalated",
        "*Time to claim*\np50 - · p90 -",
        "*Time to resolution*\np50 - · p90 - (0 still open)",
        "*No-show rate*\nauto-booked - · human-handled -",
        "*VIP conversion*\n- (0 of 0 booked)",
        "*SLA breaches*\n0 of 0 (claimed after 15 min)",
        "*Client changes*\n0 cancelled · 0 rescheduled",
    ]


def test_a_period_with_only_open_escalations_counts_them_at_their_age() -> None:
    # Two escalations nobody has claimed: 20 min and 2 h old at the end of the period.
    waiting = figures(2, (1200.0, 7200.0, 2), (1200.0, 7200.0, 2), breaches=2)
    only_open = kpis(
        18, review=2, escalations={"all": waiting, "route:review": waiting}, meetings={}
    )
    assert only_open.verdict.words == HEALTHY

    payload = validated(period_blocks("Last 7 days", only_open))

    fields = fields_of(payload)
    assert fields[0] == "*Intervention rate*\n:large_green_circle: 10.0% — healthy"
    assert fields[2] == "*Time to claim*\np50 20 min · p90 2.0 h"
    assert fields[3] == "*Time to resolution*\np50 20 min · p90 2.0 h (2 still open)"
    assert fields[4] == "*No-show rate*\nauto-booked - · human-handled -"
    assert fields[6] == "*SLA breaches*\n2 of 2 (claimed after 15 min)"
    assert len(payload) == 1  # healthy: nothing drives it


def test_below_the_band_the_verdict_says_so_without_drivers() -> None:
    loose = kpis(95, review=5, escalations={"all": figures(5, (60.0, 60.0, 0), (60.0, 60.0, 0))})
    assert loose.verdict.words == TOO_PERMISSIVE

    payload = validated(period_blocks("Last 30 days", loose))

    assert (
        fields_of(payload)[0] == "*Intervention rate*\n:large_yellow_circle: 5.0% — too permissive"
    )
    assert DRIVERS_HEADING not in texts_of(payload)


def test_long_reason_codes_stay_inside_slacks_limits() -> None:
    reason = "api_error:google:500:" + "x" * 5000
    noisy = kpis(
        1,
        review=9,
        escalations={
            "all": figures(9, (60.0, 60.0, 0), (60.0, 60.0, 0)),
            **{f"reason:{reason}{n}": figures(3, (1.0, 1.0, 0), (1.0, 1.0, 0)) for n in range(3)},
        },
    )

    for blocks in (period_blocks("Last 7 days", noisy), digest_blocks(noisy, noisy, NEW_YORK)):
        payload = validated(blocks)
        for block in payload:
            if block["type"] == "section":
                assert len(block.get("text", {}).get("text", "")) <= 3000
                assert len(block.get("fields", [])) <= 10
                assert all(len(f["text"]) <= FIELD_LIMIT for f in block.get("fields", []))
        assert sum(1 for b in payload if DRIVERS_HEADING in str(b)) == 1


# ------------------------------------------------------------------ the weekly digest


BEFORE = kpis(
    18,
    review=2,
    escalations={"all": figures(2, (300.0, 900.0, 0), (1200.0, 2400.0, 0))},
    since=SINCE - timedelta(days=7),
)


def test_the_digest_gives_each_figure_with_its_week_over_week_change() -> None:
    payload = validated(digest_blocks(BUSY, BEFORE, NEW_YORK))

    text = texts_of(payload)
    assert payload[0]["text"]["text"] == "Frontdesk weekly digest"
    assert "Mon 16 Nov to Sun 22 Nov 2026 (America/New_York)" in text
    rate = next(b for b in payload if "Human intervention rate" in str(b))["text"]["text"]
    assert rate.startswith(
        ":large_orange_circle: Human intervention rate *20.0%* (+10.0 pts vs 10.0% the week "
        "before) — *too restrictive*\n20.0% of requests reached people, above the 10%-15% band"
    )
    assert DRIVERS_HEADING in text
    assert fields_of(payload) == [
        "*Escalations*\n4 of 20 requests (+2)",
        "*Time to claim*\np50 10 min (+5 min) · p90 40 min (+25 min)",
        "*Time to resolution*\np50 60 min (+40 min), 1 still open",
        "*SLA breaches*\n2 (+2) of 4",
        "*No-show rate*\nauto-booked 20.0% · human-handled 50.0%",
        "*VIP conversion*\n50% (1 of 2 booked)",
        "*Client changes*\n0 cancelled · 0 rescheduled",
    ]
    assert digest_text(BUSY, BEFORE, NEW_YORK) == (
        "Frontdesk weekly digest (Mon 16 Nov to Sun 22 Nov 2026): human intervention rate "
        "20.0% (+10.0 pts vs 10.0% the week before), too restrictive. 4 escalations; time "
        "to claim p50 10 min; SLA breaches 2."
    )


def test_a_first_week_or_an_empty_one_has_no_change_to_show() -> None:
    empty = kpis(since=SINCE - timedelta(days=7))

    first = validated(digest_blocks(BUSY, empty, NEW_YORK))
    assert NO_EARLIER_RATE in texts_of(first)
    assert "*Time to claim*\np50 10 min · p90 40 min" in fields_of(first)

    quiet = validated(digest_blocks(empty, BUSY, NEW_YORK))
    assert "*Escalations*\n0 of 0 requests (-4)" in fields_of(quiet)
    assert "*Time to resolution*\np50 -, 0 still open" in fields_of(quiet)
    assert "no requests" in digest_text(empty, BUSY, NEW_YORK)


def test_changes_read_with_their_sign() -> None:
    assert points_change(0.125, 0.10) == "+2.5 pts"
    assert points_change(0.08, 0.125) == "-4.5 pts"
    assert points_change(None, 0.1) == ""
    assert count_change(3, 3) == " (±0)"
    assert count_change(1, 4) == " (-3)"
    assert duration_change(600.0, 5400.0) == " (-80 min)"
    assert duration_change(9000.0, 600.0) == " (+2.3 h)"
    assert duration_change(600.0, 600.0) == " (±0)"
    assert duration_change(600.0, None) == ""
