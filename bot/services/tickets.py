"""CRM tickets for escalations (SPEC §12): a VIP request (and, by default, every automation
failure) becomes one high-priority ticket in the team's CRM, beside the Slack escalation and
never instead of it.

The Slack post always goes first; the ticket is opened after it, in the background or by
the upkeep job, and the Slack message is then redrawn with the ticket's link (or why it is
still pending). Exactly one ticket per request: the outbox claim `crm:ticket:<request_id>`
lets one worker of several call the CRM, a claim left by a crash is taken over only once it
is stale, and the CRM is searched by the request id (HubSpot) or upserted by it
(Salesforce) before anything is created.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict
from datetime import datetime, timedelta

from bot.domain.config import Config
from bot.domain.reasons import describe
from bot.services.telemetry import count_integration_error
from integrations.tickets import CrmError, TicketDraft, TicketRef, TicketSink
from storage.models import (
    EscalationKind,
    OutboxStatus,
    StoredEscalation,
    StoredRequest,
    StoredTicket,
    TicketStatus,
    utcnow,
)
from storage.repositories import (
    EscalationRepository,
    OutboxRepository,
    RequestRepository,
    TicketRepository,
)

log = logging.getLogger("frontdesk.tickets")

SUBJECT_VIP = "VIP booking request: {name} ({company})"
SUBJECT_VIP_NO_COMPANY = "VIP booking request: {name}"
SUBJECT_ERROR = "Booking automation failed: {name}"
SUBJECT_REVIEW = "Booking request for review: {name}"
NO_TIME = "no time selected"

# The line under the Slack escalation about its ticket.
TICKET_LINK = ":ticket: <{url}|Open in {crm}>"
TICKET_OPEN_NO_LINK = ":ticket: {crm} ticket {ticket_id}"
TICKET_CLOSED = " (closed)"
TICKET_CREATING = ":hourglass_flowing_sand: Creating the {crm} ticket…"
TICKET_PENDING = (
    ":hourglass_flowing_sand: The {crm} ticket is pending: {error}. Frontdesk tries again "
    "at {when}."
)
TICKET_FAILED = (
    ":warning: The {crm} ticket could not be created: {error}. Fix it (`frontdesk check` "
    "names the problem); Frontdesk tries again daily for a week. The escalation here is "
    "unaffected."
)

# Which `[crm] ticket_on` names which escalations.
KIND_NAMES = {
    EscalationKind.VIP: "vip",
    EscalationKind.ON_ERROR: "error",
    EscalationKind.MANUAL_REVIEW: "review",
}

# Retries: after a failure, wait this long times two per attempt, at most the cap (and at
# least what the CRM asked for); after this many attempts a person has to look.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
MAX_ATTEMPTS = 10
# A claim older than this was left by a worker that died mid-call (a few calls, each
# with its timeout and retries, fit well inside it). Waiting this long also lets HubSpot's
# search index catch up before the take-over searches for the ticket.
CLAIM_TIMEOUT = timedelta(minutes=5)
# A ticket that failed for good is tried again this often (someone may have fixed the
# CRM's set-up meanwhile), for this long after its request.
FAILED_RETRY = timedelta(days=1)
FAILED_RETRY_FOR = timedelta(days=7)


def retry_at(now: datetime, attempts: int, retry_after: float | None) -> datetime:
    """When to try again after the `attempts`-th failure."""
    backoff = min(RETRY_BASE * (1 << max(0, attempts - 1)), RETRY_CAP)
    asked = timedelta(seconds=retry_after) if retry_after else timedelta(0)
    return now + max(backoff, asked)


def ticket_draft(
    config: Config, request: StoredRequest, escalation: StoredEscalation
) -> TicketDraft:
    """The ticket for an escalated request: subject, text, client and account owner."""
    kind = EscalationKind(escalation.kind)
    if kind is EscalationKind.VIP:
        template = SUBJECT_VIP if request.company else SUBJECT_VIP_NO_COMPANY
        subject = template.format(name=request.name, company=request.company)
    elif kind is EscalationKind.ON_ERROR:
        subject = SUBJECT_ERROR.format(name=request.name)
    else:
        subject = SUBJECT_REVIEW.format(name=request.name)
    when = request.requested_start.isoformat() if request.requested_start else NO_TIME
    lines = [
        f"Client: {request.name} <{request.email}>",
        f"Company: {request.company or '—'}",
        f"Requested time: {when} (client's zone {request.timezone}), "
        f"{request.duration_minutes} min",
        "Why a person handles it:",
        *(f"- {describe(code)}" for code in escalation.reasons),
    ]
    if escalation.detail:
        lines.append(escalation.detail)
    if request.notes.strip():
        lines += ["", "Notes:", request.notes.strip()]
    lines += ["", f"Frontdesk request {request.id}"]
    owner = None
    if kind is EscalationKind.VIP:
        domain = next(
            (r.split(":", 1)[1] for r in escalation.reasons if r.startswith("vip_domain:")), ""
        )
        account = config.vip_account(domain)
        owner = account.owner_email if account else None
    return TicketDraft(
        request_id=request.id,
        kind=KIND_NAMES[kind],
        subject=subject[:255],
        content="\n".join(lines),
        client_name=request.name,
        client_email=request.email,
        company=request.company,
        phone=request.phone,
        owner_email=owner,
    )


class TicketService:
    """Opens, shows and closes the CRM tickets of escalations."""

    def __init__(
        self,
        config: Config,
        sink: TicketSink,
        tickets: TicketRepository,
        outbox: OutboxRepository,
        requests: RequestRepository,
        escalations: EscalationRepository,
        *,
        clock: Callable[[], datetime] = utcnow,
        redraw: Callable[[str], None] | None = None,
        claim_timeout: timedelta = CLAIM_TIMEOUT,
    ) -> None:
        if config.crm is None:
            raise ValueError("TicketService needs a [crm] section")
        self.crm = config.crm
        self.config = config
        self.sink = sink
        self.tickets = tickets
        self.outbox = outbox
        self.requests = requests
        self.escalations = escalations
        self.clock = clock
        self.redraw = redraw  # rewrites a request's Slack message from the database
        self.claim_timeout = claim_timeout
        # One worker: a CRM that is slow or down holds up its own tickets, nothing else.
        self.background = ThreadPoolExecutor(1, thread_name_prefix="crm-ticket")
        self._futures: list[Future[None]] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ hooks

    def wants(self, kind: str) -> bool:
        name = KIND_NAMES.get(EscalationKind(kind))
        return name is not None and name in self.crm.ticket_on

    def escalated(self, request: StoredRequest, escalation: StoredEscalation) -> None:
        """After the Slack escalation: note the ticket to open, and open it in the
        background (the upkeep job retries whatever this leaves undone).
        """
        if not self.wants(escalation.kind):
            return
        ticket = self.tickets.ensure(request.id, self.sink.name, escalation.kind, self.clock())
        if ticket.status == TicketStatus.PENDING:
            self._submit(request.id)

    def closed(self, request_id: str, outcome: str) -> None:
        """The escalation was booked or resolved in Slack: close the ticket with it."""
        if self.tickets.request_close(request_id, outcome):
            self._submit(request_id)

    def line(self, request_id: str) -> str | None:
        """What the Slack message says about the ticket, or None when there is none."""
        ticket = self.tickets.get(request_id)
        return None if ticket is None else self._line(ticket)

    def _line(self, ticket: StoredTicket) -> str:
        crm = self.sink.label
        if ticket.status in (TicketStatus.OPEN, TicketStatus.CLOSED):
            text = (
                TICKET_LINK.format(url=ticket.url, crm=crm)
                if ticket.url
                else TICKET_OPEN_NO_LINK.format(crm=crm, ticket_id=ticket.ticket_id)
            )
            return text + (TICKET_CLOSED if ticket.status == TicketStatus.CLOSED else "")
        if ticket.status == TicketStatus.FAILED:
            return TICKET_FAILED.format(crm=crm, error=ticket.last_error or "unknown error")
        if ticket.last_error and ticket.next_attempt_at:
            when = ticket.next_attempt_at
            stamp = f"<!date^{int(when.timestamp())}^{{time}}|{when:%H:%M} UTC>"
            return TICKET_PENDING.format(crm=crm, error=ticket.last_error, when=stamp)
        return TICKET_CREATING.format(crm=crm)

    # ------------------------------------------------------------------ the work

    def attempt(self, request_id: str) -> str:
        """One go at the ticket's CRM work (open it, then close it if the escalation is
        closed), and the Slack message redrawn; returns what happened, for the counts.
        """
        ticket = self.tickets.get(request_id)
        request = self.requests.get(request_id)
        escalation = self.escalations.get_by_request(request_id)
        if ticket is None or request is None or escalation is None:
            return "missing"
        draft = ticket_draft(self.config, request, escalation)
        result = "nothing"
        try:
            if ticket.status in (TicketStatus.PENDING, TicketStatus.FAILED):
                ref = self._open_once(draft)
                if ref is None:
                    return "elsewhere"  # another worker holds the claim and records it
                self.tickets.mark_open(
                    request_id,
                    ticket_id=ref.ticket_id,
                    url=ref.url,
                    contact_id=ref.contact_id,
                    at=self.clock(),
                )
                result = "opened"
                ticket = self.tickets.get(request_id) or ticket
            if ticket.status == TicketStatus.OPEN and ticket.close_outcome and ticket.ticket_id:
                ref = TicketRef(self.sink.name, ticket.ticket_id, ticket.url, ticket.contact_id)
                self.sink.close(ref, draft, ticket.close_outcome)
                self.tickets.mark_closed(request_id, self.clock())
                result = "closed"
        except CrmError as error:
            result = self._failed(ticket, error)
        except Exception as exc:  # a bug or a surprise answer: retried like an outage
            log.exception(
                "CRM ticket attempt failed unexpectedly", extra={"request_id": request_id}
            )
            surprise = CrmError(self.sink.name, "exception", type(exc).__name__, repr(exc)[:300])
            result = self._failed(ticket, surprise)
        self.show(request_id)
        return result

    def _open_once(self, draft: TicketDraft) -> TicketRef | None:
        """The ticket, opened by this worker under the outbox claim, or found in the outbox
        (someone recorded it before); None while another worker holds a fresh claim.
        """
        if self.sink.name == "sandbox":
            # Nothing leaves the machine: its record, once per key, is the whole ticket.
            return self.sink.open(draft)
        claim = self.outbox.record(
            draft.dedupe_key,
            "crm",
            "tickets.create",
            draft.payload(),
            request_id=draft.request_id,
            status=OutboxStatus.PENDING,
        )
        row_id = claim.id
        if not claim.created:
            row = self.outbox.get(draft.dedupe_key)
            if row is None or row.id is None:
                return None
            if row.status == OutboxStatus.SENT and row.result:
                return TicketRef(**row.result)  # opened; only the ticket row missed it
            stale = utcnow() - row.created_at >= self.claim_timeout
            if row.status == OutboxStatus.PENDING and not stale:
                return None
            if not self.outbox.take_over(row):
                return None
            row_id = row.id
            log.info("resuming an earlier ticket attempt", extra={"request_id": draft.request_id})
        try:
            ref = self.sink.open(draft)
        except CrmError as error:
            self.outbox.mark_failed(row_id, f"{error.code} {error.message}")
            raise
        except Exception as exc:
            # Unexpected, but the claim must not sit PENDING until it goes stale.
            self.outbox.mark_failed(row_id, repr(exc))
            raise
        self.outbox.mark_sent(row_id, asdict(ref))
        return ref

    def _failed(self, ticket: StoredTicket, error: CrmError) -> str:
        count_integration_error(error)
        attempts = ticket.attempts + 1
        if error.retryable and attempts < MAX_ATTEMPTS:
            next_at = retry_at(self.clock(), attempts, error.retry_after)
            self.tickets.mark_retry(ticket.request_id, error.message, next_at)
            log.warning(
                "CRM ticket attempt failed; retrying later",
                extra={
                    "request_id": ticket.request_id,
                    "error": error.code,
                    "retry_at": next_at.isoformat(),
                },
            )
            return "retry"
        if ticket.status in (TicketStatus.PENDING, TicketStatus.FAILED):
            now = self.clock()
            again = (
                now + FAILED_RETRY
                if now + FAILED_RETRY <= ticket.created_at + FAILED_RETRY_FOR
                else None
            )
            self.tickets.mark_failed(ticket.request_id, error.message, again)
        elif self.clock() - ticket.created_at < FAILED_RETRY_FOR:  # a close: keep at it
            self.tickets.mark_retry(ticket.request_id, error.message, self.clock() + RETRY_CAP)
        else:  # a close that kept failing: the ticket stays open in the CRM for a person
            self.tickets.drop_close(ticket.request_id, error.message)
        log.error(
            "CRM ticket failed; a person must look",
            extra={"request_id": ticket.request_id, "error": error.code},
        )
        return "failed"

    def show(self, request_id: str) -> None:
        """Redraw the request's Slack message with the ticket's state (once it exists)."""
        ticket = self.tickets.get(request_id)
        escalation = self.escalations.get_by_request(request_id)
        if ticket is None or escalation is None or not escalation.message_ts:
            return  # the Slack post, when it comes, reads the ticket's state itself
        if self.redraw is not None:
            self.redraw(request_id)
        self.tickets.mark_shown(request_id, ticket.status)

    # ------------------------------------------------------------------ upkeep

    def tick(self) -> dict[str, int]:
        """The upkeep job's part: every ticket whose retry is due, and every Slack message
        that does not show its ticket's state yet.
        """
        counts = {"tickets_opened": 0, "tickets_closed": 0, "tickets_failed": 0}
        for ticket in self.tickets.due(self.clock()):
            result = self.attempt(ticket.request_id)
            key = {"opened": "tickets_opened", "closed": "tickets_closed"}.get(result)
            if key is None and result in ("retry", "failed"):
                key = "tickets_failed"
            if key is not None:
                counts[key] += 1
        for ticket in self.tickets.unshown():
            self.show(ticket.request_id)
        return counts

    def _submit(self, request_id: str) -> None:
        future = self.background.submit(self._attempt_quietly, request_id)
        with self._lock:
            self._futures = [f for f in self._futures if not f.done()] + [future]

    def _attempt_quietly(self, request_id: str) -> None:
        try:
            self.attempt(request_id)
        except Exception:  # the upkeep job tries again; the escalation is not affected
            log.exception("CRM ticket attempt crashed", extra={"request_id": request_id})

    def drain(self, timeout: float = 10.0) -> None:
        """Wait for the background attempts started so far (tests, shutdown)."""
        with self._lock:
            pending = list(self._futures)
        wait(pending, timeout=timeout)
