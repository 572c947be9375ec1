"""`frontdesk report --png`: the weekly intervention rate against the healthy band, and how
long escalations took to resolve. matplotlib draws off-screen (Agg); no display needed.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from bot.reports.kpis import HEALTHY_BAND, HEALTHY_BAND_LABEL, Kpis
from bot.reports.report import period_label
from storage.kpi_queries import AGE_LABELS

RATE_TITLE = "Human intervention rate per week"
RESOLUTION_TITLE = "Time to resolution of escalations"
NO_DATA = "no requests in this period"


def render_png(kpis: Kpis, path: Path, zone: ZoneInfo) -> None:
    import matplotlib

    matplotlib.use("Agg")  # before pyplot: a server has no display
    import matplotlib.pyplot as plt
    from matplotlib.dates import DateFormatter
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    figure, (rates, resolution) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    figure.suptitle(f"Frontdesk KPIs, {period_label(kpis, zone)} — verdict: {kpis.verdict.words}")

    weeks = [week for week in kpis.weeks if week.requests]
    low, high = HEALTHY_BAND
    rates.axhspan(low, high, color="tab:green", alpha=0.15, label=f"healthy {HEALTHY_BAND_LABEL}")
    if weeks:
        # Real dates, not labels: a year's first and last weeks may share a "23 Nov".
        starts = [week.start.astimezone(zone).date() for week in weeks]
        values = [week.rate or 0.0 for week in weeks]
        rates.plot(starts, values, marker="o", color="tab:blue", label="escalated ÷ requests")
        rates.set_ylim(0, max(0.3, max(values) * 1.15))
        rates.xaxis.set_major_formatter(DateFormatter("%d %b %y"))  # type: ignore[no-untyped-call]
    else:
        rates.text(0.5, 0.5, NO_DATA, ha="center", va="center", transform=rates.transAxes)
        rates.set_ylim(0, 0.3)
    rates.yaxis.set_major_formatter(PercentFormatter(1.0))
    rates.set_title(RATE_TITLE)
    rates.set_xlabel("week starting (Monday)")
    rates.tick_params(axis="x", labelrotation=45)
    rates.legend(loc="upper right")

    overall = kpis.overall
    resolution.bar(AGE_LABELS, overall.resolution_histogram, color="tab:blue", label="resolved")
    resolution.bar(
        AGE_LABELS,
        overall.open_by_age,
        bottom=overall.resolution_histogram,
        color="tab:orange",
        label="still open (by age)",
    )
    resolution.set_title(RESOLUTION_TITLE)
    resolution.set_xlabel("time from escalation to resolution")
    resolution.set_ylabel("escalations")
    resolution.yaxis.set_major_locator(MaxNLocator(integer=True))
    resolution.legend(loc="upper right")

    figure.savefig(path, dpi=100)
    plt.close(figure)
