"""Buttons and selects: on escalation messages (claim, book, reassign, resolve) and inside
the Book modal (a new rep or duration refreshes the slots). Ack first, work lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App
from slack_sdk.models.views import View

from bot.triage import Triage, TriageError, viewer_zone
from handlers.ids import ActionId, BlockId
from handlers.modals import (
    LOADING_SLOTS,
    ModalContext,
    SlotChoice,
    book_modal,
    notice_modal,
    resolve_modal,
)
from handlers.slack_app import SlackServices, once, request_id_of
from integrations.base import IntegrationError
from storage.models import StoredRequest


def _ack(ack: Callable[..., None]) -> None:
    ack()


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _request_id(body: dict[str, Any]) -> str:
    request_id = request_id_of(body)
    if request_id is None:
        raise TriageError("This button does not name a request.")
    return request_id


def _context(body: dict[str, Any], request_id: str) -> ModalContext:
    """Where the escalation message is, so a modal's submission can redraw it."""
    channel = (body.get("channel") or {}).get("id")
    ts = (body.get("message") or body.get("container") or {}).get("ts") or (
        body.get("container") or {}
    ).get("message_ts")
    return ModalContext(request_id=request_id, channel=channel, ts=ts)


BOOK_DURATIONS = (15, 30, 45, 60, 90)
CALENDAR_UNREADABLE = "Could not read the calendars of {rep}: {error}. Pick another rep."


def build_book_modal(
    triage: Triage,
    context: ModalContext,
    request: StoredRequest,
    rep: str,
    duration: int,
    zone: ZoneInfo,
) -> View:
    """The Book modal with the rep's free slots, labelled in the clicker's zone."""
    problem = None
    try:
        slots = triage.slots(request.id, rep, duration)
    except IntegrationError as exc:  # the modal is open already: say so there, not nowhere
        slots, problem = [], CALENDAR_UNREADABLE.format(rep=rep, error=exc.message)
    choices = []
    for slot in slots:
        local = slot.start.astimezone(zone)
        hour = local.strftime("%I").lstrip("0")
        choices.append(
            SlotChoice(
                slot.start,
                f"{local:%a} {local.day} {local:%b}",
                f"{hour}:{local:%M %p} {local.tzname()}",
            )
        )
    return book_modal(
        context,
        client_name=request.name,
        reps=[r.email for r in triage.config.reps],
        rep=rep,
        duration=duration,
        durations=BOOK_DURATIONS,
        slots=choices,
        horizon_days=triage.config.booking.horizon_days,
        zone_note=f"Times in your zone ({zone.key}). The client is in {request.timezone}.",
        problem=problem,
    )


def register(app: App, services: SlackServices) -> None:
    triage, chat, config = services.triage, services.chat, services.config
    report = once(services)

    @report
    def claim(body: dict[str, Any]) -> None:
        triage.claim(_request_id(body), _user(body))

    @report
    def unclaim(body: dict[str, Any]) -> None:
        triage.unclaim(_request_id(body), _user(body))

    @report
    def reassign(body: dict[str, Any]) -> None:
        assignee = body["actions"][0].get("selected_user")
        if assignee:
            triage.reassign(_request_id(body), _user(body), assignee)

    @report
    def open_resolve(body: dict[str, Any]) -> None:
        request_id = _request_id(body)
        ticket = triage.open_ticket(request_id, _user(body))
        modal = resolve_modal(_context(body, request_id), client_name=ticket.request.name)
        chat.open_view(body["trigger_id"], modal.to_dict())

    @report
    def open_book(body: dict[str, Any]) -> None:
        request_id, user = _request_id(body), _user(body)
        ticket = triage.open_ticket(request_id, user)
        # The trigger expires after 3 s: open at once, then fill in the slots.
        loading = notice_modal("Book meeting", LOADING_SLOTS)
        view_id = chat.open_view(body["trigger_id"], loading.to_dict())
        zone = viewer_zone(chat, user, config.zone)
        rep = ticket.request.rep_email or triage.booker.candidates(ticket.request)[0].email
        duration = ticket.request.duration_minutes
        modal = build_book_modal(
            triage, _context(body, request_id), ticket.request, rep, duration, zone
        )
        chat.update_view(view_id, modal.to_dict())

    @report
    def refresh_book(body: dict[str, Any]) -> None:
        view = body["view"]
        context = ModalContext.model_validate_json(view["private_metadata"])
        values = view["state"]["values"]
        rep = values[BlockId.BOOK_REP][ActionId.BOOK_REP]["selected_option"]["value"]
        duration_option = values[BlockId.BOOK_DURATION][ActionId.BOOK_DURATION]
        duration = int(duration_option["selected_option"]["value"])
        ticket = triage.open_ticket(context.request_id, _user(body))
        zone = viewer_zone(chat, _user(body), config.zone)
        modal = build_book_modal(triage, context, ticket.request, rep, duration, zone)
        chat.update_view(view["id"], modal.to_dict())

    app.action(ActionId.CLAIM)(ack=_ack, lazy=[claim])
    app.action(ActionId.UNCLAIM)(ack=_ack, lazy=[unclaim])
    app.action(ActionId.REASSIGN)(ack=_ack, lazy=[reassign])
    app.action(ActionId.RESOLVE)(ack=_ack, lazy=[open_resolve])
    app.action(ActionId.BOOK)(ack=_ack, lazy=[open_book])
    app.action(ActionId.BOOK_REP)(ack=_ack, lazy=[refresh_book])
    app.action(ActionId.BOOK_DURATION)(ack=_ack, lazy=[refresh_book])
