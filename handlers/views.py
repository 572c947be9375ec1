"""Modal submissions: Book (hold the slot before answering, so a taken slot is a field
error; create the event after) and Resolve (close the escalation, then redraw it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest

from bot.domain.reasons import describe
from bot.messages.ids import ActionId, BlockId, CallbackId
from bot.messages.modals import WORKING, ModalContext, notice_modal
from bot.services.booking import Unavailable
from bot.services.triage import Triage, TriageError
from handlers.slack_context import Defer, SlackServices
from handlers.slack_runtime import carried, carry
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

HOLD = "hold"

Ack = Callable[..., None]


def book_hold(
    ack: Ack,
    context: BoltContext,
    services: SlackServices,
    user_id: str,
    form: dict[str, str | None],
    modal: ModalContext | None,
) -> None:
    """Before the ack, only what the database can answer at once: hours, notice and the
    hold. A slot taken meanwhile is a field error; the rest happens in `book_finish`.
    """
    rep, duration = form.get(ActionId.BOOK_REP), form.get(ActionId.BOOK_DURATION)
    slot = form.get(ActionId.BOOK_SLOT)
    if modal is None or not (rep and duration and slot):
        field = BlockId.BOOK_SLOT if ActionId.BOOK_SLOT in form else BlockId.BOOK_REP
        ack(response_action="errors", errors={field: PICK_A_SLOT})
        return
    start = datetime.strptime(slot, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    try:
        held = services.triage.hold(modal.request_id, user_id, rep, start, int(duration))
    except (TriageError, IntegrationError) as exc:
        error = exc.message if isinstance(exc, IntegrationError) else str(exc)
        ack(response_action="errors", errors={BlockId.BOOK_SLOT: error[:150]})
        return
    if isinstance(held, Unavailable):
        detail = SLOT_TAKEN.format(detail=held.detail)
        ack(response_action="errors", errors={BlockId.BOOK_SLOT: detail[:150]})
        return
    ack(response_action="update", view=notice_modal(BOOK_TITLE, WORKING))
    # Only a submission whose hold succeeded goes on, with exactly that hold: handed to
    # `book_finish`, a lazy listener (on AWS Lambda another invocation).
    request, booking = held
    hold = {
        "request": request.model_dump(mode="json"),
        "booking": booking.model_dump(mode="json"),
        "note": form.get(ActionId.BOOK_NOTE),
    }
    carry(context, HOLD, json.dumps(hold))


def book_finish(
    body: dict[str, Any],
    context: BoltContext,
    request: BoltRequest,
    defer: Defer,
    services: SlackServices,
    user_id: str,
) -> None:
    """Lazy: the calendars, the event and the confirmation for the hold `book_hold` made;
    a redelivered invocation (a Lambda retry) does not book again.
    """
    carried_hold = carried(context, request, HOLD)
    if carried_hold is None:  # answered with a field error: nothing was held
        return
    hold = json.loads(carried_hold)
    view_id = body["view"]["id"]
    defer.once(
        body,
        lambda: book_complete(
            services.triage,
            services.chat,
            view_id,
            StoredRequest.model_validate(hold["request"]),
            StoredBooking.model_validate(hold["booking"]),
            user_id,
            hold["note"],
        ),
    )


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
    services: SlackServices,
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
    triage = services.triage
    try:
        triage.close(modal.request_id, user_id, Outcome(outcome), form.get(ActionId.RESOLVE_NOTE))
    except TriageError as exc:
        ack(response_action="errors", errors={BlockId.RESOLVE_OUTCOME: str(exc)[:150]})
        return
    ack()
    defer.submit(triage.redraw_request, modal.request_id)


def register(app: App) -> None:
    app.view(CallbackId.BOOK_SUBMIT)(ack=book_hold, lazy=[book_finish])
    app.view(CallbackId.RESOLVE_SUBMIT)(resolve_close)
