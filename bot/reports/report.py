"""`frontdesk report` in the terminal: the KPIs of bot/kpis.py as a readable table."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.reports.kpis import Kpis, Meetings
from storage.kpi_queries import AGE_LABELS, DurationStats


def duration(seconds: float | None) -> str:
    """Short human duration: "45 s", "12 min", "3.5 h", "2.1 d"; "-" for nothing."""
    if seconds is None:
        return "-"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 120 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def period_label(kpis: Kpis, zone: ZoneInfo) -> str:
    def local(at: datetime) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    return f"{local(kpis.since)} .. {local(kpis.until)} ({zone.key})"


def _stats_row(label: str, stats: DurationStats) -> str:
    return (
        f"  {label:<20} {duration(stats.p50):>9} {duration(stats.p90):>9} "
        f"{duration(stats.max):>9}   {stats.open} open"
    )


def _meetings_row(label: str, meetings: Meetings) -> str:
    return (
        f"  {label:<14} {percent(meetings.no_show_rate):>7}   held {meetings.held}, "
        f"no-show {meetings.no_show}, rescheduled {meetings.rescheduled}, "
        f"unanswered {meetings.unanswered}"
    )


def render_text(kpis: Kpis, zone: ZoneInfo) -> str:
    overall = kpis.overall
    verdict = kpis.verdict
    lines = [
        f"period: {period_label(kpis, zone)}",
        f"requests: {kpis.requests}   escalated: {kpis.escalated}   "
        f"(still in progress: {kpis.in_progress})",
        f"human intervention rate: {percent(kpis.rate)}   verdict: {verdict.words}",
        f"  {verdict.summary}",
    ]
    lines += [
        f"  - {d.reason}: {d.escalations} ({percent(d.share)}) — {d.advice}"
        for d in verdict.drivers
    ]
    lines += ["", "route      requests   share   to claim p50   to resolve p50   open"]
    for route, count in kpis.by_route.items():
        figures = kpis.route(route)
        claim, resolve = (
            ("", "")
            if route == "auto"
            else (duration(figures.to_claim.p50), duration(figures.to_resolution.p50))
        )
        lines.append(
            f"{route:<9} {count:>9} {percent(kpis.share(count)):>7} {claim:>14} "
            f"{resolve:>16} {'' if route == 'auto' else figures.to_resolution.open:>6}"
        )
    lines += [
        "",
        "escalations               p50       p90       max",
        _stats_row("time to claim", overall.to_claim),
        _stats_row("time to resolution", overall.to_resolution),
        f"  SLA ({kpis.sla_minutes} min) breached by {overall.sla_breaches} of "
        f"{overall.escalations}; {overall.sla_pinged} re-pinged in Slack",
    ]
    if overall.to_resolution.open:
        ages = ", ".join(
            f"{label} {count}"
            for label, count in zip(AGE_LABELS, overall.open_by_age, strict=True)
            if count
        )
        lines.append(f"  open by age: {ages}")
    lines += [
        "",
        "no-show rate (of meetings answered held or no-show)",
        _meetings_row("auto-booked", kpis.meeting("auto")),
        _meetings_row("human-handled", kpis.meeting("human")),
        "",
        f"VIP conversion: {percent(kpis.vip_conversion, 0)} "
        f"({kpis.route('vip').booked} booked of {kpis.route('vip').escalations} escalated)",
    ]
    return "\n".join(lines + _reason_rows(kpis))


def _reason_rows(kpis: Kpis) -> list[str]:
    """The reason table, as wide as its longest code: a code is never cut (two codes that
    differ only at the end, `api_error:google:403:…`, must stay apart)."""
    reasons = kpis.reasons
    if not reasons:
        return []
    width = max(len("reason code"), *(len(reason) for reason in reasons))
    rows = ["", f"{'reason code':<{width}} escalations   share   to claim p50"]
    rows += [
        f"{reason:<{width}} {figures.escalations:>11} "
        f"{percent(kpis.share(figures.escalations)):>7} {duration(figures.to_claim.p50):>14}"
        for reason, figures in reasons.items()
    ]
    return rows
