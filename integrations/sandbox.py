"""Sandbox stand-ins for every external service (SPEC §8): nothing leaves the machine,
everything that would have been sent is recorded in the outbox and listed at /sandbox.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.config import WEEKDAYS, Config, Rep
from bot.domain.intervals import Interval
from integrations.base import (
    Confirmation,
    CreatedEvent,
    EventDraft,
    IntegrationError,
    MovedEvent,
    PostedMessage,
    Probe,
    SlackProfile,
    TextMessage,
)
from integrations.tickets import ContactDeals, TicketDraft, TicketRef
from storage.repositories import BookingRepository, OutboxRepository
from storage.repositories.outbox import Recorded

SANDBOX_VIDEO_BASE = "https://meet.sandbox.invalid/"


def _stand_in_id(prefix: str, seed: str) -> str:
    digest = base64.b32encode(hashlib.sha256(seed.lower().encode()).digest()).decode()
    return f"{prefix}SBX{digest[:8]}"


def stand_in_user_id(email: str) -> str:
    """The Slack user id the sandbox answers for this email (users.lookupByEmail)."""
    return _stand_in_id("U", email)


def sandbox_ts(created_at: datetime, row_id: int) -> str:
    """The message ts the sandbox answers for an outbox row: threads and updates name it."""
    return f"{int(created_at.timestamp())}.{row_id:06d}"


class SandboxCalendar:
    """Answers busy time from the config's `[sandbox]` blocks plus the events it booked."""

    name = "sandbox"

    def __init__(self, config: Config, outbox: OutboxRepository, bookings: BookingRepository):
        self.config = config
        self.outbox = outbox
        self.bookings = bookings

    def busy(self, rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        for calendar in rep.calendars:
            self._refuse_if_broken(calendar, rep.provider)
        intervals = [
            Interval(s, e)
            for s, e in self.bookings.confirmed_on_calendars(rep.calendars, start, end)
        ]
        for calendar in rep.calendars:
            intervals += self._weekly_blocks(calendar, start, end)
        return sorted(intervals, key=lambda interval: interval.start)

    def _weekly_blocks(self, calendar: str, start: datetime, end: datetime) -> list[Interval]:
        found = []
        for block in self.config.sandbox.busy:
            if block.calendar != calendar:
                continue
            zone = ZoneInfo(block.timezone) if block.timezone else self.config.zone
            weekdays = {WEEKDAYS.index(day) for day in block.days}
            day = start.astimezone(zone).date() - timedelta(days=1)
            while day <= end.astimezone(zone).date():
                if day.weekday() in weekdays:
                    for opens, closes in block.ranges:
                        block_start = datetime.combine(day, opens, tzinfo=zone)
                        block_end = datetime.combine(day, closes, tzinfo=zone)
                        if block_start < end and block_end > start:
                            found.append(Interval(block_start, block_end))
                day += timedelta(days=1)
        return found

    def _refuse_if_broken(self, calendar: str, provider: str) -> None:
        # The stand-in speaks as the provider it replaces (SPEC §3.1): the reason code, the
        # metrics label and the escalation read as they will in production.
        if calendar in self.config.sandbox.broken_calendars:
            raise IntegrationError(
                provider,
                403,
                "insufficientPermissions",
                f"the sandbox calendar {calendar} is configured as broken "
                "(sandbox.broken_calendars): access refused",
            )

    def probe(self, rep: Rep) -> list[Probe]:
        broken = self.config.sandbox.broken_calendars
        return [
            Probe(
                "sandbox",
                calendar,
                "calendar",
                calendar not in broken,
                "configured as broken (sandbox.broken_calendars)" if calendar in broken else "",
            )
            for calendar in rep.calendars
        ]

    def create_event(self, rep: Rep, draft: EventDraft) -> CreatedEvent:
        self._refuse_if_broken(draft.calendar_id, rep.provider)
        event_id = "sbx" + draft.request_id.split("_", 1)[-1].lower()
        video_url = f"{SANDBOX_VIDEO_BASE}{event_id}" if draft.video else None
        created = CreatedEvent(event_id, f"{event_id}@sandbox.frontdesk", video_url)
        payload: dict[str, Any] = {
            "calendar": draft.calendar_id,
            "summary": draft.summary,
            "start": draft.start.isoformat(),
            "end": draft.end.isoformat(),
            "rep_timezone": draft.rep_timezone,
            "client_timezone": draft.client_timezone,
            "attendees": list(draft.attendees),
            "video": draft.video,
        }
        self.outbox.record(
            f"calendar:{draft.calendar_id}:{event_id}",
            "calendar",
            "events.insert",
            payload,
            request_id=draft.request_id,
            result={"event_id": event_id, "ical_uid": created.ical_uid, "video_url": video_url},
        )
        return created

    def cancel_event(self, rep: Rep, calendar_id: str, event_id: str) -> None:
        """Recorded once per event; busy time follows the booking's status."""
        self._refuse_if_broken(calendar_id, rep.provider)
        self.outbox.record(
            f"calendar:{calendar_id}:{event_id}:cancel",
            "calendar",
            "events.delete",
            {"calendar": calendar_id, "event_id": event_id},
        )

    def move_event(
        self, rep: Rep, calendar_id: str, event_id: str, start: datetime, end: datetime
    ) -> MovedEvent:
        """Recorded once per event and new time; busy time follows the booking's time."""
        self._refuse_if_broken(calendar_id, rep.provider)
        self.outbox.record(
            f"calendar:{calendar_id}:{event_id}:move:{start.isoformat()}",
            "calendar",
            "events.patch",
            {
                "calendar": calendar_id,
                "event_id": event_id,
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
        )
        return MovedEvent(event_id, f"{event_id}@sandbox.frontdesk", None)


class SandboxEmail:
    name = "sandbox"

    def __init__(self, outbox: OutboxRepository) -> None:
        self.outbox = outbox

    def send(self, message: Confirmation) -> str:
        payload = {
            "to": message.to,
            "subject": message.subject,
            "text_body": message.text_body,
            "attachments": [a.get("Name") for a in message.attachments],
        }
        row = self.outbox.record(
            message.dedupe_key,
            "email",
            "send" if message.tag == "confirmation" else f"send:{message.tag}",
            payload,
            request_id=message.request_id,
        )
        return f"sandbox-{row.id}"


class SandboxChat:
    """Records Slack messages with their blocks; any user or email is a stand-in user."""

    name = "sandbox"

    def __init__(self, outbox: OutboxRepository) -> None:
        self.outbox = outbox

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
        payload: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
        if thread_ts:
            payload["thread_ts"] = thread_ts
        row = self.outbox.record(
            dedupe_key, "slack", "chat.postMessage", payload, request_id=request_id
        )
        return PostedMessage(channel, sandbox_ts(row.created_at, row.id or 0))

    def backlog_seconds(self, channel: str) -> float:
        return 0.0  # nothing is paced: recording is instant

    def open_dm(self, user_id: str) -> str:
        return "D" + user_id[1:]

    def user_id_for_email(self, email: str) -> str | None:
        return stand_in_user_id(email)

    def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        payload = {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        self._record("chat.update", payload)

    def post_ephemeral(self, channel: str, user_id: str, text: str) -> None:
        self._record("chat.postEphemeral", {"channel": channel, "user": user_id, "text": text})

    def permalink(self, channel: str, ts: str) -> str | None:
        return f"https://sandbox.slack.invalid/archives/{channel}/p{ts.replace('.', '')}"

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        row = self._record("views.open", {"trigger_id": trigger_id, "view": view})
        return f"VSBX{row.id}"

    def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        self._record("views.update", {"view_id": view_id, "view": view})

    def user_profile(self, user_id: str) -> SlackProfile:
        return SlackProfile()  # stand-in users have no profile; callers use the business zone

    def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        return frozenset()

    def _record(self, action: str, payload: dict[str, Any]) -> Recorded:
        # Every call is its own event here: a fresh key, nothing to deduplicate.
        return self.outbox.record(f"slack:{action}:{uuid.uuid4().hex}", "slack", action, payload)


class SandboxSms:
    """Records text messages instead of sending them, once per message key."""

    name = "sandbox"

    def __init__(self, outbox: OutboxRepository) -> None:
        self.outbox = outbox

    def send(self, message: TextMessage) -> str:
        payload = {
            "to": message.to,
            "body": message.body,
            "status_callback": message.status_callback,
        }
        row = self.outbox.record(
            message.key, "sms", "messages.create", payload, request_id=message.request_id
        )
        return _sandbox_sms_id(row.id)

    def find_sent(self, message: TextMessage, since: datetime) -> str | None:
        row = self.outbox.get(message.key)
        return None if row is None or row.id is None else _sandbox_sms_id(row.id)

    def probe(self) -> list[Probe]:
        return []


def _sandbox_sms_id(row_id: int) -> str:
    """A stand-in message SID, the same for every send of one key."""
    return f"SMsbx{row_id}"


SANDBOX_CRM_URL = "https://crm.sandbox.invalid/tickets/"


class SandboxTickets:
    """Records the CRM tickets that would have been opened and closed (service `crm`)."""

    name = "sandbox"

    def __init__(self, outbox: OutboxRepository, label: str = "CRM") -> None:
        self.outbox = outbox
        self.label = label  # the CRM named in [crm], so the Slack link reads the same

    def open(self, draft: TicketDraft) -> TicketRef:
        self.outbox.record(
            draft.dedupe_key,
            "crm",
            "tickets.create",
            draft.payload(),
            request_id=draft.request_id,
        )
        ticket_id = "sbx" + draft.request_id.split("_", 1)[-1].lower()
        return TicketRef("sandbox", ticket_id, f"{SANDBOX_CRM_URL}{ticket_id}", None, None)

    def close(self, ref: TicketRef, draft: TicketDraft, outcome: str) -> None:
        self.outbox.record(
            f"crm:sandbox:close:{draft.request_id}",
            "crm",
            "tickets.close",
            {"ticket_id": ref.ticket_id, "outcome": outcome},
            request_id=draft.request_id,
        )

    def probe(self, owner_emails: Sequence[str]) -> list[Probe]:
        return []

    def won_deals(self, email: str, since: datetime, until: datetime) -> ContactDeals | None:
        return None  # the sandbox has no CRM contacts, so no request counts toward conversion
