"""From a stored request to one of the four outcomes, exactly once.

A request is processed under a lease (a compare-and-set on its row): whoever holds the
lease does the work; a duplicate submission waits for the result; a lease that runs out
because its holder died lets the recovery sweep (or the next duplicate) finish the job.
Every side effect downstream is idempotent, so finishing twice cannot book twice.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from bot.domain.config import Config
from bot.domain.gate import GateDecision, GateInput, Route, decide
from bot.domain.intake import ValidRequest
from bot.domain.privacy import client_data
from bot.services.booking import Booked, Booker, PlannedHold, Unavailable
from bot.services.escalation import Escalator
from integrations.base import IntegrationError
from storage.db import Step, chain
from storage.models import EscalationKind, RequestStatus, StoredBooking, StoredRequest, utcnow
from storage.repositories import RequestRepository
from storage.repositories.escalations import Opening
from storage.repositories.requests import DecisionRecord

log = logging.getLogger("frontdesk.processing")

EMAIL_FAILED_DETAIL = (
    "The meeting exists in the calendar, but the client was NOT confirmed: {error}. "
    "Please confirm it to them by hand."
)
CALENDAR_FAILED_DETAIL = (
    "The calendar did not confirm the booking, so the client was not told anything: {error}"
)
INTERNAL_FAILED_DETAIL = "Frontdesk hit an unexpected error while booking ({error}); see the logs."


@dataclass(frozen=True)
class Routed:
    """Where a request ended, and what its outcome's transaction must also write."""

    status: RequestStatus
    reasons: list[str]
    booking: StoredBooking | None = None
    detail: str | None = None
    pending: Step | None = None
    then: Callable[[], None] | None = None  # once the outcome is committed (a CRM ticket)


@dataclass(frozen=True)
class FirstWrites:
    """A new request's route's first write, committed with the request itself."""

    hold: PlannedHold | None = None
    opening: Opening | None = None

    def __call__(self, conn: Connection) -> None:
        if self.hold is not None:
            self.hold.write(conn)
        if self.opening is not None:
            self.opening(conn)


class StillProcessing(Exception):
    """A duplicate waited, but the original is still being processed; `retry_after` is
    how long until its holder's lease runs out (when a retry can take it over)."""

    def __init__(self, request_id: str, retry_after: int = 5) -> None:
        super().__init__(request_id)
        self.request_id = request_id
        self.retry_after = retry_after


@dataclass(frozen=True)
class Submitted:
    request_id: str
    response: dict[str, Any]
    replay: bool


def booking_json(booking: StoredBooking) -> dict[str, Any]:
    return {
        "rep": booking.rep_email,
        "start": booking.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": booking.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "event_id": booking.event_id,
        "ical_uid": booking.ical_uid,
        "video_url": booking.video_url,
    }


