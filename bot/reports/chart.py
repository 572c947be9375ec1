"""`frontdesk report --png`: the weekly intervention rate against the healthy band, and how
long escalations took to resolve. matplotlib draws off-screen (Agg); no display needed.

The weekly axis spans exactly the report's period, in the business zone: each week is a bar
as wide as the days of it inside the period (the first and last may be partial), labelled
with its request count, so a quiet week cannot pass for a bad one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.reports.kpis import HEALTHY_BAND, HEALTHY_BAND_LABEL, Kpis
from bot.reports.report import period_label
from storage.kpi_queries import AGE_LABELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

RATE_TITLE = "Human intervention rate per week"
RATE_AXIS = "escalated ÷ finished requests (%)"
WEEK_AXIS = "week (starting Monday, {zone})"
RESOLUTION_TITLE = "Time to resolution of escalations"
RESOLUTION_AXIS = "time from escalation to resolution"
COUNT_AXIS = "escalations"
NO_DATA = "no requests in this period"
BAND_COLOUR = "tab:green"
IN_BAND, OUT_OF_BAND = "tab:blue", "tab:red"
MAX_WEEK_TICKS = 10


def _local(at: datetime, zone: ZoneInfo) -> datetime:
    """Naive local time: matplotlib's date axis then shows the business zone's days."""
    return at.astimezone(zone).replace(tzinfo=None)


def _num(at: datetime) -> float:
    """matplotlib's day number of a (naive local) time; its dates module is untyped."""
    from matplotlib.dates import date2num

    return float(date2num(at))  # type: ignore[no-untyped-call]


def _draw_rates(axes: Axes, kpis: Kpis, zone: ZoneInfo) -> None:
    from matplotlib.dates import AutoDateLocator, DateFormatter
    from matplotlib.patches import Patch
    from matplotlib.ticker import PercentFormatter

    low, high = HEALTHY_BAND
    axes.axhspan(low, high, color=BAND_COLOUR, alpha=0.18, label=f"healthy {HEALTHY_BAND_LABEL}")
    since, until = _local(kpis.since, zone), _local(kpis.until, zone)
    starts = [_local(week.start, zone) for week in kpis.weeks]
    ends = [*starts[1:], until][: len(starts)]
    top = 0.3
    for start, end, week in zip(starts, ends, kpis.weeks, strict=True):
        if week.rate is None:
            continue
        left, right = _num(max(start, since)), _num(min(end, until))
        colour = IN_BAND if low <= week.rate <= high else OUT_OF_BAND
        width = (right - left) * 0.9
        axes.bar(left + (right - left) * 0.05, week.rate, width=width, align="edge", color=colour)
        axes.annotate(
            f"{week.rate:.0%}\n{week.requests} req.",
            (left + (right - left) / 2, week.rate),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
        )
        top = max(top, week.rate * 1.3)
    if not any(week.requests for week in kpis.weeks):
        axes.text(0.5, 0.5, NO_DATA, ha="center", va="center", transform=axes.transAxes)
    axes.set_xlim(_num(since), _num(until))
    axes.set_ylim(0, top)
    span = until - since
    if len(starts) <= MAX_WEEK_TICKS:  # a tick where each week starts
        ticks = [max(start, since) for start in starts]
        if len(ticks) > 1 and ticks[1] - ticks[0] < timedelta(days=3):
            ticks = ticks[1:]  # a short first week: its label would overlap Monday's
        axes.set_xticks([_num(tick) for tick in ticks])
    else:
        axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8))  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(
        DateFormatter("%d %b" if span <= timedelta(days=120) else "%b %Y")  # type: ignore[no-untyped-call]
    )
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.set_title(RATE_TITLE)
    axes.set_xlabel(WEEK_AXIS.format(zone=zone.key))
    axes.set_ylabel(RATE_AXIS)
    axes.grid(axis="y", alpha=0.3)
    handles, _ = axes.get_legend_handles_labels()
    handles += [
        Patch(color=IN_BAND, label="week in the band"),
        Patch(color=OUT_OF_BAND, label="week outside it"),
    ]
    axes.legend(handles=handles, loc="upper left", fontsize=8)


def _draw_resolution(axes: Axes, kpis: Kpis) -> None:
    from matplotlib.ticker import MaxNLocator

    overall = kpis.overall
    axes.bar(AGE_LABELS, overall.resolution_histogram, color="tab:blue", label="resolved")
    axes.bar(
        AGE_LABELS,
        overall.open_by_age,
        bottom=overall.resolution_histogram,
        color="tab:orange",
        label="still open (by age)",
    )
    axes.set_title(RESOLUTION_TITLE)
    axes.set_xlabel(RESOLUTION_AXIS)
    axes.set_ylabel(COUNT_AXIS)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    tallest = max(
        (
            done + still
            for done, still in zip(overall.resolution_histogram, overall.open_by_age, strict=True)
        ),
        default=0,
    )
    axes.set_ylim(0, max(1, tallest) * 1.15)  # room above the tallest bar for the legend
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper right")


def build_figure(kpis: Kpis, zone: ZoneInfo) -> Figure:
    """The report's two charts side by side (the caller closes the figure)."""
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: a server has no display
    import matplotlib.pyplot as plt

    figure, (rates, resolution) = plt.subplots(1, 2, figsize=(13, 5), layout="constrained")
    figure.suptitle(f"Frontdesk KPIs, {period_label(kpis, zone)} — verdict: {kpis.verdict.words}")
    _draw_rates(rates, kpis, zone)
    _draw_resolution(resolution, kpis)
    return figure


def render_png(kpis: Kpis, path: Path, zone: ZoneInfo) -> None:
    figure = build_figure(kpis, zone)
    import matplotlib.pyplot as plt  # after build_figure chose the off-screen backend

    try:
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
