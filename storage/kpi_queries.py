"""KPI aggregates in SQL that runs unchanged on SQLite and PostgreSQL: request counts per
status, escalation durations and their counts, maxima and histograms (overall, per route
and per reason code), and meeting outcomes. bot/kpis.py turns these into the report.

The p50/p90 are picked by nearest rank from the durations each group lists (`_totals`).

A period is a cohort: the requests *received* in it, and what has happened to them by
`as_of` (now): an escalation from the period's last evening claimed the next morning
counts with its real time to claim, not as open, and its SLA breach is not lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Integer,
    Select,
    Subquery,
    TableClause,
    Text,
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal_column,
    select,
    table,
)

from storage.db import Database
from storage.statuses import BookingStatus, EscalationKind, MeetingOutcome, RequestStatus
from storage.types import UTCDateTime

# The columns the report reads, declared here rather than taken from storage.models: the
# report then starts without SQLModel (a third of `frontdesk report`'s start-up).
# tests/unit/test_kpi_tables.py checks them against the models.
_AT = UTCDateTime()
REQUESTS = table("booking_request", column("id"), column("status"), column("received_at", _AT))
ESCALATIONS = table(
    "escalation",
    column("request_id"),
    column("kind"),
    column("reasons", JSON),
    column("outcome"),
    column("sla_pings"),
    column("created_at", _AT),
    column("claimed_at", _AT),
    column("resolved_at", _AT),
)
BOOKINGS = table(
    "booking", column("status"), column("end", _AT), column("booked_by"), column("outcome")
)
CHANGES = table("booking_change", column("request_id"), column("kind"), column("status"))
# Client changes through the manage link (SPEC §11) the report counts: done ones only.
CHANGE_KINDS = ("cancel", "move")
CHANGE_DONE = "done"

ESCALATED = (
    RequestStatus.ESCALATED_VIP,
    RequestStatus.ESCALATED_MANUAL_REVIEW,
    RequestStatus.ESCALATED_ON_ERROR,
)
# Duration buckets (seconds) for the time-to-resolution histogram and open escalations'
# ages: under 15 min, 1 h, 4 h, 1 day, 3 days, 7 days, and older.
AGE_EDGES = (900, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400)
AGE_LABELS = ("<15m", "15m-1h", "1h-4h", "4h-1d", "1d-3d", "3d-7d", ">=7d")
ALL = "all"
ROUTE_PREFIX = "route:"
REASON_PREFIX = "reason:"


@dataclass(frozen=True)
class DurationStats:
    """Nearest-rank percentiles in seconds. `open` escalations (not yet claimed, or not
    yet resolved, at the report's end) are counted at their age then: leaving them out
    would make a slow queue look fast.
    """

    count: int
    open: int
    p50: float | None
    p90: float | None
    max: float | None


@dataclass(frozen=True)
class EscalationFigures:
    """One group of escalations: all, one route, or one reason code."""

    escalations: int
    to_claim: DurationStats
    to_resolution: DurationStats
    sla_breaches: int  # first touched (claim or close) later than the SLA, or not yet
    sla_pinged: int  # got at least one SLA re-ping in Slack
    booked: int  # closed as "booked"
    resolution_histogram: tuple[int, ...]  # resolved ones, per AGE_LABELS bucket
    open_by_age: tuple[int, ...]  # still open at the end, per AGE_LABELS bucket


@dataclass(frozen=True)
class MeetingCount:
    handled_by: str  # "auto" or "human"
    outcome: str | None  # held | no_show | rescheduled | None (not answered)
    count: int


def _seconds(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    # julianday is a float of days counted in whole milliseconds: round off its error so
    # 600 s compares equal to 600. Adding half and truncating rounds as round(x, 3) does
    # (below zero, where they differ, the caller takes 0), without its text round trip.
    milliseconds = (func.julianday(end) - func.julianday(start)) * 86_400_000.0
    return cast(milliseconds + 0.5, Integer) / 1000.0


def _least(dialect: str, a: Any, b: Any) -> ColumnElement[Any]:
    # SQLite's two-argument min() is its LEAST; its values here are ISO strings or numbers.
    return func.least(a, b) if dialect == "postgresql" else func.min(a, b)


def _greatest(dialect: str, a: Any, b: Any) -> ColumnElement[Any]:
    return func.greatest(a, b) if dialect == "postgresql" else func.max(a, b)


class KpiQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def requests_by_status(self, boundaries: Sequence[datetime]) -> list[dict[str, int]]:
        """Request counts per status for each period between consecutive `boundaries`
        (by when received). One indexed range count per period, in one transaction.
        """
        statement = (
            select(REQUESTS.c.status, func.count())
            .where(
                # Every status named, so each is one range of the (status, received_at) index.
                REQUESTS.c.status.in_(list(RequestStatus)),
                REQUESTS.c.received_at >= bindparam("since", type_=_AT),
                REQUESTS.c.received_at < bindparam("until", type_=_AT),
            )
            .group_by(REQUESTS.c.status)
        )
        with self.db.connection() as conn:
            return [
                {
                    str(status): int(count)
                    for status, count in conn.execute(statement, {"since": a, "until": b})
                }
                for a, b in pairwise(boundaries)
            ]

    def escalations(
        self, since: datetime, until: datetime, as_of: datetime, sla_seconds: float
    ) -> dict[str, EscalationFigures]:
        """Figures for the escalations of the requests received in [since, until), keyed
        "all", "route:<kind>" and "reason:<code>" (group sizes folded into "group_size").
        """
        params = {"since": since, "until": until, "as_of": as_of}
        totals: dict[str, _Totals] = {}
        with self.db.connection() as conn:
            statement = _totals(conn.dialect.name, sla_seconds)
            durations = _parse_listed(conn.dialect.name)
            for row in conn.execute(statement, params):
                sums = _Sums.of(row, durations)
                # Every escalation has one route: "all" is their sum, not a third copy.
                for grp in (ALL, ROUTE_PREFIX + row.kind, *_reason_groups(row)):
                    totals.setdefault(grp, _Totals()).add(sums)
        return {grp: totals[grp].figures() for grp in sorted(totals)}

    def meetings(self, since: datetime, until: datetime) -> list[MeetingCount]:
        """Confirmed meetings that ended in [since, until), by who booked them and what
        the host answered to "Did it happen?".
        """
        # Filtered counts in one pass over the covering index: a GROUP BY would sort a
        # year's 230,000 meetings (2.5x slower on SQLite). Every meeting and the auto-booked
        # ones, each answer among them: the human-handled are the difference (booked_by is
        # never NULL), one plain count instead of a filter; the answer is tested before who
        # booked, as most rows fail it (a fifth fewer SQLite instructions than before).
        b = BOOKINGS.c
        auto = b.booked_by == "auto"
        cells = [
            (who, outcome, func.count().filter(*([b.outcome == outcome] if outcome else []), *by))
            for who, by in ((None, []), ("auto", [auto]))
            for outcome in (None, *MeetingOutcome)
        ]
        statement = select(*(count for *_, count in cells)).where(
            b.status == BookingStatus.CONFIRMED,
            b.end >= bindparam("since", type_=_AT),
            b.end < bindparam("until", type_=_AT),
        )
        with self.db.connection() as conn:
            counts = conn.execute(statement, {"since": since, "until": until}).one()
        # (who, None) is every meeting of that kind; (who, outcome) those with that answer.
        found = {(who, outcome): int(n) for (who, outcome, _), n in zip(cells, counts, strict=True)}
        for outcome in (None, *MeetingOutcome):
            found["human", outcome] = found[None, outcome] - found["auto", outcome]
        meetings = []
        for who in ("auto", "human"):
            answered = [MeetingCount(who, o, found[who, o]) for o in MeetingOutcome]
            unanswered = found[who, None] - sum(m.count for m in answered)
            meetings += [*answered, MeetingCount(who, None, unanswered)]
        return meetings

    def changes(self, since: datetime, until: datetime) -> dict[tuple[str, str], int]:
        """Cancellations and moves made through the manage link, of the requests received
        in [since, until): (request status, change kind) -> count.
        """
        statement = (
            select(REQUESTS.c.status, CHANGES.c.kind, func.count())
            .select_from(CHANGES.join(REQUESTS, REQUESTS.c.id == CHANGES.c.request_id))
            .where(
                CHANGES.c.status == CHANGE_DONE,
                CHANGES.c.kind.in_(CHANGE_KINDS),
                REQUESTS.c.received_at >= bindparam("since", type_=_AT),
                REQUESTS.c.received_at < bindparam("until", type_=_AT),
            )
            .group_by(REQUESTS.c.status, CHANGES.c.kind)
        )
        with self.db.connection() as conn:
            if not has_rows(conn, CHANGES):
                return {}
            rows = conn.execute(statement, {"since": since, "until": until}).all()
        return {(str(status), str(kind)): int(count) for status, kind, count in rows}


def has_rows(conn: Connection, side: TableClause) -> bool:
    """Whether `side` holds a row at all. A join of the period's requests with a table
    that has none (no CRM, no change through the manage link yet) would still read every
    request of the period, a year's 250,000 rows for nothing: one step of an index says so.
    """
    return conn.execute(select(literal_column("1")).select_from(side).limit(1)).first() is not None


def _measured(dialect: str) -> Subquery:
    """One row per escalation of the cohort: its route, reason codes (the JSON as text),
    outcome, SLA pings, and whether it was claimed and resolved by as_of, and after how
    many seconds (or its age at as_of when not yet).
    """
    e = ESCALATIONS.c
    as_of = bindparam("as_of", type_=_AT)

    def until_as_of(at: Any) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
        """(1 when not yet done at as_of, seconds from opening to done or to as_of)."""
        done = and_(at.is_not(None), at <= as_of)
        end = _least(dialect, func.coalesce(at, as_of), as_of)
        # Never below zero: a replica whose clock lags may open one "after" as_of.
        return case((done, 0), else_=1), _greatest(dialect, _seconds(dialect, e.created_at, end), 0)

    claim_open, to_claim = until_as_of(e.claimed_at)
    resolve_open, to_resolve = until_as_of(e.resolved_at)
    return (
        select(
            e.kind,
            cast(e.reasons, Text).label("reasons"),
            e.outcome,
            e.sla_pings,
            claim_open.label("claim_open"),
            to_claim.label("to_claim"),
            resolve_open.label("resolve_open"),
            to_resolve.label("to_resolve"),
        )
        .select_from(REQUESTS.join(ESCALATIONS, e.request_id == REQUESTS.c.id))
        .where(
            REQUESTS.c.status.in_(ESCALATED),
            REQUESTS.c.received_at >= bindparam("since", type_=_AT),
            REQUESTS.c.received_at < bindparam("until", type_=_AT),
        )
        # A fence (OFFSET 0 is never merged into the outer query): each duration is then
        # worked out once per escalation, not again at each of its uses in _totals.
        .offset(0)
        .subquery("measured")
    )


def _listed(dialect: str, seconds: Any) -> ColumnElement[Any]:
    """The values of a group as one comma-separated string, for the percentiles; on SQLite
    as whole milliseconds (what its durations are exact to), which print faster than reals.
    """
    if dialect == "postgresql":
        return func.string_agg(cast(seconds, Text), ",")
    return func.group_concat(cast(seconds * 1000 + 0.5, Integer), ",")


def _parse_listed(dialect: str) -> Callable[[str], list[float]]:
    """Reads `_listed` back in seconds: k / 1000 is the very float SQLite's seconds were."""
    if dialect == "postgresql":
        return lambda listed: list(map(float, listed.split(",")))
    return lambda listed: [ms / 1000 for ms in map(int, listed.split(","))]


def _totals(dialect: str, sla_seconds: float) -> Select[Any]:
    """Per route, list of reason codes, open or not, and duration bucket: counts, the
    longest times, SLA breaches, bookings and the durations themselves. A group (a route,
    a reason code, all) is then the sum of its rows (`_Totals`); the reason codes are
    split in Python, from a few dozen distinct lists, rather than row by row in SQL.

    The p50/p90 are picked from the listed durations by nearest rank: SQLite has no
    percentile function, and its window functions cost about 5 us a row (a year's 90,000
    group rows took 0.45 s of windows); listing them costs one pass, shared with the sums.
    """
    m = _measured(dialect).c
    bucket = case(
        *((m.to_resolve < edge, index) for index, edge in enumerate(AGE_EDGES)),
        else_=len(AGE_EDGES),
    ).label("bucket")

    return select(
        m.kind,
        m.reasons,
        m.resolve_open,
        bucket,
        func.count().label("escalations"),
        func.count().filter(m.claim_open == 1).label("claim_open"),
        func.max(m.to_claim).label("claim_max"),
        func.max(m.to_resolve).label("resolve_max"),
        func.count().filter(m.to_claim > sla_seconds).label("sla_breaches"),
        func.count().filter(m.sla_pings > 0).label("sla_pinged"),
        func.count().filter(m.outcome == "booked").label("booked"),
        _listed(dialect, m.to_claim).label("claims"),
        _listed(dialect, m.to_resolve).label("resolutions"),
    ).group_by(m.kind, m.reasons, m.resolve_open, bucket)


def _reason_groups(row: Any) -> tuple[str, ...]:
    """The reason groups an escalation counts in, from its codes (a JSON list) and kind:
    group sizes folded into one, and for a VIP only its vip_domain code: it goes to its
    owner because of its domain, whatever its notes say, or "urgent" would look like a
    rule to loosen. A code listed twice counts twice, as it did in SQL.
    """
    codes = json.loads(row.reasons)
    if not isinstance(codes, list):
        return ()
    folded = (
        "group_size" if code.startswith("group_size:") else code
        for code in map(str, codes)
        if row.kind != EscalationKind.VIP or code.startswith("vip_domain:")
    )
    return tuple(REASON_PREFIX + code for code in folded)


@dataclass(frozen=True)
class _Sums:
    """One row of `_totals`, its durations parsed once for all the groups it counts in."""

    escalations: int
    claim_open: int
    claim_max: float
    resolve_max: float
    sla_breaches: int
    sla_pinged: int
    booked: int
    resolve_open: bool
    bucket: int
    claims: list[float]
    resolutions: list[float]

    @classmethod
    def of(cls, row: Any, durations: Callable[[str], list[float]]) -> _Sums:
        return cls(
            escalations=int(row.escalations),
            claim_open=int(row.claim_open),
            claim_max=float(row.claim_max),
            resolve_max=float(row.resolve_max),
            sla_breaches=int(row.sla_breaches),
            sla_pinged=int(row.sla_pinged),
            booked=int(row.booked),
            resolve_open=bool(row.resolve_open),
            bucket=int(row.bucket),
            # Sorted here, once: a group's list is then a few sorted runs, which the sort
            # for its percentiles merges rather than sorts afresh (a third less time).
            claims=sorted(durations(row.claims)),
            resolutions=sorted(durations(row.resolutions)),
        )


@dataclass
class _Totals:
    """One group's totals, summed over its rows of `_totals`."""

    escalations: int = 0
    claim_open: int = 0
    resolve_open: int = 0
    claim_max: float = 0.0
    resolve_max: float = 0.0
    sla_breaches: int = 0
    sla_pinged: int = 0
    booked: int = 0
    resolved_by_bucket: list[int] = field(default_factory=lambda: [0] * len(AGE_LABELS))
    open_by_bucket: list[int] = field(default_factory=lambda: [0] * len(AGE_LABELS))
    claims: list[float] = field(default_factory=list)
    resolutions: list[float] = field(default_factory=list)

    def add(self, row: _Sums) -> None:
        count = row.escalations
        self.escalations += count
        self.claim_open += row.claim_open
        self.claim_max = max(self.claim_max, row.claim_max)
        self.resolve_max = max(self.resolve_max, row.resolve_max)
        self.sla_breaches += row.sla_breaches
        self.sla_pinged += row.sla_pinged
        self.booked += row.booked
        self.claims += row.claims
        self.resolutions += row.resolutions
        if row.resolve_open:
            self.resolve_open += count
            self.open_by_bucket[row.bucket] += count
        else:
            self.resolved_by_bucket[row.bucket] += count

    def figures(self) -> EscalationFigures:
        count = self.escalations
        return EscalationFigures(
            escalations=count,
            to_claim=_stats(count, self.claim_open, self.claims, self.claim_max),
            to_resolution=_stats(count, self.resolve_open, self.resolutions, self.resolve_max),
            sla_breaches=self.sla_breaches,
            sla_pinged=self.sla_pinged,
            booked=self.booked,
            resolution_histogram=tuple(self.resolved_by_bucket),
            open_by_age=tuple(self.open_by_bucket),
        )


def nearest_rank(ordered: list[float], percent: int) -> float:
    """The ceil(p * n)-th smallest (integer arithmetic, so p90 of 10 is the 9th)."""
    return ordered[(percent * len(ordered) + 99) // 100 - 1]


def _number(value: Any) -> float | None:
    # PostgreSQL's EXTRACT gives Decimal; a tenth of a second is plenty.
    return None if value is None else round(float(value), 1)


def _stats(count: int, open_count: int, values: list[float], longest: Any) -> DurationStats:
    values.sort()
    return DurationStats(
        count,
        open_count,
        _number(nearest_rank(values, 50)),
        _number(nearest_rank(values, 90)),
        _number(longest),
    )
