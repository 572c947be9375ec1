"""The KPIs of SPEC §7 over a period: how much reaches people (Human Intervention Rate,
overall, per route and per reason code), how fast people act (time to claim and to
resolution), whether meetings happen (no-show rate, auto-booked vs human-handled), VIP
conversion and SLA breaches, with the healthy-band verdict and what drives it.

The SQL lives in storage/kpi_queries.py; this module names and judges the figures.
Every consumer (`frontdesk report`, the Home tab, the weekly digest) uses `compute_kpis`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.reasons import advice
from bot.domain.slots import local_instant
from storage.kpi_queries import (
    AGE_LABELS,
    ALL,
    REASON_PREFIX,
    ROUTE_PREFIX,
    DurationStats,
    EscalationFigures,
    KpiQueries,
    MeetingCount,
)
from storage.statuses import EscalationKind, MeetingOutcome, RequestStatus

HEALTHY_BAND = (0.10, 0.15)
HEALTHY_BAND_LABEL = f"{HEALTHY_BAND[0]:.0%}-{HEALTHY_BAND[1]:.0%}"
ROUTES = {
    RequestStatus.BOOKED_AUTO: "auto",
    RequestStatus.ESCALATED_VIP: "vip",
    RequestStatus.ESCALATED_MANUAL_REVIEW: "review",
    RequestStatus.ESCALATED_ON_ERROR: "error",
}
KIND_ROUTES: dict[str, str] = {
    EscalationKind.VIP: "vip",
    EscalationKind.MANUAL_REVIEW: "review",
    EscalationKind.ON_ERROR: "error",
}
IN_PROGRESS = (RequestStatus.RECEIVED, RequestStatus.PROCESSING)
DRIVERS_SHOWN = 3

TOO_RESTRICTIVE = "too restrictive"
HEALTHY = "healthy"
TOO_PERMISSIVE = "too permissive"
NO_REQUESTS = "no requests"

EMPTY_DURATIONS = DurationStats(0, 0, None, None, None)
EMPTY_FIGURES = EscalationFigures(
    0, EMPTY_DURATIONS, EMPTY_DURATIONS, 0, 0, 0, (0,) * len(AGE_LABELS), (0,) * len(AGE_LABELS)
)


@dataclass(frozen=True)
class Driver:
    """A reason code and how much of the period's traffic it sent to people."""

    reason: str
    escalations: int
    share: float  # of all requests in the period
    advice: str


@dataclass(frozen=True)
class Verdict:
    words: str  # too restrictive | healthy | too permissive | no requests
    summary: str
    drivers: tuple[Driver, ...]


@dataclass(frozen=True)
class Week:
    start: datetime  # Monday 00:00 in the business zone (or the period's start)
    requests: int
    escalated: int

    @property
    def rate(self) -> float | None:
        return self.escalated / self.requests if self.requests else None


@dataclass(frozen=True)
class Meetings:
    held: int = 0
    no_show: int = 0
    rescheduled: int = 0
    unanswered: int = 0

    @property
    def no_show_rate(self) -> float | None:
        """No-shows among the meetings whose host answered held or no-show."""
        answered = self.held + self.no_show
        return self.no_show / answered if answered else None


@dataclass(frozen=True)
class Kpis:
    since: datetime
    until: datetime
    as_of: datetime
    sla_minutes: int
    requests: int  # finished: in one of the four final statuses
    in_progress: int
    by_route: dict[str, int]  # requests per route
    escalations: dict[str, EscalationFigures]  # "all", route names, reason codes
    meetings: dict[str, Meetings]  # "auto" and "human"
    weeks: tuple[Week, ...]
    verdict: Verdict = field(init=False)
    # Changes clients made through the manage link (SPEC §11): route -> count.
    cancellations: dict[str, int] = field(default_factory=dict)
    reschedules: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", judge(self))

    @property
    def escalated(self) -> int:
        return self.requests - self.by_route["auto"]

    @property
    def rate(self) -> float | None:
        return self.escalated / self.requests if self.requests else None

    @property
    def overall(self) -> EscalationFigures:
        return self.escalations.get(ALL, EMPTY_FIGURES)

    def route(self, name: str) -> EscalationFigures:
        return self.escalations.get(ROUTE_PREFIX + name, EMPTY_FIGURES)

    @property
    def reasons(self) -> dict[str, EscalationFigures]:
        """Per reason code, the most frequent first."""
        found = {
            key.removeprefix(REASON_PREFIX): figures
            for key, figures in self.escalations.items()
            if key.startswith(REASON_PREFIX)
        }
        return dict(sorted(found.items(), key=lambda item: (-item[1].escalations, item[0])))

    @property
    def vip_conversion(self) -> float | None:
        vip = self.route("vip")
        return vip.booked / vip.escalations if vip.escalations else None

    def share(self, count: int) -> float | None:
        return _rounded(count / self.requests) if self.requests else None

    def meeting(self, handled_by: str) -> Meetings:
        """The meetings "auto" (auto-booked) or "human" (booked from Slack) ended with."""
        return self.meetings.get(handled_by, Meetings())


