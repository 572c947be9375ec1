"""`frontdesk demo`: a realistic recent month of history, so a newcomer's Home tab, `frontdesk
report` and its chart show something true-shaped on the first day.

The month is generated from a seed (the same seed gives the same clients, notes, times and
answers) and shifted to end now. Every request goes through the real gate
(`bot/domain/gate.py`) with the config's rules: VIP domains, keywords and group sizes route
it as they would in production; a few of the automatic ones then fail on a calendar or
email error. Escalations are claimed and resolved by the config's reps after realistic
delays (a few breach the SLA, the last days' are partly still open), meetings that ended
have the host's answer (held, no-show, rescheduled, a few unanswered), and some bookings
are cancelled. Everything is written through the repositories, marked as already posted
and prompted, so the scheduler does not re-send a month of Slack messages.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.config import Config, Rep
from bot.domain.gate import GateInput, Route, decide
from bot.services.processing import booking_json, rules_version
from storage.models import BookingRequest, StoredBooking
from storage.repositories import BookingRepository, EscalationRepository, RequestRepository
from storage.repositories.demo import DemoRepository
from storage.repositories.requests import DecisionRecord
from storage.statuses import EscalationKind, MeetingOutcome, Outcome, RequestStatus

DEMO_KEY_PREFIX = "demo:"
DEMO_ID_PREFIX = "req_demo"
REQUESTS_PER_WEEKDAY = 9
DEMO_CHANNEL = "C0DEMO"

FIRST_NAMES = (
    "Dana", "Jonas", "Priya", "Mateo", "Aiko", "Lena", "Kwame", "Sofia", "Omar", "Ines",
    "Noah", "Mei", "Tariq", "Elena", "Ravi", "Chloe", "Felix", "Amara", "Yusuf", "Nora",
)  # fmt: skip
LAST_NAMES = (
    "Reyes", "Okafor", "Natarajan", "Silva", "Tanaka", "Berg", "Mensah", "Rossi", "Haddad",
    "Costa", "Kim", "Chen", "Aziz", "Novak", "Iyer", "Martin", "Weber", "Diallo", "Demir",
)  # fmt: skip
COMPANIES = (
    "northwind.example", "fabrikam.example", "contoso.example", "tailspin.example",
    "litware.example", "adatum.example", "wingtip.example", "proseware.example",
)  # fmt: skip
CLIENT_ZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Australia/Sydney",
)  # fmt: skip
# Notes as clients write them: most route automatically, some trip a keyword or a group size.
PLAIN_NOTES = (
    "Looking forward to a quick intro.",
    "Would like a demo of the reporting features.",
    "Referred by a colleague.",
    "Questions about pricing for a small team.",
    "",
    "Follow-up from our call last week.",
    "Interested in the annual plan.",
)
REVIEW_NOTES = (
    "Need to book a demo for our team of 12",
    "Urgent: contract renewal next week",
    "We'd like a custom request: on-site workshop",
    "Can we reschedule the session from Tuesday?",
    "Looking for a group walkthrough",
    "8 people will join from our side",
)
ERROR_REASONS = (
    "api_error:google:403:insufficientPermissions",
    "api_error:google:503:backendError",
    "api_error:postmark:422:406",
)
RESOLUTION_NOTES = {
    Outcome.BOOKED: "Booked a slot that suits the whole group.",
    Outcome.DECLINED: "Not a fit for us; replied by email.",
    Outcome.DUPLICATE: "Same client asked twice; kept the first.",
    Outcome.HANDLED_ELSEWHERE: "Their account manager took it.",
}


@dataclass
class DemoSummary:
    """What was loaded, for the command's closing lines."""

    since: datetime
    until: datetime
    requests: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    escalations: int = 0
    still_open: int = 0
    bookings: int = 0
    cancelled: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    already_loaded: bool = False


@dataclass(frozen=True)
class _Client:
    name: str
    email: str
    company: str
    zone: str
    notes: str


