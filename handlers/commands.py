"""Slash commands: `/availability` acks at once and answers ephemerally after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.messages.ids import Command
from handlers.slack_context import Defer, SlackServices


def availability(
    ack: Callable[..., None],
    body: dict[str, Any],
    respond: Callable[..., Any],
    defer: Defer,
    services: SlackServices,
) -> None:
    ack()

    def answer() -> None:
        text = services.availability.answer(body["user_id"], body.get("text") or "")
        respond(text=text, response_type="ephemeral")

    defer(body, answer)


def register(app: App) -> None:
    app.command(Command.AVAILABILITY)(availability)