def week_boundaries(since: datetime, until: datetime, zone: ZoneInfo) -> list[datetime]:
    """`since`, every Monday 00:00 in `zone` strictly between, and `until` (aware UTC
    instants; DST-correct, so a week is 167 or 169 hours where the clocks change).
    """
    boundaries = [since]
    local = since.astimezone(zone).date()
    monday = local + timedelta(days=(7 - local.weekday()) % 7 or 7)
    while True:
        start = local_day_start(monday, zone).astimezone(UTC)
        if start >= until:
            break
        boundaries.append(start)
        monday += timedelta(days=7)
    boundaries.append(until)
    return boundaries


def compute_kpis(
    queries: KpiQueries,
    since: datetime,
    until: datetime,
    *,
    now: datetime,
    sla_minutes: int,
    zone: ZoneInfo | None = None,
) -> Kpis:
    """The KPIs of the requests received in [since, until), as they stand `now`; with a
    business `zone`, also week by week (Monday 00:00 there), which only the report shows.
    """
    as_of = now
    boundaries = week_boundaries(since, until, zone) if zone else [since, until]
    per_week = queries.requests_by_status(boundaries)
    totals: dict[str, int] = {}
    weeks = []
    for start, counts in zip(boundaries, per_week, strict=False):
        for status, count in counts.items():
            totals[status] = totals.get(status, 0) + count
        finished = sum(counts.get(status, 0) for status in ROUTES)
        auto = counts.get(RequestStatus.BOOKED_AUTO, 0)
        weeks.append(Week(start, finished, finished - auto))
    by_route = {route: totals.get(status, 0) for status, route in ROUTES.items()}
    figures = queries.escalations(since, until, as_of, sla_minutes * 60)
    escalations = {_route_named(key): value for key, value in figures.items()}
    return Kpis(
        since=since,
        until=until,
        as_of=as_of,
        sla_minutes=sla_minutes,
        requests=sum(by_route.values()),
        in_progress=sum(totals.get(status, 0) for status in IN_PROGRESS),
        by_route=by_route,
        escalations=escalations,
        meetings=_meetings(queries.meetings(since, until)),
        weeks=tuple(weeks),
        **_changes(queries.changes(since, until)),
    )


