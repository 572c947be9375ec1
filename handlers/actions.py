"""Buttons and selects: on escalation messages (claim, unclaim, book, reassign, resolve) and
inside the Book modal (a new rep or duration refreshes the slots). Ack first, work after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App, BoltContext, BoltRequest
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
from handlers.slack_context import SOMETHING_WENT_WRONG, Defer, SlackServices
from handlers.slack_runtime import carried, carry
from integrations.base import Chat, IntegrationError
from storage.models import StoredRequest

log = logging.getLogger("frontdesk.slack.actions")

BOOK_DURATIONS = (15, 30, 45, 60, 90)
REP_CALENDAR_UNREADABLE = "Could not read the calendars of {rep}: {error}. Pick another rep."
BOOK_TITLE = "Book meeting"
RESOLVE_TITLE = "Resolve request"
NO_REQUEST = "This button does not name a request."
VIEW_ID = "view_id"

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


def _on_ticket(act: Callable[[Triage, str, str], object]) -> Callable[..., None]:
    """A button that acts on the escalation it sits on: `act(triage, request id, user)`
    once per interaction (a Slack retry does nothing twice), before the answer goes
    (Bolt sends it when the listener returns): a compare-and-set, so the answer waits for
    the database only. The message's redraw and a refusal follow the answer.
    """

    def listener(
        ack: Ack,
        body: dict[str, Any],
        defer: Defer,
        services: SlackServices,
        user_id: str,
        request_id: str | None,
    ) -> None:
        ack()
        defer.at_once(body, lambda: act(services.triage, _named(request_id), user_id))

    return listener


claim = _on_ticket(Triage.claim)
unclaim = _on_ticket(Triage.unclaim)


def reassign(
    ack: Ack,
    body: dict[str, Any],
    defer: Defer,
    services: SlackServices,
    user_id: str,
    request_id: str | None,
) -> None:
    ack()
    assignee = body["actions"][0].get("selected_user")
    if assignee:
        defer(body, lambda: services.triage.reassign(_named(request_id), user_id, assignee))


def open_book(
    ack: Ack,
    body: dict[str, Any],
    context: BoltContext,
    services: SlackServices,
    request_id: str | None,
) -> None:
    """The loading modal in the ack (the trigger dies 3 s after the click); its slots, a
    calendar read, in `fill_book`.
    """
    ack()
    _named(request_id)
    loading = notice_modal(BOOK_TITLE, LOADING_SLOTS).to_dict()
    carry(context, VIEW_ID, services.chat.open_view(body["trigger_id"], loading))


def fill_book(
    context: BoltContext,
    request: BoltRequest,
    services: SlackServices,
    user_id: str,
    request_id: str | None,
) -> None:
    """Lazy: the Book modal's slots for the rep asked for (or the next in turn)."""
    view_id = carried(context, request, VIEW_ID)
    if view_id is None or request_id is None:  # the modal did not open; the ack said why
        return
    triage, chat = services.triage, services.chat

    def build() -> View:
        ticket = triage.open_ticket(request_id, user_id)
        zone = viewer_zone(chat, user_id, triage.config.zone)
        modal = ModalContext(request_id=request_id, zone=zone.key)
        rep = triage.default_rep(ticket.request)
        return build_book_modal(triage, modal, ticket.request, rep, ticket.request.duration_minutes)

    fill_modal(chat, view_id, BOOK_TITLE, build)


def open_resolve(
    ack: Ack,
    body: dict[str, Any],
    defer: Defer,
    services: SlackServices,
    user_id: str,
    request_id: str | None,
) -> None:
    """The loading modal in the ack, its outcomes right after (a database read)."""
    ack()
    named = _named(request_id)
    triage, chat = services.triage, services.chat

    def build() -> View:
        ticket = triage.open_ticket(named, user_id)
        return resolve_modal(ModalContext(request_id=named), client_name=ticket.request.name)

    view_id = chat.open_view(
        body["trigger_id"], notice_modal(RESOLVE_TITLE, LOADING_SLOTS).to_dict()
    )
    defer.submit(fill_modal, chat, view_id, RESOLVE_TITLE, build)


def refresh_book(
    body: dict[str, Any],
    defer: Defer,
    services: SlackServices,
    user_id: str,
    form: dict[str, str | None],
    modal: ModalContext | None,
) -> None:
    """Lazy: a new rep or duration in the Book modal, so the slot list is drawn again."""
    rep, duration = form.get(ActionId.BOOK_REP), form.get(ActionId.BOOK_DURATION)
    if modal is None or rep is None or duration is None:
        return
    context, minutes, triage = modal, int(duration), services.triage

    def build() -> View:
        ticket = triage.open_ticket(context.request_id, user_id)
        return build_book_modal(triage, context, ticket.request, rep, minutes)

    view_id = body["view"]["id"]
    defer.once(body, lambda: fill_modal(services.chat, view_id, BOOK_TITLE, build))


def _ack(ack: Ack) -> None:
    ack()


def register(app: App) -> None:
    app.action(ActionId.CLAIM)(claim)
    app.action(ActionId.UNCLAIM)(unclaim)
    app.action(ActionId.REASSIGN)(reassign)
    app.action(ActionId.RESOLVE)(open_resolve)
    app.action(ActionId.BOOK)(ack=open_book, lazy=[fill_book])
    app.action(ActionId.BOOK_REP)(ack=_ack, lazy=[refresh_book])
    app.action(ActionId.BOOK_DURATION)(ack=_ack, lazy=[refresh_book])
