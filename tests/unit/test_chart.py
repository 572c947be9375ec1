"""`frontdesk report --png`: the weekly axis spans exactly the period asked for (a 30-day
report once drew 2025 to 2029 around one dot), and the axes say what they show."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib.pyplot as plt
import pytest
from matplotlib.dates import num2date

from bot.reports.chart import RATE_AXIS, build_figure, render_png
from bot.reports.kpis import HEALTHY_BAND, Week
from tests.unit.kpi_builders import kpis

ZONE = ZoneInfo("America/New_York")


def _weeks(since: datetime, until: datetime, counts: list[tuple[int, int]]) -> tuple[Week, ...]:
    """Week starts as compute_kpis makes them: the period's start, then Mondays 00:00."""
    local = since.astimezone(ZONE)
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0)
    starts = [since]
    while (monday := monday + timedelta(days=7)) < until:
        starts.append(monday.astimezone(UTC))
    assert len(starts) == len(counts)
    return tuple(Week(s, r, e) for s, (r, e) in zip(starts, counts, strict=True))


def _limits(figure) -> tuple[datetime, datetime]:
    low, high = figure.axes[0].get_xlim()
    return num2date(low).replace(tzinfo=None), num2date(high).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("counts", "label"),
    [
        ([(0, 0), (0, 0), (0, 0), (40, 6), (0, 0)], "one busy week"),
        ([(30, 3), (52, 7), (48, 12), (50, 5), (20, 2)], "every week"),
        ([(0, 0)] * 5, "nothing"),
    ],
)
def test_the_weekly_axis_spans_exactly_the_period(counts, label) -> None:
    since = datetime(2026, 11, 6, 5, 0, tzinfo=UTC)  # Fri 6 Nov 00:00 EST
    until = since + timedelta(days=30)
    figure = build_figure(
        replace(kpis(10, since=since, days=30), weeks=_weeks(since, until, counts)), ZONE
    )
    try:
        assert _limits(figure) == (datetime(2026, 11, 6), datetime(2026, 12, 6)), label
        rates = figure.axes[0]
        assert rates.get_ylabel() == RATE_AXIS
        assert "week" in rates.get_xlabel() and ZONE.key in rates.get_xlabel()
        assert figure.axes[1].get_ylabel() == "escalations"
        assert rates.get_ylim()[0] == 0 and rates.get_ylim()[1] >= HEALTHY_BAND[1]
        tick = rates.yaxis.get_major_formatter()(0.1, 0)
        assert tick == "10%"
        bars = [bar for container in rates.containers for bar in container]
        assert len(bars) == sum(1 for requests, _ in counts if requests)
        for bar in bars:  # a partial first or last week is drawn inside the period
            left = num2date(bar.get_x()).replace(tzinfo=None)
            right = num2date(bar.get_x() + bar.get_width()).replace(tzinfo=None)
            assert datetime(2026, 11, 6) <= left < right <= datetime(2026, 12, 6)
    finally:
        plt.close(figure)


def test_a_whole_year_is_one_year_wide(tmp_path: Path) -> None:
    since = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)
    figure = build_figure(kpis(100, since=since, days=365), ZONE)
    try:
        low, high = _limits(figure)
        assert (low, high) == (datetime(2026, 1, 1), datetime(2027, 1, 1))
    finally:
        plt.close(figure)
    path = tmp_path / "kpis.png"
    render_png(kpis(100, since=since, days=365), path, ZONE)
    assert path.read_bytes().startswith(b"\x89PNG")
