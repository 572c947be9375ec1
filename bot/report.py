"""KPIs over a period (`frontdesk report`): how much needs people, and how fast they act.

Counts are aggregated in SQL; durations are fetched as pairs of instants and summarised
here, which keeps the queries identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from storage.db import Database
from storage.models import BookingRequest, Escalation, EscalationKind, RequestStatus

ROUTES = {
    RequestStatus.BOOKED_AUTO: "auto",
    RequestStatus.ESCALATED_VIP: "vip",
    RequestStatus.ESCALATED_MANUAL_REVIEW: "review",
    RequestStatus.ESCALATED_ON_ERROR: "error",
}
HEALTHY_BAND = (0.10, 0.15)


def percentiles(seconds: list[float]) -> dict[str, float | None]:
    """Nearest-rank p50/p90 and the max; None when there is nothing to measure."""
    if not seconds:
        return {"p50": None, "p90": None, "max": None}
    ordered = sorted(seconds)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {"p50": rank(0.50), "p90": rank(0.90), "max": ordered[-1]}


def verdict(rate: float | None) -> str:
    if rate is None:
        return "no requests in this period"
    low, high = HEALTHY_BAND
    if rate < low:
        return "too permissive: fewer requests reach people than the 10-15 % band"
    if rate > high:
        return "too restrictive: more requests reach people than the 10-15 % band"
    return "healthy: inside the 10-15 % band"


def compute_report(db: Database, since: datetime, until: datetime) -> dict[str, Any]:
    with db.read() as session:
        by_status = dict(
            session.exec(
                select(BookingRequest.status, func.count())
                .where(
                    col(BookingRequest.received_at) >= since,
                    col(BookingRequest.received_at) < until,
                )
                .group_by(col(BookingRequest.status))
            ).all()
        )
        escalations = session.execute(
            sa_select(
                col(Escalation.kind),
                col(Escalation.created_at),
                col(Escalation.claimed_at),
                col(Escalation.resolved_at),
                col(Escalation.outcome),
            ).where(col(Escalation.created_at) >= since, col(Escalation.created_at) < until)
        ).all()
    by_route = {route: int(by_status.get(status, 0)) for status, route in ROUTES.items()}
    finished = sum(by_route.values())
    escalated = finished - by_route["auto"]
    rate = escalated / finished if finished else None
    to_claim = [(c - created).total_seconds() for _, created, c, _, _ in escalations if c]
    to_resolve = [(r - created).total_seconds() for _, created, _, r, _ in escalations if r]
    vips = [outcome for kind, _, _, _, outcome in escalations if kind == EscalationKind.VIP]
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "requests": finished,
        "in_progress": int(by_status.get(RequestStatus.RECEIVED, 0))
        + int(by_status.get(RequestStatus.PROCESSING, 0)),
        "escalated": escalated,
        "human_intervention_rate": round(rate, 4) if rate is not None else None,
        "verdict": verdict(rate),
        "by_route": by_route,
        "time_to_claim": percentiles(to_claim),
        "time_to_resolution": percentiles(to_resolve),
        "open_escalations": sum(1 for *_, resolved, _ in escalations if resolved is None),
        # Filled once the post-meeting "did it happen?" prompts exist.
        "no_show_rate": {"auto": None, "human": None},
        "vip_conversion": (
            round(sum(1 for outcome in vips if outcome == "booked") / len(vips), 4)
            if vips
            else None
        ),
    }


def _duration(value: float | None) -> str:
    if value is None:
        return "-"
    minutes = value / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def render_report(report: dict[str, Any]) -> str:
    rate = report["human_intervention_rate"]
    lines = [
        f"period: {report['since'][:10]} .. {report['until'][:10]}",
        f"requests: {report['requests']}  (in progress: {report['in_progress']})",
        f"escalated: {report['escalated']}",
        "human intervention rate: " + ("-" if rate is None else f"{rate:.1%}"),
        f"verdict: {report['verdict']}",
        "",
        "route   count",
        *(f"{route:<7} {count:>5}" for route, count in report["by_route"].items()),
        "",
        "                     p50       p90       max",
    ]
    for key, label in (("time_to_claim", "time to claim"), ("time_to_resolution", "to resolve")):
        stats = report[key]
        lines.append(
            f"{label:<16} {_duration(stats['p50']):>9} {_duration(stats['p90']):>9} "
            f"{_duration(stats['max']):>9}"
        )
    lines.append(f"open escalations: {report['open_escalations']}")
    conversion = report["vip_conversion"]
    lines.append("VIP conversion: " + ("-" if conversion is None else f"{conversion:.0%}"))
    return "\n".join(lines)
