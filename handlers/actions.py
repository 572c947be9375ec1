"""Buttons and selects: on escalation messages (claim, unclaim, book, reassign, resolve) and
inside the Book modal (a new rep or duration refreshes the slots). Ack first, work after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt import App, BoltContext, BoltRequest
from slack_sdk.models.views import View

from bot.availability_query import clock_label, day_label
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
from handlers.slack_app import SOMETHING_WENT_WRONG, SlackServices, once, request_id_of
from handlers.slack_runtime import carried, carry
from integrations.base import Chat, IntegrationError
from storage.models import StoredRequest

log = logging.getLogger("frontdesk.slack.actions")

BOOK_DURATIONS = (15, 30, 45, 60, 90)
REP_CALENDAR_UNREADABLE = "Could not read the calendars of {rep}: {error}. Pick another rep."
BOOK_TITLE = "Book meeting"
RESOLVE_TITLE = "Resolve request"
VIEW_ID = "view_id"


def _ack(ack: Callable[..., None]) -> None:
    ack()


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _request_id(body: dict[str, Any]) -> str:
    request_id = request_id_of(body)
    if request_id is None:
        raise TriageError("This button does not name a request.")
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


def register(app: App, services: SlackServices) -> None:
    triage, chat, config = services.triage, services.chat, services.config

    def background() -> Executor:
        # Looked up at each use: the runner's executor may be swapped after registration.
        return app.listener_runner.listener_executor

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

    def open_modal(body: dict[str, Any], title: str, build: Callable[[], View]) -> None:
        """Open a loading modal now, in the ack (the trigger dies 3 s after the click, and
        work queued behind other work could miss it), and fill it in the background.
        """
        view_id = chat.open_view(body["trigger_id"], notice_modal(title, LOADING_SLOTS).to_dict())
        background().submit(fill_modal, chat, view_id, title, build)

    def open_book(ack: Callable[..., None], body: dict[str, Any], context: BoltContext) -> None:
        """The loading modal in the ack; its slots (a calendar query per calendar of the
        rep) in `fill_book`, a lazy listener: on AWS Lambda another invocation.
        """
        ack()
        loading = notice_modal(BOOK_TITLE, LOADING_SLOTS).to_dict()
        carry(context, VIEW_ID, chat.open_view(body["trigger_id"], loading))

    def fill_book(body: dict[str, Any], context: BoltContext, request: BoltRequest) -> None:
        view_id = carried(context, request, VIEW_ID)
        if view_id is None:  # the modal did not open; the ack's error was shown already
            return
        request_id, user = _request_id(body), _user(body)

        def build() -> View:
            ticket = triage.open_ticket(request_id, user)
            zone = viewer_zone(chat, user, config.zone)
            context = ModalContext(request_id=request_id, zone=zone.key)
            rep = ticket.request.rep_email or triage.booker.candidates(ticket.request)[0].email
            duration = ticket.request.duration_minutes
            return build_book_modal(triage, context, ticket.request, rep, duration)

        fill_modal(chat, view_id, BOOK_TITLE, build)

    def open_resolve(ack: Callable[..., None], body: dict[str, Any]) -> None:
        ack()
        request_id, user = _request_id(body), _user(body)

        def build() -> View:
            ticket = triage.open_ticket(request_id, user)
            context = ModalContext(request_id=request_id)
            return resolve_modal(context, client_name=ticket.request.name)

        open_modal(body, RESOLVE_TITLE, build)

    @report
    def refresh_book(body: dict[str, Any]) -> None:
        view = body["view"]
        context = ModalContext.model_validate_json(view["private_metadata"])
        values = view["state"]["values"]
        rep = values[BlockId.BOOK_REP][ActionId.BOOK_REP]["selected_option"]["value"]
        duration_option = values[BlockId.BOOK_DURATION][ActionId.BOOK_DURATION]
        duration = int(duration_option["selected_option"]["value"])

        def build() -> View:
            ticket = triage.open_ticket(context.request_id, _user(body))
            return build_book_modal(triage, context, ticket.request, rep, duration)

        fill_modal(chat, view["id"], BOOK_TITLE, build)

    def after_ack(work: Callable[..., None]) -> Callable[..., None]:
        """Ack, then `work` on the background pool. Bolt's lazy listeners would deep-copy
        the whole request first, which costs the busiest clicks more than the ack itself.
        """

        def listener(ack: Callable[..., None], body: dict[str, Any]) -> None:
            ack()
            background().submit(work, body=body)

        return listener

    app.action(ActionId.CLAIM)(after_ack(claim))
    app.action(ActionId.UNCLAIM)(after_ack(unclaim))
    app.action(ActionId.REASSIGN)(after_ack(reassign))
    app.action(ActionId.RESOLVE)(open_resolve)
    app.action(ActionId.BOOK)(ack=open_book, lazy=[fill_book])
    app.action(ActionId.BOOK_REP)(ack=_ack, lazy=[refresh_book])
    app.action(ActionId.BOOK_DURATION)(ack=_ack, lazy=[refresh_book])
