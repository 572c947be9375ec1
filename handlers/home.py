"""The App Home tab (`app_home_opened`): ack at once, then draw the viewer's tab
(`bot/services/home.py`) and publish it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import App

from handlers.slack_context import Defer, SlackServices


def publish(
    ack: Callable[..., None],
    body: dict[str, Any],
    event: dict[str, Any],
    client: Any,
    defer: Defer,
    services: SlackServices,
) -> None:
    ack()
    if event.get("tab", "home") != "home":
        return  # the Messages tab: nothing to draw
    user = event["user"]
    # After the ack: a permalink per escalation plus views.publish may take longer than
    # Slack waits.
    defer(
        body,
        lambda: client.views_publish(user_id=user, view=services.home.view_for(user).to_dict()),
    )


def register(app: App) -> None:
    app.event("app_home_opened")(publish)
