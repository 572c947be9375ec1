"""GET /sandbox: each request as a timeline of what happened to it, every message drawn as
its reader would see it — Slack messages as Slack shows them (`slack_render`), emails as an
email, texts as a phone bubble, calendar events as an event.

`RequestHistory` is what the sandbox viewer service (`bot/services/sandbox_view.py`) reads
from storage for one request; `timeline()` turns it into `Timeline` entries, and
`render()` into the page (Jinja2, `templates/sandbox/`, autoescaped).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup

from bot.domain.reasons import describe
from bot.messages import slack_render
from bot.messages.pages import render_page
from bot.messages.slack_render import RenderContext
from integrations.sandbox import sandbox_ts
from storage.models import Decision, OutboxMessage, StoredBooking, StoredEscalation, StoredRequest
from storage.statuses import BookingStatus, OutboxStatus, RequestStatus

PAGE_TEMPLATE = "sandbox/page.html"
SERVICES = ("slack", "calendar", "email", "sms", "crm")
APP_NAME = "Frontdesk"
HIDDEN = "Sent through the real service: the content stays private."
NOTHING_YET = "Nothing recorded yet."
OTHER_MESSAGES = "Not tied to a request"

STATUS_WORDS = {
    RequestStatus.BOOKED_AUTO: ("Booked automatically", "auto"),
    RequestStatus.ESCALATED_VIP: ("VIP: handed to a person", "people"),
    RequestStatus.ESCALATED_MANUAL_REVIEW: ("Manual review: handed to a person", "people"),
    RequestStatus.ESCALATED_ON_ERROR: ("Automation failed: handed to a person", "error"),
    RequestStatus.RECEIVED: ("Received, not processed yet", "open"),
    RequestStatus.PROCESSING: ("Being processed", "open"),
}
ROUTE_WORDS = {
    "auto": "The gate let the machine book it",
    "vip": "The gate sent it to the VIP account's owner",
    "review": "The gate sent it to manual review",
}
NO_REASONS = "nothing asked for a person"
OUTCOME_WORDS = {
    "booked": "booked",
    "declined": "declined",
    "duplicate": "a duplicate",
    "spam": "spam",
    "handled_elsewhere": "handled elsewhere",
}
MEETING_WORDS = {"held": "held", "no_show": "a no-show", "rescheduled": "rescheduled"}
SLA_PINGED = "Unclaimed past the SLA: the ops group re-pinged {times}"
EMAIL_TITLE = {
    "send": "Confirmation email to the client",
    "send:reminder": "Reminder email to the client",
}
KIND_ORDER = {"received": 0, "gate": 1, "outcome": 3}
SLACK_TITLES = {
    "chat.postMessage": "Slack message",
    "chat.update": "Slack message updated",
    "chat.postEphemeral": "Slack message only they can see",
    "views.open": "Slack modal opened",
    "views.update": "Slack modal updated",
    "views.publish": "Home tab published",
}


@dataclass(frozen=True)
class RequestHistory:
    """What storage holds about one request (any part may be missing), and its messages."""

    request_id: str | None
    request: StoredRequest | None = None
    decisions: Sequence[Decision] = ()
    escalation: StoredEscalation | None = None
    booking: StoredBooking | None = None
    messages: Sequence[OutboxMessage] = ()


@dataclass
class Entry:
    at: datetime
    kind: str  # received, gate, slack, modal, email, sms, calendar, crm, person, booking, outcome
    title: str
    body: Markup = field(default_factory=Markup)
    meta: list[tuple[str, str]] = field(default_factory=list)
    raw: str | None = None  # the payload as JSON, behind a toggle
    status: str | None = None  # a real send's status and error
    service: str | None = None
    replies: list[Entry] = field(default_factory=list)
    ts: str | None = None


@dataclass
class Timeline:
    request_id: str | None
    title: str
    subtitle: str
    status_words: str
    tone: str
    services: list[str]
    entries: list[Entry]
    last_at: datetime


@dataclass(frozen=True)
class Filters:
    request: str = ""
    service: str = ""
    limit: int = 200


# -- pieces -------------------------------------------------------------------------------


def _json(payload: Any) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True)


def _reasons_html(reasons: Sequence[str], context: RenderContext) -> Markup:
    if not reasons:
        return Markup("<p>{}</p>").format(NO_REASONS)
    items = Markup("").join(
        Markup('<li>{words} <code class="reason">{code}</code></li>').format(
            words=slack_render.mrkdwn(describe(code), context), code=code
        )
        for code in reasons
    )
    return Markup('<ul class="reasons">{}</ul>').format(items)


def _who(user: str | None, context: RenderContext) -> str:
    if not user:
        return "someone"
    return "@" + context.names.get(user, user)


def _channel(channel: str, context: RenderContext) -> str:
    if channel.startswith("D"):  # the sandbox's DM with U… is D…
        user = "U" + channel[1:]
        return f"Direct message to @{context.names.get(user, user)}"
    return "#" + context.names.get(channel, channel)


def _slack(message: OutboxMessage, context: RenderContext, now: datetime) -> Entry:
    payload = message.payload
    action = message.action
    entry = Entry(message.created_at, "slack", SLACK_TITLES.get(action, f"Slack {action}"))
    entry.service = "slack"
    if action.startswith("views."):
        entry.kind = "modal"
        entry.body = slack_render.view(payload.get("view") or {}, context, now=now)
    elif action == "chat.postEphemeral":
        entry.body = slack_render.mrkdwn(str(payload.get("text", "")), context, now=now)
        entry.meta.append(("to", _who(str(payload.get("user", "")), context)))
    else:
        entry.body = slack_render.message(payload, context, now=now)
    if payload.get("channel"):
        entry.meta.insert(0, ("in", _channel(str(payload["channel"]), context)))
    if action == "chat.postMessage" and message.id is not None:
        entry.ts = sandbox_ts(message.created_at, message.id)
    return entry


def _email(message: OutboxMessage) -> Entry:
    payload = message.payload
    entry = Entry(message.created_at, "email", EMAIL_TITLE.get(message.action, EMAIL_TITLE["send"]))
    entry.service = "email"
    entry.meta = [("to", str(payload.get("to", ""))), ("subject", str(payload.get("subject", "")))]
    entry.body = slack_render.plain_text_html(str(payload.get("text_body", "")))
    return entry


def _sms(message: OutboxMessage) -> Entry:
    payload = message.payload
    entry = Entry(message.created_at, "sms", "Text message")
    entry.service = "sms"
    entry.meta = [("to", str(payload.get("to", "")))]
    entry.body = slack_render.plain_text_html(str(payload.get("body", "")))
    return entry


def _local(at: str | None, zone_name: str | None, fallback: ZoneInfo) -> str:
    if not at:
        return ""
    try:
        moment = datetime.fromisoformat(at)
        zone = ZoneInfo(zone_name) if zone_name else fallback
    except (ValueError, KeyError):
        return at
    return moment.astimezone(zone).strftime("%a %d %b %Y, %H:%M %Z")


def _calendar(message: OutboxMessage, context: RenderContext) -> Entry:
    payload = message.payload
    entry = Entry(message.created_at, "calendar", "Calendar event created")
    entry.service = "calendar"
    rep_zone = payload.get("rep_timezone")
    client_zone = payload.get("client_timezone")
    entry.meta = [
        ("event", str(payload.get("summary", ""))),
        ("calendar", str(payload.get("calendar", ""))),
        ("host's time", _local(payload.get("start"), rep_zone, context.zone)),
        ("client's time", _local(payload.get("start"), client_zone, context.zone)),
        ("guests", ", ".join(str(a) for a in payload.get("attendees") or [])),
    ]
    video = (message.result or {}).get("video_url")
    if video:
        entry.meta.append(("video", str(video)))
    return entry


def _other(message: OutboxMessage) -> Entry:
    entry = Entry(message.created_at, message.service, f"{message.service}: {message.action}")
    entry.service = message.service
    return entry


def outbox_entry(message: OutboxMessage, context: RenderContext, now: datetime) -> Entry:
    """One recorded message, drawn for its reader; a real send shows only its status."""
    if message.status != OutboxStatus.SANDBOXED:
        entry = Entry(message.created_at, message.service, f"{message.service}: {message.action}")
        entry.service = message.service
        entry.body = Markup('<p class="muted">{}</p>').format(HIDDEN)
        entry.status = message.status + (f": {message.last_error}" if message.last_error else "")
        return entry
    if message.service == "slack":
        entry = _slack(message, context, now)
    elif message.service == "email":
        entry = _email(message)
    elif message.service == "sms":
        entry = _sms(message)
    elif message.service == "calendar":
        entry = _calendar(message, context)
    else:
        entry = _other(message)
    entry.raw = _json({"action": message.action, "payload": message.payload})
    return entry


def _ics_summary(booking: StoredBooking | None, zone: ZoneInfo) -> str:
    if booking is None:
        return ""
    start = booking.start.astimezone(zone).strftime("%a %d %b %Y %H:%M")
    end = booking.end.astimezone(zone).strftime("%H:%M %Z")
    return f"invitation: {start} to {end} with {booking.rep_email}"


def _attach_ics(entries: list[Entry], message: OutboxMessage, history: RequestHistory) -> None:
    attachments = message.payload.get("attachments") or []
    if not attachments or message.status != OutboxStatus.SANDBOXED:
        return
    summary = (
        _ics_summary(history.booking, ZoneInfo(history.booking.client_timezone))
        if (history.booking)
        else ""
    )
    for name in attachments:
        label = f"{name} — {summary}" if summary and str(name).endswith(".ics") else str(name)
        entries[-1].meta.append(("attachment", label))


# -- lifecycle ----------------------------------------------------------------------------


def _received(request: StoredRequest, private: bool) -> Entry:
    entry = Entry(request.received_at, "received", "Request received")
    if private:
        return entry
    entry.meta = [
        ("client", f"{request.name} <{request.email}>"),
        ("company", request.company or "—"),
        (
            "asked for",
            request.requested_start.astimezone(ZoneInfo(request.timezone)).strftime(
                "%a %d %b %Y, %H:%M %Z"
            )
            if request.requested_start
            else "no time selected",
        ),
        ("length", f"{request.duration_minutes} min"),
    ]
    if request.notes:
        entry.body = Markup('<blockquote class="notes">{}</blockquote>').format(request.notes)
    return entry


def _decisions(history: RequestHistory, context: RenderContext) -> list[Entry]:
    entries = []
    for decision in history.decisions:
        if decision.stage == "gate":
            title = ROUTE_WORDS.get(decision.result, f"Gate: {decision.result}")
            entry = Entry(decision.decided_at, "gate", title)
        else:
            words, _ = STATUS_WORDS.get(RequestStatus(decision.result), (decision.result, ""))
            entry = Entry(decision.decided_at, "outcome", f"Outcome: {words}")
        if decision.stage == "gate" or decision.reasons:
            entry.body = _reasons_html(decision.reasons, context)
        if decision.detail:
            entry.body += Markup('<p class="muted">{}</p>').format(decision.detail)
        entries.append(entry)
    return entries


def _escalation(escalation: StoredEscalation, context: RenderContext) -> list[Entry]:
    kind = escalation.kind.replace("_", " ")
    entries = [Entry(escalation.created_at, "person", f"Escalated ({kind})")]
    if escalation.notify_error:
        entries[0].status = f"not posted to Slack yet: {escalation.notify_error}"
    if escalation.sla_pings and escalation.sla_pinged_at:
        entries.append(
            Entry(
                escalation.sla_pinged_at,
                "person",
                SLA_PINGED.format(
                    times="once" if escalation.sla_pings == 1 else f"{escalation.sla_pings} times"
                ),
            )
        )
    if escalation.claimed_at:
        who = _who(escalation.claimed_by, context)
        entries.append(Entry(escalation.claimed_at, "person", f"Claimed by {who}"))
    if escalation.resolved_at:
        outcome = OUTCOME_WORDS.get(escalation.outcome or "", escalation.outcome or "closed")
        who = _who(escalation.resolved_by, context)
        entry = Entry(escalation.resolved_at, "person", f"Resolved by {who}: {outcome}")
        if escalation.resolution_note:
            entry.body = Markup("<p>{}</p>").format(escalation.resolution_note)
        entries.append(entry)
    return entries


def _booking(booking: StoredBooking, context: RenderContext) -> list[Entry]:
    when = booking.start.astimezone(ZoneInfo(booking.client_timezone))
    by = (
        "by the machine"
        if booking.booked_by == "auto"
        else f"by {_who(booking.booked_by, context)}"
    )
    entry = Entry(booking.confirmed_at or booking.created_at, "booking", f"Booked {by}")
    entry.meta = [
        ("host", booking.rep_email),
        ("client's time", when.strftime("%a %d %b %Y, %H:%M %Z")),
        ("status", str(booking.status)),
    ]
    entries = [entry]
    if booking.outcome and booking.outcome_at:
        words = MEETING_WORDS.get(booking.outcome, booking.outcome)
        who = _who(booking.outcome_by, context)
        entries.append(Entry(booking.outcome_at, "booking", f"Meeting {words}, says {who}"))
    if booking.status == BookingStatus.CANCELLED:
        entries[0].title += " (since cancelled)"
    return entries


# -- one request --------------------------------------------------------------------------


def _thread(entries: list[Entry], messages: Sequence[OutboxMessage]) -> list[Entry]:
    """Thread replies under their parent message, as Slack shows them."""
    parents = {entry.ts: entry for entry in entries if entry.ts}
    threaded: list[Entry] = []
    for entry, message in zip(entries, messages, strict=True):
        parent = parents.get(str(message.payload.get("thread_ts") or ""))
        if message.service == "slack" and parent is not None and parent is not entry:
            parent.replies.append(entry)
        else:
            threaded.append(entry)
    return threaded


def _status(history: RequestHistory, context: RenderContext) -> tuple[str, str]:
    request = history.request
    if request is None:
        return "Request not in this database", "open"
    words, tone = STATUS_WORDS.get(RequestStatus(request.status), (request.status, "open"))
    escalation = history.escalation
    if escalation is not None:
        if escalation.resolved_at:
            outcome = OUTCOME_WORDS.get(escalation.outcome or "", escalation.outcome or "")
            words += f" · resolved: {outcome}"
        elif escalation.claimed_by:
            words += f" · claimed by {_who(escalation.claimed_by, context)}"
        else:
            words += " · waiting to be claimed"
            tone = "open" if tone == "people" else tone
    return words, tone


def timeline(
    history: RequestHistory, context: RenderContext, *, service: str = "", now: datetime
) -> Timeline | None:
    """The request's story in time order; None when a service filter leaves no message."""
    messages = [m for m in history.messages if not service or m.service == service]
    if service and not messages:
        return None
    private = any(m.status != OutboxStatus.SANDBOXED for m in history.messages)
    drawn = []
    for message in messages:
        drawn.append(outbox_entry(message, context, now))
        if message.service == "email":
            _attach_ics(drawn, message, history)
    entries = _thread(drawn, messages)
    request = history.request
    if request is not None:
        entries.append(_received(request, private))
        entries += _decisions(history, context)
    if history.escalation is not None:
        entries += _escalation(history.escalation, context)
    if history.booking is not None and history.booking.status != BookingStatus.RELEASED:
        entries += _booking(history.booking, context)
    # The story's order at equal times: received, the gate's decision, then what followed.
    entries.sort(key=lambda entry: (entry.at, KIND_ORDER.get(entry.kind, 2)))
    words, tone = _status(history, context)
    title = history.request_id or OTHER_MESSAGES
    subtitle = ""
    if request is not None and not private:
        title = request.name
        subtitle = f"{request.company or request.email} · {history.request_id}"
    elif history.request_id:
        subtitle = history.request_id
    return Timeline(
        request_id=history.request_id,
        title=title,
        subtitle=subtitle,
        status_words=words if history.request_id else "",
        tone=tone,
        services=sorted({m.service for m in history.messages}),
        entries=entries,
        last_at=max((entry.at for entry in entries), default=now),
    )


def render(
    histories: Sequence[RequestHistory],
    context: RenderContext,
    filters: Filters,
    *,
    now: datetime,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The whole page: the filters, then one timeline per request, most recent first."""
    timelines = [
        drawn
        for history in histories
        if (drawn := timeline(history, context, service=filters.service, now=now)) is not None
    ]
    timelines.sort(key=lambda t: (t.request_id is not None, t.last_at), reverse=True)
    return render_page(
        PAGE_TEMPLATE,
        timelines=timelines,
        filters=filters,
        services=SERVICES,
        zone=context.zone.key,
        app_name=APP_NAME,
        nothing_yet=NOTHING_YET,
        **(extra or {}),
    )