class DemoHistory:
    """Writes the demo month through the repositories."""

    def __init__(
        self,
        config: Config,
        requests: RequestRepository,
        escalations: EscalationRepository,
        bookings: BookingRepository,
        demo: DemoRepository,
    ) -> None:
        self.config = config
        self.requests = requests
        self.escalations = escalations
        self.bookings = bookings
        self.demo = demo
        self.version = rules_version(config)

    def real_requests(self) -> int:
        return self.demo.count_requests(DEMO_KEY_PREFIX)[1]

    def load(self, *, now: datetime, days: int = 30, seed: int = 2026) -> DemoSummary:
        """Load the month once: with a demo already in the database, nothing is added."""
        rng = random.Random(seed)
        since = now - timedelta(days=days)
        summary = DemoSummary(since=since, until=now)
        if self.demo.count_requests(DEMO_KEY_PREFIX)[0]:
            summary.already_loaded = True
            return summary
        arrivals = self._arrivals(rng, since, now)
        for index, received in enumerate(arrivals):
            if not self._one(rng, index, received, now, summary):
                summary.already_loaded = True
        return summary

    # -- arrivals and clients -------------------------------------------------------------

    def _arrivals(self, rng: random.Random, since: datetime, now: datetime) -> list[datetime]:
        """Business-hours arrivals in the config's zone, fewer at weekends, and a busier
        week now and then (so the weekly rate moves as real ones do)."""
        zone = self.config.zone
        found: list[datetime] = []
        day = since.astimezone(zone).date()
        while day <= now.astimezone(zone).date():
            weekend = day.weekday() >= 5
            busy = 1.4 if day.isocalendar().week % 3 == 0 else 1.0
            count = round(rng.gauss(2 if weekend else REQUESTS_PER_WEEKDAY * busy, 1.5))
            for _ in range(max(0, count)):
                minute = rng.randint(8 * 60, 19 * 60)
                at = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
                if since <= at < now - timedelta(minutes=30):
                    found.append(at.astimezone(since.tzinfo))
            day += timedelta(days=1)
        return sorted(found)

    def _client(self, rng: random.Random) -> _Client:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        vip_domains = [vip.domain for vip in self.config.vip]
        domain = (
            rng.choice(vip_domains)
            if vip_domains and rng.random() < 0.025
            else rng.choice(COMPANIES)
        )
        notes = rng.choice(REVIEW_NOTES) if rng.random() < 0.045 else rng.choice(PLAIN_NOTES)
        company = domain.split(".")[0].capitalize()
        email = f"{first}.{last}@{domain}".lower()
        return _Client(f"{first} {last}", email, company, rng.choice(CLIENT_ZONES), notes)

    # -- one request ----------------------------------------------------------------------

    def _one(
        self, rng: random.Random, index: int, received: datetime, now: datetime, s: DemoSummary
    ) -> bool:
        client = self._client(rng)
        rep = rng.choice(self.config.reps)
        start = self._meeting_start(rng, rep, received) if rng.random() > 0.015 else None
        request = self._request(index, client, rep, start, received)
        gate = decide(
            GateInput(client.email, client.notes, start is not None), self.config.gate_rules
        )
        record = DecisionRecord("gate", gate.route, list(gate.reasons), self.version)
        _, created = self.requests.create(request, record)
        if not created:
            return False
        status, reasons = self._route(rng, gate.route, list(gate.reasons))
        booking = None
        # Booked by the machine, or booked but the confirmation email failed.
        if start and (status is RequestStatus.BOOKED_AUTO or "postmark" in "".join(reasons)):
            booking = self._book(rng, request.id, rep, start, client.zone, "auto", now, s)
            if booking is None and status is RequestStatus.BOOKED_AUTO:
                status, reasons = RequestStatus.ESCALATED_MANUAL_REVIEW, ["slot_unavailable"]
        response: dict[str, Any] = {"request_id": request.id, "status": status, "reasons": reasons}
        if booking is not None:
            response["booking"] = booking_json(booking)
        outcome = DecisionRecord("outcome", status, reasons, self.version)
        self.requests.finish(request.id, status, reasons, response, outcome)
        s.requests += 1
        s.by_status[status] += 1
        if status is not RequestStatus.BOOKED_AUTO:
            self._escalate(rng, request, status, reasons, rep, now, s)
        return True

    def _request(
        self,
        index: int,
        client: _Client,
        rep: Rep,
        start: datetime | None,
        received: datetime,
    ) -> BookingRequest:
        return BookingRequest(
            id=f"{DEMO_ID_PREFIX}{index:05d}",
            idempotency_key=f"{DEMO_KEY_PREFIX}{index}",
            body_sha256="",
            name=client.name,
            email=client.email,
            company=client.company,
            notes=client.notes,
            timezone=client.zone,
            requested_start=start,
            duration_minutes=self.config.booking.default_duration_minutes,
            rep_email=rep.email,
            received_at=received,
            status=RequestStatus.PROCESSING,
        )

    def _route(
        self, rng: random.Random, route: Route, reasons: list[str]
    ) -> tuple[RequestStatus, list[str]]:
        if route is Route.VIP:
            return RequestStatus.ESCALATED_VIP, reasons
        if route is Route.REVIEW:
            return RequestStatus.ESCALATED_MANUAL_REVIEW, reasons
        roll = rng.random()
        if roll < 0.02:
            return RequestStatus.ESCALATED_ON_ERROR, [rng.choice(ERROR_REASONS)]
        if roll < 0.035:  # the asked-for time was taken meanwhile
            return RequestStatus.ESCALATED_MANUAL_REVIEW, ["slot_unavailable"]
        return RequestStatus.BOOKED_AUTO, []

    def _meeting_start(self, rng: random.Random, rep: Rep, received: datetime) -> datetime:
        """A working-hours start one to eight days after the request, on the half hour."""
        zone = ZoneInfo(rep.timezone)
        day = received.astimezone(zone).date() + timedelta(days=rng.randint(1, 8))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        slot = rng.randint(9 * 2, 15 * 2)
        local = datetime.combine(day, time(slot // 2, 30 * (slot % 2)), tzinfo=zone)
        return local.astimezone(received.tzinfo)

    # -- bookings and escalations ---------------------------------------------------------

    def _book(
        self,
        rng: random.Random,
        request_id: str,
        rep: Rep,
        start: datetime,
        client_zone: str,
        booked_by: str,
        now: datetime,
        summary: DemoSummary,
    ) -> StoredBooking | None:
        duration = timedelta(minutes=self.config.booking.default_duration_minutes)
        booking = None
        for shift in range(6):  # the rep is busy then: the next hour, as a person would
            moved = start + timedelta(hours=shift)
            booking = self.bookings.reserve(
                request_id=request_id,
                rep_email=rep.email,
                provider=rep.provider,
                calendar_id=rep.booking_calendar,
                start=moved,
                end=moved + duration,
                client_timezone=client_zone,
                buffer=timedelta(minutes=self.config.booking.buffer_minutes),
                booked_by=booked_by,
            )
            if booking is not None:
                break
        if booking is None:
            return None
        event = f"demo{request_id.removeprefix(DEMO_ID_PREFIX)}"
        booking = self.bookings.confirm(
            booking, event_id=event, ical_uid=f"{event}@demo.frontdesk", video_url=None
        )
        summary.bookings += 1
        self._after_meeting(rng, booking, rep, now, summary)
        return booking

    def _after_meeting(
        self, rng: random.Random, booking: StoredBooking, rep: Rep, now: datetime, s: DemoSummary
    ) -> None:
        booking_id = booking.id or 0
        if rng.random() < 0.05:
            self.demo.cancel_booking(booking_id)
            s.cancelled += 1
            return
        if booking.end > now:
            return
        host = rep.slack_id or "U0DEMOHOST"
        asked = booking.end + timedelta(minutes=5)
        self.bookings.claim_prompt(booking_id, asked)
        self.bookings.mark_prompted(booking_id, host, "D" + host[1:], f"{asked.timestamp():.6f}")
        roll = rng.random()
        if roll < 0.06:  # asked, nudged, never answered
            self.bookings.mark_nudged(booking_id, asked + timedelta(days=1))
            s.outcomes["unanswered"] += 1
            return
        # Auto-booked meetings are no-shows a little more often than human-handled ones.
        no_show = 0.15 if booking.booked_by == "auto" else 0.11
        outcome = MeetingOutcome.HELD
        if roll < no_show:
            outcome = MeetingOutcome.NO_SHOW
        elif roll < no_show + 0.04:
            outcome = MeetingOutcome.RESCHEDULED
        answered = asked + timedelta(minutes=rng.randint(2, 240))
        self.bookings.record_outcome(booking_id, outcome, host, answered)
        s.outcomes[outcome] += 1

    def _escalate(
        self,
        rng: random.Random,
        request: BookingRequest,
        status: RequestStatus,
        reasons: list[str],
        rep: Rep,
        now: datetime,
        summary: DemoSummary,
    ) -> None:
        kind = {
            RequestStatus.ESCALATED_VIP: EscalationKind.VIP,
            RequestStatus.ESCALATED_MANUAL_REVIEW: EscalationKind.MANUAL_REVIEW,
        }.get(status, EscalationKind.ON_ERROR)
        created = request.received_at + timedelta(seconds=rng.randint(1, 5))
        escalation = self.escalations.open(
            self.escalations.opening(
                request.id,
                kind,
                reasons,
                priority="high" if kind is EscalationKind.VIP else "normal",
                at=created,
            )
        )
        summary.escalations += 1
        self.escalations.mark_notified(
            escalation.id or 0, DEMO_CHANNEL, f"{created.timestamp():.6f}"
        )
        people = [r.slack_id for r in self.config.reps if r.slack_id] or ["U0DEMOOPS"]
        person = rng.choice(people)
        # Minutes to claim: mostly within the SLA, a long tail beyond it.
        claimed = created + timedelta(minutes=rng.lognormvariate(2.0, 0.9))
        resolved = claimed + timedelta(minutes=rng.lognormvariate(4.6, 1.0))
        if now - created < timedelta(days=3) and rng.random() < 0.5:
            resolved = now + timedelta(hours=1)  # the last days' work is partly still open
        sla = timedelta(minutes=self.config.slack.sla_minutes)
        if claimed > now:
            pings = sum(1 for factor in (1, 2, 4) if created + sla * factor <= now)
            if pings:
                self.escalations.advance_sla(escalation.id or 0, 0, pings, now)
            summary.still_open += 1
            return
        if claimed - created > sla:
            self.escalations.advance_sla(escalation.id or 0, 0, 1, created + sla)
        self.escalations.claim(request.id, person, claimed)
        if resolved > now:
            summary.still_open += 1
            return
        outcome = self._resolution(rng, kind)
        self.escalations.resolve(request.id, person, resolved, outcome, RESOLUTION_NOTES[outcome])
        if outcome is Outcome.BOOKED and request.requested_start is not None:
            start = max(request.requested_start, resolved + timedelta(hours=2))
            self._book(rng, request.id, rep, start, request.timezone, person, now, summary)

    @staticmethod
    def _resolution(rng: random.Random, kind: EscalationKind) -> Outcome:
        roll = rng.random()
        booked = 0.8 if kind is EscalationKind.VIP else 0.65
        if roll < booked:
            return Outcome.BOOKED
        if roll < booked + 0.2:
            return Outcome.DECLINED
        return Outcome.DUPLICATE if roll < booked + 0.27 else Outcome.HANDLED_ELSEWHERE
