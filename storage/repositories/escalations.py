"""Escalations: the tickets people work on in Slack."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal, or_, select, update
from sqlalchemy.engine import Connection

from storage.db import Database, Step
from storage.models import (
    BookingRequest,
    Escalation,
    EscalationKind,
    StoredEscalation,
    StoredRequest,
    utcnow,
)
from storage.repositories._sql import insert_ignore, table

ESCALATIONS = table(Escalation)
_AT_TYPE = ESCALATIONS.c.claimed_at.type

# Built once: constructing a statement costs more than running it on SQLite.
_NOTIFIED = (
    update(ESCALATIONS)
    .where(ESCALATIONS.c.id == bindparam("b_id"))
    .values(
        channel=bindparam("b_channel"),
        message_ts=bindparam("b_ts"),
        notified_at=bindparam("b_at", type_=ESCALATIONS.c.notified_at.type),
        notify_error=None,
    )
)
_BY_REQUEST = select(ESCALATIONS).where(ESCALATIONS.c.request_id == bindparam("b_request"))
_REQUESTS = table(BookingRequest)
_REQUEST_LABELS = [(c.name, f"r_{c.name}") for c in _REQUESTS.c]
_WITH_REQUEST = (
    select(ESCALATIONS, *(c.label(f"r_{c.name}") for c in _REQUESTS.c))
    .join(_REQUESTS, _REQUESTS.c.id == ESCALATIONS.c.request_id)
    .where(ESCALATIONS.c.request_id == bindparam("b_request"))
)
_NOTIFY_FAILED = (
    update(ESCALATIONS)
    .where(ESCALATIONS.c.id == bindparam("b_id"))
    .values(notify_error=bindparam("b_error"))
)


class Opening:
    """Opens one escalation inside a caller's transaction; `escalation` is the stored row
    once it ran (the one already open, when a retry finds it).
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.escalation: StoredEscalation | None = None

    def __call__(self, conn: Connection) -> None:
        new_id = insert_ignore(conn, Escalation, self.values)
        if new_id is not None:
            self.escalation = StoredEscalation(id=new_id, **self.values)
            return
        row = conn.execute(_BY_REQUEST, {"b_request": self.values["request_id"]}).one()
        self.escalation = StoredEscalation(**row._mapping)


def _guarded_update(*guards: Any) -> Any:
    """UPDATE of the request's escalation where `guards` hold, answering with the row."""
    return (
        update(ESCALATIONS)
        .where(ESCALATIONS.c.request_id == bindparam("b_request"), *guards)
        .returning(*ESCALATIONS.c)
    )


# The claim buttons' compare-and-sets, built once: they are what a click's ack waits for.
_CLAIM = _guarded_update(
    ESCALATIONS.c.claimed_by.is_(None), ESCALATIONS.c.resolved_at.is_(None)
).values(claimed_by=bindparam("b_user"), claimed_at=bindparam("b_at", type_=_AT_TYPE))
_UNCLAIM = _guarded_update(
    ESCALATIONS.c.claimed_by == bindparam("b_user"), ESCALATIONS.c.resolved_at.is_(None)
).values(claimed_by=None, claimed_at=None)


@dataclass(frozen=True)
class Changed:
    """The outcome of a compare-and-set: whether this call won, and the row as it now is."""

    won: bool
    escalation: StoredEscalation


class EscalationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open(self, opening: Opening) -> StoredEscalation:
        """Open the request's escalation once (`opening` says how); a retry gets the one
        already open."""
        self.commit(opening)
        assert opening.escalation is not None
        return opening.escalation

    @staticmethod
    def opening(
        request_id: str,
        kind: EscalationKind,
        reasons: list[str],
        *,
        priority: str = "normal",
        detail: str | None = None,
        assignee: str | None = None,
        at: datetime | None = None,
    ) -> Opening:
        """`open` as a step of someone else's transaction (a new request's own, say), its
        row built now, outside the write lock."""
        return Opening(
            {
                "request_id": request_id,
                "kind": kind,
                "priority": priority,
                "reasons": reasons,
                "detail": detail[:2000] if detail else None,
                "assignee": assignee,
                "created_at": at or utcnow(),
            }
        )

    def commit(self, step: Step) -> None:
        """Run a step (`opening`'s, `notified_step`'s) in a write transaction of its own."""
        with self.db.transaction() as conn:
            step(conn)

    def with_request(self, request_id: str) -> tuple[StoredRequest, StoredEscalation] | None:
        """The escalation and the request it is about, in one query (a redraw reads both
        for every click)."""
        with self.db.connection() as conn:
            row = conn.execute(_WITH_REQUEST, {"b_request": request_id}).first()
        if row is None:
            return None
        mapping = row._mapping
        request = StoredRequest(**{name: mapping[column] for name, column in _REQUEST_LABELS})
        escalation = StoredEscalation(**{c.name: mapping[c] for c in ESCALATIONS.c})
        return request, escalation

    def get_by_request(self, request_id: str) -> StoredEscalation | None:
        with self.db.connection() as conn:
            row = conn.execute(
                select(ESCALATIONS).where(ESCALATIONS.c.request_id == request_id)
            ).first()
        return None if row is None else StoredEscalation(**row._mapping)

    def mark_notified(self, escalation_id: int, channel: str, message_ts: str) -> None:
        self.commit(self.notified_step(escalation_id, channel, message_ts))

    @staticmethod
    def notified_step(escalation_id: int, channel: str, message_ts: str) -> Step:
        """`mark_notified` as a step of the request's closing transaction."""
        params = {"b_id": escalation_id, "b_channel": channel, "b_ts": message_ts, "b_at": utcnow()}

        def step(conn: Connection) -> None:
            conn.execute(_NOTIFIED, params)

        return step

    def mark_notify_failed(self, escalation_id: int, error: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(_NOTIFY_FAILED, {"b_id": escalation_id, "b_error": error[:500]})

    def claim(self, request_id: str, user_id: str, at: datetime) -> Changed:
        """First claim wins: one UPDATE guarded by `claimed_by IS NULL`, settled by the
        database, so two replicas and two people in the same second get one winner.
        """
        return self._run_compare_and_set(
            request_id, _CLAIM, {"b_request": request_id, "b_user": user_id, "b_at": at}
        )

    def unclaim(self, request_id: str, user_id: str) -> Changed:
        """Only the claimer can give a claim back, and only while the escalation is open."""
        return self._run_compare_and_set(
            request_id, _UNCLAIM, {"b_request": request_id, "b_user": user_id}
        )

    def reassign(self, request_id: str, assignee: str) -> Changed:
        """A claimed escalation's claim moves to the new assignee (its time stays)."""
        return self._compare_and_set(
            request_id,
            (ESCALATIONS.c.resolved_at.is_(None),),
            {
                "assignee": assignee,
                "claimed_by": case(
                    (ESCALATIONS.c.claimed_by.is_(None), None), else_=literal(assignee)
                ),
            },
        )

    def resolve(
        self, request_id: str, user_id: str, at: datetime, outcome: str, note: str | None
    ) -> Changed:
        """Close the escalation once. Acting on an unclaimed one counts as claiming it then,
        so time-to-claim stays defined for every resolved escalation.
        """
        return self._compare_and_set(
            request_id,
            (ESCALATIONS.c.resolved_at.is_(None),),
            {
                "resolved_by": user_id,
                "resolved_at": at,
                "outcome": outcome,
                "resolution_note": note[:2000] if note else None,
                "claimed_by": func.coalesce(ESCALATIONS.c.claimed_by, user_id),
                "claimed_at": func.coalesce(
                    ESCALATIONS.c.claimed_at, bindparam("b_claim_at", at, type_=_AT_TYPE)
                ),
            },
        )

    def undelivered(self, created_before: datetime, limit: int = 50) -> list[StoredEscalation]:
        """Escalations Slack has not been told about yet (a failed post, a crash)."""
        with self.db.connection() as conn:
            rows = conn.execute(
                select(ESCALATIONS)
                .where(
                    ESCALATIONS.c.notified_at.is_(None),
                    ESCALATIONS.c.resolved_at.is_(None),
                    ESCALATIONS.c.created_at < created_before,
                )
                .order_by(ESCALATIONS.c.id)
                .limit(limit)
            ).all()
        return [StoredEscalation(**row._mapping) for row in rows]

    def _compare_and_set(
        self, request_id: str, guards: tuple[Any, ...], values: dict[str, Any]
    ) -> Changed:
        statement = _guarded_update(*guards).values(values)
        return self._run_compare_and_set(request_id, statement, {"b_request": request_id})

    def _run_compare_and_set(
        self, request_id: str, statement: Any, params: dict[str, Any]
    ) -> Changed:
        # RETURNING: the winner has its row from the one statement (a claim's ack waits on
        # this, under SQLite's single writer lock); only a loser reads it, in the same
        # transaction, to say who won.
        with self.db.transaction() as conn:
            row = conn.execute(statement, params).first()
            won = row is not None
            if not won:
                row = conn.execute(_BY_REQUEST, {"b_request": request_id}).first()
        if row is None:
            raise LookupError(f"no escalation for request {request_id}")
        return Changed(won, StoredEscalation(**row._mapping))

    def open_for(self, user_id: str, limit: int = 20) -> list[StoredEscalation]:
        """Open escalations assigned to or claimed by the user, oldest first."""
        with self.db.connection() as conn:
            rows = conn.execute(
                select(ESCALATIONS)
                .where(
                    ESCALATIONS.c.resolved_at.is_(None),
                    (ESCALATIONS.c.assignee == user_id) | (ESCALATIONS.c.claimed_by == user_id),
                )
                .order_by(ESCALATIONS.c.id)
                .limit(limit)
            ).all()
        return [StoredEscalation(**row._mapping) for row in rows]

    def count_open(self) -> tuple[int, int]:
        """(open escalations, of which unclaimed)."""
        with self.db.connection() as conn:
            row = conn.execute(
                select(
                    func.count(),
                    func.count().filter(ESCALATIONS.c.claimed_by.is_(None)),
                ).where(ESCALATIONS.c.resolved_at.is_(None))
            ).one()
        return int(row[0]), int(row[1])

    def sla_due(self, due_before: Sequence[datetime], limit: int = 50) -> list[StoredEscalation]:
        """Open, unclaimed escalations already in Slack that are owed an SLA re-ping: those
        with `n` pings so far that were created by `due_before[n]` (when ping n+1 falls
        due). Only open rows are read (the resolved_at index), so the cost follows the open
        backlog, not the history; those pinged in full match no `owed` term and are
        dropped here, not by the caller.
        """
        owed = [
            and_(ESCALATIONS.c.sla_pings == sent, ESCALATIONS.c.created_at <= before)
            for sent, before in enumerate(due_before)
        ]
        with self.db.connection() as conn:
            rows = conn.execute(
                select(ESCALATIONS)
                .where(
                    ESCALATIONS.c.resolved_at.is_(None),
                    ESCALATIONS.c.claimed_at.is_(None),
                    ESCALATIONS.c.message_ts.is_not(None),
                    or_(*owed),
                )
                .order_by(ESCALATIONS.c.created_at, ESCALATIONS.c.id)
                .limit(limit)
            ).all()
        return [StoredEscalation(**row._mapping) for row in rows]

    def advance_sla(self, escalation_id: int, seen: int, new: int, at: datetime | None) -> bool:
        """Record ping `new` (posted, or given up) if the count still is `seen` and nobody
        has claimed or closed the escalation: of several replicas, one records each ping.
        """
        with self.db.transaction() as conn:
            return (
                conn.execute(
                    update(ESCALATIONS)
                    .where(
                        ESCALATIONS.c.id == escalation_id,
                        ESCALATIONS.c.sla_pings == seen,
                        ESCALATIONS.c.claimed_at.is_(None),
                        ESCALATIONS.c.resolved_at.is_(None),
                    )
                    .values(sla_pings=new, sla_pinged_at=at)
                ).rowcount
                == 1
            )
