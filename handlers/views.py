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

from bot.booking import Unavailable
from bot.reasons import describe
from bot.triage import TriageError
from handlers.ids import ActionId, BlockId, CallbackId, Outcome
from handlers.modals import WORKING, ModalContext, notice_modal
from handlers.slack_app import SlackServices, once
from handlers.slack_runtime import carried, carry
from integrations.base import IntegrationError
from storage.models import StoredBooking, StoredRequest

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


def _selected(values: dict[str, Any], block: BlockId, action: ActionId) -> str | None:
    option = (values.get(block) or {}).get(action, {}).get("selected_option")
    return str(option["value"]) if option else None


def _text(values: dict[str, Any], block: BlockId, action: ActionId) -> str | None:
    value = (values.get(block) or {}).get(action, {}).get("value")
    return str(value).strip() or None if value else None


def register(app: App, services: SlackServices) -> None:
    triage, chat = services.triage, services.chat

    def book_hold(
        ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any], context: BoltContext
    ) -> None:
        """Before the ack, only what the database can answer at once: hours, notice and
        the hold. A slot taken meanwhile is a field error; the rest happens after the ack.
        """
        modal = ModalContext.model_validate_json(view["private_metadata"])
        values = view["state"]["values"]
        user = body["user"]["id"]
        rep = _selected(values, BlockId.BOOK_REP, ActionId.BOOK_REP)
        duration = _selected(values, BlockId.BOOK_DURATION, ActionId.BOOK_DURATION)
        slot = _selected(values, BlockId.BOOK_SLOT, ActionId.BOOK_SLOT)
        if not (rep and duration and slot):
            field = BlockId.BOOK_SLOT if BlockId.BOOK_SLOT in values else BlockId.BOOK_REP
            ack(response_action="errors", errors={field: PICK_A_SLOT})
            return
        start = datetime.strptime(slot, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        try:
            held = triage.hold(modal.request_id, user, rep, start, int(duration))
        except (TriageError, IntegrationError) as exc:
            error = exc.message if isinstance(exc, IntegrationError) else str(exc)
            ack(response_action="errors", errors={BlockId.BOOK_SLOT: error[:150]})
            return
        if isinstance(held, Unavailable):
            detail = SLOT_TAKEN.format(detail=held.detail)
            ack(response_action="errors", errors={BlockId.BOOK_SLOT: detail[:150]})
            return
        ack(response_action="update", view=notice_modal(BOOK_TITLE, WORKING))
        # Only a submission whose hold succeeded goes on, with exactly that hold: handed
        # to `book_finish`, a lazy listener (on AWS Lambda another invocation).
        request, booking = held
        hold = {
            "request": request.model_dump(mode="json"),
            "booking": booking.model_dump(mode="json"),
            "user": user,
            "note": _text(values, BlockId.BOOK_NOTE, ActionId.BOOK_NOTE),
        }
        carry(context, HOLD, json.dumps(hold))

    def book_finish(
        body: dict[str, Any], view: dict[str, Any], context: BoltContext, request: BoltRequest
    ) -> None:
        carried_hold = carried(context, request, HOLD)
        if carried_hold is None:  # answered with a field error: nothing was held
            return
        finish_once(body=body, view_id=view["id"], hold=json.loads(carried_hold))

    @once(services)  # a redelivered invocation (Lambda retries) does not book again
    def finish_once(body: dict[str, Any], view_id: str, hold: dict[str, Any]) -> None:
        book_complete(
            view_id,
            StoredRequest.model_validate(hold["request"]),
            StoredBooking.model_validate(hold["booking"]),
            hold["user"],
            hold["note"],
        )

    def book_complete(
        view_id: str, request: StoredRequest, booking: StoredBooking, user: str, note: str | None
    ) -> None:
        try:
            booked = triage.complete_booking(request, booking, user, note)
        except Exception as exc:  # the modal must not stay on "Booking…"
            error = describe(exc.code) if isinstance(exc, IntegrationError) else repr(exc)
            log.error("booking from Slack failed", extra={"request_id": request.id, "error": error})
            text = BOOKING_FAILED.format(error=error)
            chat.update_view(view_id, notice_modal("Not booked", text).to_dict())
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

    def resolve_close(ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]) -> None:
        context = ModalContext.model_validate_json(view["private_metadata"])
        values = view["state"]["values"]
        outcome = _selected(values, BlockId.RESOLVE_OUTCOME, ActionId.RESOLVE_OUTCOME)
        if outcome not in {o.value for o in Outcome if o is not Outcome.BOOKED}:
            ack(response_action="errors", errors={BlockId.RESOLVE_OUTCOME: "Pick an outcome."})
            return
        note = _text(values, BlockId.RESOLVE_NOTE, ActionId.RESOLVE_NOTE)
        try:
            triage.close(context.request_id, body["user"]["id"], Outcome(outcome), note)
        except TriageError as exc:
            ack(response_action="errors", errors={BlockId.RESOLVE_OUTCOME: str(exc)[:150]})
            return
        ack()

    def resolve_redraw(view: dict[str, Any]) -> None:
        context = ModalContext.model_validate_json(view["private_metadata"])
        triage.redraw_request(context.request_id)

    app.view(CallbackId.BOOK_SUBMIT)(ack=book_hold, lazy=[book_finish])
    app.view(CallbackId.RESOLVE_SUBMIT)(ack=resolve_close, lazy=[resolve_redraw])
