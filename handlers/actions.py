"""Buttons and selects: on escalation messages (claim, unclaim, book, reassign, resolve) and
inside the Book modal (a new rep or duration refreshes the slots). Ack first, work after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App
from slack_sdk.models.views import View

from bot.messages.availability import clock_label, day_label
from bot.messages.ids import ActionId
from bot.messages.modals import (
    LOADING_SLOTS,
    ModalContext,
    SlotChoice,
    book_modal,
    notice_modal,
    resolve_modal,
)
from bot.services.triage import Triage, TriageError, viewer_zone
from handlers.slack_context import SOMETHING_WENT_WRONG, Defer
from integrations.base import Chat, IntegrationError
from storage.models import StoredRequest

log = logging.getLogger("frontdesk.slack.actions")

BOOK_DURATIONS = (15, 30, 45, 60, 90)
REP_CALENDAR_UNREADABLE = "Could not read the calendars of {rep}: {error}. Pick another rep."
BOOK_TITLE = "Book meeting"
RESOLVE_TITLE = "Resolve request"
NO_REQUEST = "This button does not name a request."

Ack = Callable[..., None]


def _named(request_id: str | None) -> str:
    if request_id is None:
        raise TriageError(NO_REQUEST)
    return request_id


def build_book_modal(
    triage: Triage, context: ModalContext, request: StoredRequest, rep: str, duration: int
) -> View:
    """The Book modal with the rep's free slots, labelled in the clicker's zone."""
    zone = ZoneInfo(context.zone)
    problem = None
    try:
        slots = triage.slots(request, rep, duration)
    except IntegrationError as exc:  # the modal is open already: say so there, not nowhere
        slots, problem = [], REP_CALENDAR_UNREADABLE.format(rep=rep, error=exc.message)
    choices = []
    for slot in slots:
        local = slot.start.astimezone(zone)
        choices.append(
            SlotChoice(
                slot.start, day_label(local.date()), f"{clock_label(local)} {local.tzname()}"
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


def fill_modal(chat: Chat, view_id: str, title: str, build: Callable[[], View]) -> None:
    """Replace a loading modal with what `build` makes, or with why it could not."""
    try:
        view = build()
    except TriageError as exc:
        view = notice_modal(title, str(exc))
    except Exception as exc:
        log.error("a modal could not be filled", exc_info=exc)
        error = exc.message if isinstance(exc, IntegrationError) else type(exc).__name__
        view = notice_modal(title, SOMETHING_WENT_WRONG.format(error=error, request_id="-"))
    chat.update_view(view_id, view.to_dict())


def _open_modal(
    chat: Chat, defer: Defer, body: dict[str, Any], title: str, build: Callable[[], View]
) -> None:
    """Open a loading modal now, in the ack (the trigger dies 3 s after the click, and work
    queued behind other work could miss it), and fill it after.
    """
    view_id = chat.open_view(body["trigger_id"], notice_modal(title, LOADING_SLOTS).to_dict())
    defer.submit(fill_modal, chat, view_id, title, build)


def claim(
    ack: Ack,
    body: dict[str, Any],
    defer: Defer,
    triage: Triage,
    user_id: str,
    request_id: str | None,
) -> None:
    ack()
    defer(body, lambda: triage.claim(_named(request_id), user_id))


def unclaim(
    ack: Ack,
    body: dict[str, Any],
    defer: Defer,
    triage: Triage,
    user_id: str,
    request_id: str | None,
) -> None:
    ack()
    defer(body, lambda: triage.unclaim(_named(request_id), user_id))


def reassign(
    ack: Ack,
    body: dict[str, Any],
    defer: Defer,
    triage: Triage,
    user_id: str,
    request_id: str | None,
) -> None:
    ack()
    assignee = body["actions"][0].get("selected_user")
    if assignee:
        defer(body, lambda: triage.reassign(_named(request_id), user_id, assignee))


def open_book(
    ack: Ack,
    body: dict[str, Any],
    defer: Defer,
    triage: Triage,
    chat: Chat,
    user_id: str,
    request_id: str | None,
) -> None:
    ack()
    named = _named(request_id)

    def build() -> View:
        ticket = triage.open_ticket(named, user_id)
        zone = viewer_zone(chat, user_id, triage.config.zone)
        context = ModalContext(request_id=named, zone=zone.key)
        rep = triage.default_rep(ticket.request)
        return build_book_modal(
            triage, context, ticket.request, rep, ticket.request.duration_minutes
        )

    _open_modal(chat, defer, body, BOOK_TITLE, build)


def open_resolve(
    ack: Ack,
    body: dict[str, Any],
    defer: Defer,
    triage: Triage,
    chat: Chat,
    user_id: str,
    request_id: str | None,
) -> None:
    ack()
    named = _named(request_id)

    def build() -> View:
        ticket = triage.open_ticket(named, user_id)
        return resolve_modal(ModalContext(request_id=named), client_name=ticket.request.name)

    _open_modal(chat, defer, body, RESOLVE_TITLE, build)


def refresh_book(
    ack: Ack,
    body: dict[str, Any],
    defer: Defer,
    triage: Triage,
    chat: Chat,
    user_id: str,
    form: dict[str, str | None],
    modal: ModalContext | None,
) -> None:
    """A new rep or duration in the Book modal: the slot list is drawn again."""
    ack()
    rep, duration = form.get(ActionId.BOOK_REP), form.get(ActionId.BOOK_DURATION)
    if modal is None or rep is None or duration is None:
        return
    context, minutes = modal, int(duration)

    def build() -> View:
        ticket = triage.open_ticket(context.request_id, user_id)
        return build_book_modal(triage, context, ticket.request, rep, minutes)

    view_id = body["view"]["id"]
    defer(body, lambda: fill_modal(chat, view_id, BOOK_TITLE, build))


def register(app: App) -> None:
    app.action(ActionId.CLAIM)(claim)
    app.action(ActionId.UNCLAIM)(unclaim)
    app.action(ActionId.REASSIGN)(reassign)
    app.action(ActionId.RESOLVE)(open_resolve)
    app.action(ActionId.BOOK)(open_book)
    app.action(ActionId.BOOK_REP)(refresh_book)
    app.action(ActionId.BOOK_DURATION)(refresh_book)
