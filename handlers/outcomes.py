"""The "Did it happen?" buttons in a host's DM (Held / No-show / Rescheduled): ack at
once, then store the answer and redraw the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.messages.blocks import OUTCOME_BY_ACTION
from bot.services.triage import TriageError
from handlers.slack_context import Defer, SlackServices

NOT_A_MEETING = "This button does not name a meeting."


def _booking_id(action: dict[str, Any]) -> int:
    try:
        return int(action.get("value") or "")
    except ValueError:
        raise TriageError(NOT_A_MEETING) from None


def _clicked(body: dict[str, Any]) -> tuple[str, str] | None:
    """(channel, ts) of the message whose button was clicked."""
    container = body.get("container") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    return (str(channel), str(ts)) if channel and ts else None


def answer(
    ack: Callable[..., None], body: dict[str, Any], defer: Defer, services: SlackServices
) -> None:
    ack()
    action = body["actions"][0]

    def store() -> None:
        outcome = OUTCOME_BY_ACTION[action["action_id"]]
        services.outcomes.answer(
            _booking_id(action), str(body["user"]["id"]), outcome, _clicked(body)
        )

    defer(body, store)


def register(app: App) -> None:
    for action_id in OUTCOME_BY_ACTION:
        app.action(action_id)(answer)
