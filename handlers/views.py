"""Modal submissions: Book (hold the slot before answering, so a taken slot is a field
error; create the event after) and Resolve (close the escalation, then redraw it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App

from bot.domain.reasons import describe
from bot.messages.ids import ActionId, BlockId, CallbackId
from bot.messages.modals import WORKING, ModalContext, notice_modal
from bot.services.booking import Unavailable
from bot.services.triage import Triage, TriageError
from handlers.slack_context import Defer
from integrations.base import Chat, IntegrationError
from storage.models import StoredBooking, StoredRequest
from storage.statuses import Outcome

log = logging.getLogger("frontdesk.slack.views")

PICK_A_SLOT = "Pick a free slot (or another rep or duration)."
SLOT_TAKEN = "That slot is no longer free: {detail}. Pick another one."
SLOT_TAKEN_AFTER = (
    "Not booked: a calendar of the rep is busy then ({detail}). Click Book again to pick "
    "another slot."
)
BOOK_TITLE = "Book meeting"
BOOKED = "Booked {client} with {rep}. The escalation message is updated."
BOOKED_UNCONFIRMED = (
    "The meeting exists, but the client was NOT confirmed: {error}. Please contact them."
)
BOOKING_FAILED = "Could not book: {error}. The escalation stays open; try again or resolve it."

Ack = Callable[..., None]


def book_hold(
    ack: Ack,
    body: dict[str, Any],
    defer: Defer,
    triage: Triage,
    chat: Chat,
    user_id: str,
    form: dict[str, str | None],
    modal: ModalContext | None,
) -> None:
    """Before the ack, only what the database can answer at once: hours, notice and the
    hold. A slot taken meanwhile is a field error; the rest happens after the ack.
    """
    rep, duration = form.get(ActionId.BOOK_REP), form.get(ActionId.BOOK_DURATION)
    slot = form.get(ActionId.BOOK_SLOT)
    if modal is None or not (rep and duration and slot):
        has_slot_field = ActionId.BOOK_SLOT in form
        field = BlockId.BOOK_SLOT if has_slot_field else BlockId.BOOK_REP
        ack(response_action="errors", errors={field: PICK_A_SLOT})
        return
    start = datetime.strptime(slot, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    try:
        held = triage.hold(modal.request_id, user_id, rep, start, int(duration))
    except (TriageError, IntegrationError) as exc:
        error = exc.message if isinstance(exc, IntegrationError) else str(exc)
        ack(response_action="errors", errors={BlockId.BOOK_SLOT: error[:150]})
        return
    if isinstance(held, Unavailable):
        detail = SLOT_TAKEN.format(detail=held.detail)
        ack(response_action="errors", errors={BlockId.BOOK_SLOT: detail[:150]})
        return
    ack(response_action="update", view=notice_modal(BOOK_TITLE, WORKING))
    # Only a submission whose hold succeeded goes on, with exactly that hold.
    request, booking = held
    note = form.get(ActionId.BOOK_NOTE)
    defer.submit(book_complete, triage, chat, body["view"]["id"], request, booking, user_id, note)


def book_complete(
    triage: Triage,
    chat: Chat,
    view_id: str,
    request: StoredRequest,
    booking: StoredBooking,
    user: str,
    note: str | None,
) -> None:
    try:
        booked = triage.complete_booking(request, booking, user, note)
    except Exception as exc:  # the modal must not stay on "Booking…"
        error = describe(exc.code) if isinstance(exc, IntegrationError) else repr(exc)
        log.error("booking from Slack failed", extra={"request_id": request.id, "error": error})
        chat.update_view(
            view_id, notice_modal("Not booked", BOOKING_FAILED.format(error=error)).to_dict()
        )
        return
    if isinstance(booked, Unavailable):
        text = SLOT_TAKEN_AFTER.format(detail=booked.detail)
        chat.update_view(view_id, notice_modal("Not booked", text).to_dict())
    elif booked.email_error is not None:
        text = BOOKED_UNCONFIRMED.format(error=describe(booked.email_error.code))
        chat.update_view(view_id, notice_modal("Booked", text).to_dict())
    else:
        text = BOOKED.format(client=request.name, rep=booking.rep_email)
        chat.update_view(view_id, notice_modal("Booked", text).to_dict())


def resolve_close(
    ack: Ack,
    defer: Defer,
    triage: Triage,
    user_id: str,
    form: dict[str, str | None],
    modal: ModalContext | None,
) -> None:
    """Close the escalation before answering (the modal shows a refusal as a field error),
    then redraw its message.
    """
    outcome = form.get(ActionId.RESOLVE_OUTCOME)
    if modal is None or outcome not in {o.value for o in Outcome if o is not Outcome.BOOKED}:
        ack(response_action="errors", errors={BlockId.RESOLVE_OUTCOME: "Pick an outcome."})
        return
    try:
        triage.close(modal.request_id, user_id, Outcome(outcome), form.get(ActionId.RESOLVE_NOTE))
    except TriageError as exc:
        ack(response_action="errors", errors={BlockId.RESOLVE_OUTCOME: str(exc)[:150]})
        return
    ack()
    defer.submit(triage.redraw_request, modal.request_id)


def register(app: App) -> None:
    app.view(CallbackId.BOOK_SUBMIT)(book_hold)
    app.view(CallbackId.RESOLVE_SUBMIT)(resolve_close)
