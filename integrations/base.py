"""The small interfaces Frontdesk needs from the outside world, and the one error type
every integration translates its failures into.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.domain.config import Rep
from bot.domain.intervals import Interval

# The status of an IntegrationError that is no failure: the outbox says another worker is
# posting that message right now, and that worker records how it went.
IN_PROGRESS = "in_progress"


class IntegrationError(Exception):
    """An external API refused or failed; carries what an escalation needs to say why."""

    def __init__(
        self,
        provider: str,
        status: int | str,
        reason: str,
        message: str = "",
        *,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.status = status
        self.reason = reason
        self.message = message or f"{provider} answered {status} {reason}"
        self.retry_after = retry_after  # seconds the service asked us to wait (a 429's)
        super().__init__(self.message)

    @property
    def posting_elsewhere(self) -> bool:
        return self.status == IN_PROGRESS

    @property
    def code(self) -> str:
        """Reason code, e.g. `api_error:google:403:insufficientPermissions`."""
        return f"api_error:{self.provider}:{self.status}:{self.reason}"


class ConnectionBrokenError(IntegrationError):
    """The rep's own connection no longer works (a revoked grant, a missing scope): no retry
    helps until someone reconnects, so the rep's requests go to people meanwhile.
    """

    def __init__(
        self,
        provider: str,
        status: int | str,
        reason: str,
        message: str,
        *,
        rep_email: str,
        connected_at: datetime | None = None,
    ) -> None:
        super().__init__(provider, status, reason, message)
        self.rep_email = rep_email
        # The consent the failing call used, when known: a newer one is not broken by it.
        self.connected_at = connected_at


@dataclass(frozen=True)
class Probe:
    """One line of `frontdesk check`: what was probed for whom, and what came back."""

    service: str  # "google", "microsoft", "postmark", "slack", …
    subject: str  # a rep's email, a calendar id, or "-" for the service as a whole
    check: str  # "token", "scopes", "calendar", "credentials", …
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class EventDraft:
    """What the booking path asks a calendar to create."""

    request_id: str
    calendar_id: str
    start: datetime
    end: datetime
    summary: str
    description: str
    attendees: tuple[str, ...]
    client_timezone: str
    rep_timezone: str
    video: bool

    @property
    def idempotency_key(self) -> str:
        """Names this booking attempt: a retry of it gets the same event, while a person
        booking the same request at another time gets a new one (not the old time's).
        """
        start = self.start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        return f"{self.request_id}@{start}/{self.calendar_id}"


@dataclass(frozen=True)
class CreatedEvent:
    event_id: str
    ical_uid: str | None
    video_url: str | None


@dataclass(frozen=True)
class MovedEvent:
    """The event after a move: the same id and iCalUID, at the new time."""

    event_id: str
    ical_uid: str | None
    video_url: str | None


class CalendarProvider(Protocol):
    """Busy time and event creation for one provider (Google, Microsoft or the sandbox)."""

    name: str

    def busy(self, rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        """Busy intervals across every calendar of the rep; raise IntegrationError on failure."""
        ...

    def create_event(self, rep: Rep, draft: EventDraft) -> CreatedEvent:
        """Create the event idempotently: the same request id never makes a second event."""
        ...

    def probe(self, rep: Rep) -> list[Probe]:
        """Check the rep's connection: token valid, scopes granted, each calendar reachable."""
        ...

    def cancel_event(self, rep: Rep, calendar_id: str, event_id: str) -> None:
        """Cancel the event (SPEC §11); an event already gone counts as cancelled, so a
        retry is harmless. Raise IntegrationError on failure.
        """
        ...

    def move_event(
        self, rep: Rep, calendar_id: str, event_id: str, start: datetime, end: datetime
    ) -> MovedEvent:
        """Move the event in place (same id and iCalUID); moving it to where it already is
        changes nothing. Raise IntegrationError on failure.
        """
        ...


@dataclass(frozen=True)
class Confirmation:
    """An email to the client about their booking (the confirmation, or a reminder),
    rendered for the email sender.
    """

    request_id: str
    to: str
    client_name: str
    subject: str
    text_body: str
    html_body: str
    attachments: tuple[dict[str, Any], ...] = field(default=())
    tag: str = "confirmation"  # what kind of email; Postmark's Tag
    # Names this one email among the request's emails of its kind (default: the request).
    message_key: str | None = None

    @property
    def dedupe_key(self) -> str:
        """The outbox key that makes this email go out once."""
        return f"email:{self.tag}:{self.message_key or self.request_id}"


class EmailSender(Protocol):
    name: str

    def send(self, message: Confirmation) -> str:
        """Send once per dedupe key; return the provider's message id."""
        ...


@dataclass(frozen=True)
class TextMessage:
    """An SMS to a client. `key` names it for good: a retry after a crash asks the
    provider for a message already sent under it before sending again.
    """

    key: str
    to: str  # E.164
    body: str
    status_callback: str | None = None  # where the provider reports delivery
    request_id: str | None = None  # the booking request it is about (for the outbox and logs)


class SmsError(IntegrationError):
    """An SMS the provider refused. `permanent` ones (unsubscribed, invalid number) must
    never be retried; `in_doubt` ones (a timeout, a 5xx) may have been sent all the same.
    """

    def __init__(
        self,
        provider: str,
        status: int | str,
        reason: str,
        message: str,
        *,
        permanent: bool,
        in_doubt: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(provider, status, reason, message)
        self.permanent = permanent
        self.in_doubt = in_doubt
        self.retry_after = retry_after


class SmsSender(Protocol):
    """Text messages to clients (Twilio, or the sandbox)."""

    name: str

    def send(self, message: TextMessage) -> str:
        """Send once; return the provider's message id. Raise SmsError when refused."""
        ...

    def find_sent(self, message: TextMessage, since: datetime) -> str | None:
        """The id of a message already sent with this key since `since`, if any (used
        after a failure that may have hidden an acceptance).
        """
        ...

    def probe(self) -> list[Probe]: ...


@dataclass(frozen=True)
class SlackProfile:
    timezone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str


class Chat(Protocol):
    """What Frontdesk needs from Slack to hand work to people."""

    name: str

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        dedupe_key: str,
        request_id: str | None = None,
        thread_ts: str | None = None,
    ) -> PostedMessage:
        """Post once per dedupe key (as a reply in `thread_ts`'s thread when given); raise
        IntegrationError when Slack refuses.
        """
        ...

    def backlog_seconds(self, channel: str) -> float:
        """How long a post to `channel` would wait for its turn (Slack's rate limit)."""
        ...

    def open_dm(self, user_id: str) -> str:
        """The DM channel id with a user."""
        ...

    def user_id_for_email(self, email: str) -> str | None:
        """The Slack user with that email, or None when there is none."""
        ...

    def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
    ) -> None: ...

    def post_ephemeral(self, channel: str, user_id: str, text: str) -> None:
        """A message only that user sees (refusals, "already claimed by …")."""
        ...

    def permalink(self, channel: str, ts: str) -> str | None: ...

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        """Open a modal; returns its view id."""
        ...

    def update_view(self, view_id: str, view: dict[str, Any]) -> None: ...

    def user_profile(self, user_id: str) -> SlackProfile:
        """The user's IANA zone and email from their Slack profile, as far as Slack knows."""
        ...

    def usergroup_members(self, usergroup_id: str) -> frozenset[str]: ...