def _changes(counts: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    """Cancellations and reschedules per route (every route named, zero included)."""
    found: dict[str, dict[str, int]] = {
        name: dict.fromkeys(ROUTES.values(), 0) for name in ("cancellations", "reschedules")
    }
    by_status = {str(status): route for status, route in ROUTES.items()}
    for (status, kind), count in counts.items():
        route = by_status.get(status)
        if route is not None:
            found["cancellations" if kind == "cancel" else "reschedules"][route] += count
    return found


def _route_named(key: str) -> str:
    """Escalation kinds named like the routes: "route:manual_review" -> "route:review"."""
    if not key.startswith(ROUTE_PREFIX):
        return key
    kind = key.removeprefix(ROUTE_PREFIX)
    return ROUTE_PREFIX + KIND_ROUTES.get(kind, kind)


def _meetings(counts: list[MeetingCount]) -> dict[str, Meetings]:
    tallies: dict[str, dict[str, int]] = {"auto": {}, "human": {}}
    for row in counts:
        name = row.outcome if row.outcome in set(MeetingOutcome) else "unanswered"
        tally = tallies.setdefault(row.handled_by, {})
        tally[str(name)] = tally.get(str(name), 0) + row.count
    return {who: Meetings(**tally) for who, tally in tallies.items()}


def judge(kpis: Kpis) -> Verdict:
    """The healthy-band verdict in words. Above the band, the reason codes that send the
    most requests to people are the rules to loosen; below it, no code is at fault (the
    rules catch too little), so the advice is to tighten.
    """
    rate = kpis.rate
    low, high = HEALTHY_BAND
    band = HEALTHY_BAND_LABEL
    if rate is None:
        return Verdict(NO_REQUESTS, "no finished requests in this period", ())
    share = f"{rate:.1%} of requests reached people"
    if rate > high:
        drivers = tuple(
            Driver(
                reason, figures.escalations, kpis.share(figures.escalations) or 0.0, advice(reason)
            )
            for reason, figures in list(kpis.reasons.items())[:DRIVERS_SHOWN]
        )
        return Verdict(
            TOO_RESTRICTIVE, f"{share}, above the {band} band; what sends them to people", drivers
        )
    if rate < low:
        return Verdict(
            TOO_PERMISSIVE,
            f"{share}, below the {band} band: tighten the gate (more escalation keywords, a "
            "lower group_size_threshold) and check that exceptions are not booked blindly",
            (),
        )
    return Verdict(HEALTHY, f"{share}, inside the {band} band", ())


def _durations(stats: DurationStats) -> dict[str, Any]:
    return {"p50": stats.p50, "p90": stats.p90, "max": stats.max, "open": stats.open}


def _escalation_json(kpis: Kpis, figures: EscalationFigures) -> dict[str, Any]:
    return {
        "escalations": figures.escalations,
        "share_of_requests": kpis.share(figures.escalations),
        "time_to_claim": _durations(figures.to_claim),
        "time_to_resolution": _durations(figures.to_resolution),
        "sla_breaches": figures.sla_breaches,
        "open": figures.to_resolution.open,
    }


def as_json(kpis: Kpis) -> dict[str, Any]:
    """The report's JSON (SPEC §7 keys, plus the detail behind them); seconds for times."""
    overall = kpis.overall
    vip = kpis.route("vip")
    by_route: dict[str, Any] = {}
    for route, count in kpis.by_route.items():
        entry: dict[str, Any] = {
            "requests": count,
            "share": kpis.share(count),
            "cancellations": kpis.cancellations.get(route, 0),
            "reschedules": kpis.reschedules.get(route, 0),
        }
        if route != "auto":
            entry |= _escalation_json(kpis, kpis.route(route))
        by_route[route] = entry
    return {
        "since": kpis.since.isoformat(),
        "until": kpis.until.isoformat(),
        "as_of": kpis.as_of.isoformat(),
        "requests": kpis.requests,
        "in_progress": kpis.in_progress,
        "escalated": kpis.escalated,
        "human_intervention_rate": _rounded(kpis.rate),
        "healthy_band": list(HEALTHY_BAND),
        "verdict": kpis.verdict.words,
        "verdict_summary": kpis.verdict.summary,
        "drivers": [
            {"reason": d.reason, "escalations": d.escalations, "share": d.share, "advice": d.advice}
            for d in kpis.verdict.drivers
        ],
        "time_to_claim": _durations(overall.to_claim),
        "time_to_resolution": _durations(overall.to_resolution),
        "open_escalations": overall.to_resolution.open,
        "open_by_age": dict(zip(AGE_LABELS, overall.open_by_age, strict=True)),
        "resolution_histogram": dict(zip(AGE_LABELS, overall.resolution_histogram, strict=True)),
        "sla_minutes": kpis.sla_minutes,
        "sla_breaches": overall.sla_breaches,
        "sla_pinged": overall.sla_pinged,
        "no_show_rate": {
            who: _rounded(kpis.meeting(who).no_show_rate) for who in ("auto", "human")
        },
        "meetings": {who: asdict(m) for who, m in kpis.meetings.items()},
        "vip_conversion": _rounded(kpis.vip_conversion),
        "vip": {"escalated": vip.escalations, "booked": vip.booked},
        "cancellations": {**kpis.cancellations, "total": sum(kpis.cancellations.values())},
        "reschedules": {**kpis.reschedules, "total": sum(kpis.reschedules.values())},
        "by_route": by_route,
        "by_reason": {
            reason: _escalation_json(kpis, figures) for reason, figures in kpis.reasons.items()
        },
        "weekly": [
            {
                "week_start": week.start.isoformat(),
                "requests": week.requests,
                "escalated": week.escalated,
                "human_intervention_rate": _rounded(week.rate),
            }
            for week in kpis.weeks
        ],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def local_day_start(day: date, zone: ZoneInfo) -> datetime:
    """The start of `day` in `zone` as an aware instant (what --since/--until dates mean)."""
    return local_instant(day, time(0), zone)
