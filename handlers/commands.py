"""Slash commands: `/availability` acks at once and answers ephemerally after."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.messages.ids import Command
from handlers.slack_app import SlackServices, once


def register(app: App, services: SlackServices) -> None:
    def ack_command(ack: Callable[..., None]) -> None:
        ack()

    @once(services)
    def availability(body: dict[str, Any], respond: Callable[..., Any]) -> None:
        text = services.availability.answer(body["user_id"], body.get("text") or "")
        respond(text=text, response_type="ephemeral")

    app.command(Command.AVAILABILITY)(ack=ack_command, lazy=[availability])
