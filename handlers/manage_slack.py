"""The account owner's Book button on a VIP client's requested move (SPEC §11): ack at
once, then move the meeting as the client asked and redraw the DM with who did it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.messages.booking_changes import parse_move_button, vip_moved_text
from bot.messages.ids import ActionId
from bot.services.triage import TriageError
from handlers.slack_context import Defer, SlackServices

NOT_A_MOVE = "This button does not name a meeting to move."
SLOT_NOT_FREE = "That time is no longer free; reply to the client with another."
NOT_MOVABLE = "This meeting was changed or cancelled meanwhile; nothing was moved."
MOVE_ESCALATED = "The calendar refused the move; the failure was posted for ops."


def book_move(
    ack: Callable[..., None], body: dict[str, Any], defer: Defer, services: SlackServices
) -> None:
    ack()
    action = body["actions"][0]
    user = str(body["user"]["id"])

    def move() -> None:
        try:
            booking_id, version, start = parse_move_button(str(action.get("value") or ""))
        except ValueError:
            raise TriageError(NOT_A_MOVE) from None
        result = services.booking_changes.owner_move(booking_id, version, start, user)
        if result.outcome == "taken":
            raise TriageError(SLOT_NOT_FREE)
        if result.outcome == "not_active":
            raise TriageError(NOT_MOVABLE)
        if result.outcome == "escalated":
            raise TriageError(MOVE_ESCALATED)
        container = body.get("container") or {}
        channel, ts = container.get("channel_id"), container.get("message_ts")
        if channel and ts:
            text = vip_moved_text(result.request, start, user)
            services.chat.update_message(str(channel), str(ts), text, [])

    defer(body, move)


def register(app: App) -> None:
    app.action(ActionId.MOVE_BOOK)(book_move)