def rules_version(config: Config) -> str:
    """A short fingerprint of the gate rules, so the audit log says which rules decided."""
    rules = config.gate_rules
    text = repr((sorted(rules.vip_domains), rules.escalation_keywords, rules.group_size_threshold))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class RequestProcessor:
    def __init__(
        self,
        config: Config,
        requests: RequestRepository,
        booker: Booker,
        escalator: Escalator,
        *,
        lease: timedelta = timedelta(minutes=2),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.requests = requests
        self.booker = booker
        self.escalator = escalator
        self.lease = lease
        self.clock = clock
        self.rules_version = rules_version(config)

    # -- intake -------------------------------------------------------------------------

    def submit(
        self, valid: ValidRequest, idempotency_key: str, body_sha256: str, wait: float = 30.0
    ) -> Submitted:
        """Store the request (before any external call), then process it or replay it.

        A new request is stored already holding its processing lease, with its gate
        decision and the first write of its route (its escalation, or a hold of its slot),
        in one transaction: nobody else can pick it up, and the audit log cannot miss the
        decision. Its outcome is the one other transaction of ours.
        """
        decision = self._decide(valid.email, valid.notes, valid.requested_start is not None)
        now = self.clock()
        request = StoredRequest(
            idempotency_key=idempotency_key,
            body_sha256=body_sha256,
            status=RequestStatus.PROCESSING,
            lease_until=now + self.lease,
            attempts=1,
            name=valid.name,
            email=valid.email,
            phone=valid.phone,
            sms_opt_in=valid.sms_opt_in,
            company=valid.company,
            notes=valid.notes,
            timezone=valid.timezone,
            requested_start=valid.requested_start,
            duration_minutes=valid.duration_minutes,
            rep_email=valid.rep,
            utm=valid.utm,
        )
        gate = self._gate_record(decision, at=utcnow())  # decided before what it leads to
        first = self._first_writes(request, decision)
        row, created = self.requests.create(request, gate, also=first)
        if created:
            return Submitted(row.id, self._run(row, decision, first), replay=False)
        if row.body_sha256 != body_sha256:
            log.warning(
                "idempotency key reused with a different body; replaying the original",
                extra={"request_id": row.id},
            )
        return Submitted(row.id, self.process(row.id, wait=wait), replay=True)

    def replay(self, idempotency_key: str, wait: float = 30.0) -> Submitted | None:
        """The stored answer to a submission seen before, or None for a new one."""
        row = self.requests.get_by_key(idempotency_key)
        if row is None:
            return None
        return Submitted(row.id, self.process(row.id, wait=wait), replay=True)

    def process(self, request_id: str, wait: float = 30.0) -> dict[str, Any]:
        """The request's final response: computed here, or awaited from whoever holds it."""
        deadline = time.monotonic() + wait
        delay = 0.02
        while True:
            request = self.requests.get(request_id)
            if request is None:
                raise LookupError(f"request {request_id} does not exist")
            if RequestStatus(request.status).is_final and request.response is not None:
                return request.response
            claimed = self.requests.claim_for_processing(request_id, self.lease, self.clock())
            if claimed is not None:
                return self._run(claimed)
            if time.monotonic() >= deadline:
                raise StillProcessing(request_id, self._until_lease_ends(request))
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _until_lease_ends(self, request: StoredRequest) -> int:
        """Whole seconds until the holder's lease runs out (1 at least, the lease at most)."""
        if request.lease_until is None:
            return 1
        left = (request.lease_until - self.clock()).total_seconds()
        return max(1, min(math.ceil(left), math.ceil(self.lease.total_seconds())))

    def recover(self, received_grace: timedelta = timedelta(seconds=10)) -> int:
        """Finish or escalate every request a crash left unfinished; return how many."""
        now = self.clock()
        finished = 0
        for request_id in self.requests.unfinished(now - received_grace, now):
            claimed = self.requests.claim_for_processing(request_id, self.lease, now)
            if claimed is None:
                continue
            log.warning("recovering unfinished request", extra={"request_id": request_id})
            try:
                self._run(claimed)
                finished += 1
            except Exception:
                # Outside _run's own redaction: the traceback may quote the client's words.
                with client_data(claimed.name, claimed.phone, claimed.company, claimed.notes):
                    log.exception("recovery failed; will retry", extra={"request_id": request_id})
        return finished

    # -- the pipeline ---------------------------------------------------------------------

    def _decide(self, email: str, notes: str, has_time: bool) -> GateDecision:
        return decide(
            GateInput(email=email, notes=notes, has_requested_time=has_time),
            self.config.gate_rules,
        )

    def _gate_record(self, decision: GateDecision, at: datetime | None = None) -> DecisionRecord:
        route, reasons = decision.route, list(decision.reasons)
        return DecisionRecord("gate", route, reasons, self.rules_version, at=at)

    def _first_writes(self, request: StoredRequest, decision: GateDecision) -> FirstWrites:
        """What the route writes first, prepared now to commit with the new request."""
        if decision.route is Route.AUTO:
            return FirstWrites(hold=self.booker.plan_first_hold(request))
        kind = EscalationKind.VIP if decision.route is Route.VIP else EscalationKind.MANUAL_REVIEW
        return FirstWrites(
            opening=self.escalator.plan_opening(request, kind, list(decision.reasons))
        )

    def _run(
        self,
        request: StoredRequest,
        decision: GateDecision | None = None,
        first: FirstWrites | None = None,
    ) -> dict[str, Any]:
        with client_data(request.name, request.phone, request.company, request.notes):
            return self._run_logged(request, decision, first or FirstWrites())

    def _run_logged(
        self, request: StoredRequest, decision: GateDecision | None, first: FirstWrites
    ) -> dict[str, Any]:
        if decision is None:  # resuming: the gate is deterministic, its first record stays
            decision = self._decide(
                request.email, request.notes, request.requested_start is not None
            )
            self.requests.record_decision(request.id, self._gate_record(decision))
        routed = self._route(request, decision, first)
        status, reasons = routed.status, routed.reasons
        response: dict[str, Any] = {"request_id": request.id, "status": status, "reasons": reasons}
        if routed.booking is not None:
            response["booking"] = booking_json(routed.booking)
        outcome = DecisionRecord("outcome", status, reasons, self.rules_version, routed.detail)
        self.requests.finish(request.id, status, reasons, response, outcome, also=routed.pending)
        if routed.then is not None:
            routed.then()
        log.info(
            "request routed",
            extra={"request_id": request.id, "outcome": str(status), "reasons": reasons},
        )
        return response

    def _route(self, request: StoredRequest, decision: GateDecision, first: FirstWrites) -> Routed:
        reasons = list(decision.reasons)
        if decision.route is Route.VIP:
            status, kind = RequestStatus.ESCALATED_VIP, EscalationKind.VIP
        elif decision.route is Route.REVIEW:
            status, kind = RequestStatus.ESCALATED_MANUAL_REVIEW, EscalationKind.MANUAL_REVIEW
        else:
            return self._book(request, first.hold)
        return self._escalate(request, status, kind, reasons, opened=first.opening)

    def _escalate(
        self,
        request: StoredRequest,
        status: RequestStatus,
        kind: EscalationKind,
        reasons: list[str],
        detail: str | None = None,
        opened: Opening | None = None,
    ) -> Routed:
        escalation, notified = self.escalator.escalate_deferred(
            request, kind, reasons, detail, opened=opened
        )
        return Routed(
            status,
            reasons,
            detail=detail,
            pending=notified,
            then=lambda: self.escalator.open_crm_ticket(request, escalation),
        )

    def _book(self, request: StoredRequest, first_hold: PlannedHold | None) -> Routed:
        try:
            outcome = self.booker.book(
                request,
                resuming=request.attempts > 1,
                defer_sent=True,
                first_hold=first_hold,
            )
        except IntegrationError as exc:
            return self._failed(request, [exc.code], CALENDAR_FAILED_DETAIL.format(error=exc))
        except Exception as exc:
            log.exception("booking crashed", extra={"request_id": request.id})
            detail = INTERNAL_FAILED_DETAIL.format(error=type(exc).__name__)
            return self._failed(request, [f"internal_error:{type(exc).__name__}"], detail)
        if isinstance(outcome, Unavailable):
            status, kind = RequestStatus.ESCALATED_MANUAL_REVIEW, EscalationKind.MANUAL_REVIEW
            return self._escalate(request, status, kind, list(outcome.reasons), outcome.detail)
        assert isinstance(outcome, Booked)
        if outcome.email_error is not None:
            error = outcome.email_error
            failed = self._failed(request, [error.code], EMAIL_FAILED_DETAIL.format(error=error))
            # The meeting exists: the outcome keeps it, with the confirmation's writes.
            return replace(
                failed, booking=outcome.booking, pending=chain(outcome.pending, failed.pending)
            )
        return Routed(RequestStatus.BOOKED_AUTO, [], outcome.booking, pending=outcome.pending)

    def _failed(self, request: StoredRequest, reasons: list[str], detail: str) -> Routed:
        status, kind = RequestStatus.ESCALATED_ON_ERROR, EscalationKind.ON_ERROR
        return self._escalate(request, status, kind, reasons, detail)
