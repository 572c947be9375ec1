"""manifest.yml is a valid Slack app manifest (SPEC §4), and everything it sends Frontdesk
has a listener: each slash command, each bot event, and every interactive element and modal
the app draws. Listeners are proved by dispatching signed requests to the Bolt app that
`build_slack_app` builds and getting Bolt's ack, not its 404 for unhandled requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_bolt import App, BoltRequest, BoltResponse

from bot.app import build_slack_app
from bot.components import build_components
from bot.messages.blocks import EscalationView, MeetingView, escalation_blocks, outcome_blocks
from bot.messages.ids import ActionId, CallbackId, Command
from bot.messages.modals import ModalContext, SlotChoice, book_modal, resolve_modal
from storage.migrate import upgrade
from storage.models import EscalationKind
from testkit.fakes.slack import FakeSlack, FakeUser
from testkit.slack_payloads import (
    BOT_TOKEN,
    FORM,
    JSON,
    SIGNING_SECRET,
    command_body,
    event_body,
    event_callback,
    interactive_body,
    message_action,
    slack_headers,
    slash_command,
    view_action,
    view_submission,
)
from tests.conftest import ROOT, make_settings
from tests.slack_requests import TrackedExecutor, slack_config, track_listeners

MANIFEST = ROOT / "manifest.yml"
REQUEST_URL = "https://YOUR-HOST/slack/events"
REQUIRED_SCOPES = {
    "chat:write",
    "commands",
    "im:write",
    "users:read",
    "users:read.email",
    "usergroups:read",
}
OMAR = FakeUser("U0OMAR", "omar@ourco.example", tz="Europe/London")
REQUEST_ID = "req_01jd3k9x2m4q8r7s6t5v4w3y2z"
CONTEXT = ModalContext(request_id=REQUEST_ID, zone="America/New_York")


def manifest() -> dict[str, Any]:
    return dict(yaml.safe_load(MANIFEST.read_text(encoding="utf-8")))


def urls(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted key, value) of every URL-valued key in the manifest."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("url") and isinstance(value, str):
                yield f"{path}{key}", value
            yield from urls(value, f"{path}{key}.")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from urls(item, f"{path}{index}.")


# ------------------------------------------------------------------ the manifest itself


def test_the_manifest_has_what_slack_requires() -> None:
    data = manifest()

    assert set(data) <= {
        "_metadata",
        "display_information",
        "features",
        "oauth_config",
        "settings",
        "functions",
        "workflows",
        "outgoing_domains",
    }
    assert 1 <= len(data["display_information"]["name"]) <= 35
    assert len(data["display_information"].get("description", "")) <= 140
    assert 1 <= len(data["features"]["bot_user"]["display_name"]) <= 80
    for command in data["features"]["slash_commands"]:
        assert command["command"].startswith("/") and len(command["command"]) <= 32
        assert 1 <= len(command["description"]) <= 2000
    settings = data["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is False  # requests come over HTTP


def test_the_manifest_asks_for_the_scopes_frontdesk_uses() -> None:
    scopes = set(manifest()["oauth_config"]["scopes"]["bot"])

    assert scopes >= REQUIRED_SCOPES


def test_every_url_is_the_slack_events_endpoint() -> None:
    found = dict(urls(manifest()))

    assert set(found) >= {
        "features.slash_commands.0.url",
        "settings.interactivity.request_url",
    }
    assert set(found.values()) == {REQUEST_URL}


def test_the_manifest_declares_exactly_the_commands_frontdesk_handles() -> None:
    declared = {c["command"] for c in manifest()["features"]["slash_commands"]}

    assert declared == {command.value for command in Command}


# ------------------------------------------------------------------ listeners


@dataclass
class Bolt:
    app: App
    fake: FakeSlack
    executor: TrackedExecutor

    def dispatch(self, body: bytes, content_type: str) -> BoltResponse:
        headers: dict[str, str | Sequence[str]] = {**slack_headers(body, content_type)}
        return self.app.dispatch(BoltRequest(body=body.decode(), headers=headers))


@pytest.fixture
def bolt(tmp_path: Path) -> Iterator[Bolt]:
    database_url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    upgrade(database_url)
    with FakeSlack(token=BOT_TOKEN, users=[OMAR]) as fake:
        settings = make_settings(
            database_url,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake.url,
        )
        components = build_components(settings, slack_config())
        app = build_slack_app(components)
        executor = track_listeners(app)
        try:
            yield Bolt(app, fake, executor)
        finally:
            executor.drain()
            executor.shutdown()
            components.db.dispose()


def escalation_message() -> dict[str, Any]:
    view = EscalationView(
        request_id=REQUEST_ID,
        kind=EscalationKind.MANUAL_REVIEW,
        name="Dana Reyes",
        email="dana@northwind.example",
        company=None,
        phone=None,
        timezone="America/Phoenix",
        requested_start=None,
        duration_minutes=30,
        notes="urgent",
        reasons=("keyword:urgent",),
    )
    blocks = [block.to_dict() for block in escalation_blocks(view)]
    return {"type": "message", "ts": "1795484121.000001", "text": "Manual review", "blocks": blocks}


def outcome_message() -> dict[str, Any]:
    """The "Did it happen?" prompt in a host's DM."""
    start = datetime(2026, 11, 24, 14, tzinfo=UTC)
    view = MeetingView(
        booking_id=7,
        request_id=REQUEST_ID,
        client_name="Dana Reyes",
        company=None,
        start=start,
        end=start + timedelta(minutes=30),
        zone="America/New_York",
    )
    blocks = [block.to_dict() for block in outcome_blocks(view)]
    return {
        "type": "message",
        "ts": "1795484121.000002",
        "text": "Did it happen?",
        "blocks": blocks,
    }


def modals() -> list[dict[str, Any]]:
    """Every modal that can be submitted, as Slack holds it once opened."""
    start = datetime(2026, 11, 24, 14, tzinfo=UTC)
    book = book_modal(
        CONTEXT,
        client_name="Dana Reyes",
        reps=["alice@ourco.example", "chen@ourco.example"],
        rep="alice@ourco.example",
        duration=30,
        durations=(30, 60),
        slots=[SlotChoice(start, "Tue 24 Nov", "2:00 PM GMT")],
        horizon_days=21,
        zone_note="Times in your zone.",
    )
    resolve = resolve_modal(CONTEXT, client_name="Dana Reyes")
    return [
        {**view.to_dict(), "id": f"V0{n}", "hash": f"1.{n}"}
        for n, view in enumerate((book, resolve))
    ]


def dispatching_actions(blocks: list[dict[str, Any]]) -> list[str]:
    """action_ids Slack sends block_actions for: elements of actions blocks and section
    accessories, and input elements with dispatch_action.
    """
    found = []
    for block in blocks:
        if block["type"] == "actions":
            found += [element["action_id"] for element in block["elements"]]
        elif block["type"] == "section" and "action_id" in block.get("accessory", {}):
            found.append(block["accessory"]["action_id"])
        elif block["type"] == "input" and block.get("dispatch_action"):
            found.append(block["element"]["action_id"])
    return found


def test_every_slash_command_in_the_manifest_is_acked_and_answered(bolt: Bolt) -> None:
    for number, entry in enumerate(manifest()["features"]["slash_commands"]):
        response_id = f"command-{number}"
        fields = slash_command(
            OMAR.id, entry["command"], "help", response_url=bolt.fake.response_url(response_id)
        )

        response = bolt.dispatch(command_body(fields), FORM)

        assert response.status == 200, (entry["command"], response.body)
        bolt.executor.drain()
        assert bolt.fake.responses(response_id), f"{entry['command']} never answered"


def test_every_bot_event_in_the_manifest_is_acked(bolt: Bolt) -> None:
    events = manifest()["settings"].get("event_subscriptions", {}).get("bot_events", [])

    for name in events:
        event = {"type": name, "user": OMAR.id, "channel": "D0OMAR", "tab": "home"}
        response = bolt.dispatch(event_body(event_callback(event)), JSON)

        assert response.status == 200, (name, response.body)


def test_the_event_subscription_handshake_is_answered(bolt: Bolt) -> None:
    challenge = {
        "token": "unused",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }

    response = bolt.dispatch(event_body(challenge), JSON)

    assert response.status == 200
    assert challenge["challenge"] in response.body


def test_every_interactive_element_and_modal_the_app_draws_has_a_listener(bolt: Bolt) -> None:
    acted: set[str] = set()
    for channel, message in (("C0ESCALATE", escalation_message()), ("D0OMAR", outcome_message())):
        for action_id in dispatching_actions(message["blocks"]):
            payload = message_action(OMAR.id, channel, message, action_id, selected_user=OMAR.id)
            response = bolt.dispatch(interactive_body(payload), FORM)
            assert response.status == 200, (action_id, response.body)
            acted.add(action_id)
    submitted: set[str] = set()
    for view in modals():
        for action_id in dispatching_actions(view["blocks"]):
            first = next(b for b in view["blocks"] if b.get("block_id") == action_id)
            value = first["element"]["options"][-1]["value"]
            payload = view_action(OMAR.id, view, action_id, value)
            response = bolt.dispatch(interactive_body(payload), FORM)
            assert response.status == 200, (action_id, response.body)
            acted.add(action_id)
        response = bolt.dispatch(interactive_body(view_submission(OMAR.id, view, {})), FORM)
        assert response.status == 200, (view["callback_id"], response.body)
        submitted.add(view["callback_id"])

    assert acted == {
        ActionId.CLAIM,
        ActionId.BOOK,
        ActionId.REASSIGN,
        ActionId.RESOLVE,
        ActionId.BOOK_REP,
        ActionId.BOOK_DURATION,
        ActionId.OUTCOME_HELD,
        ActionId.OUTCOME_NO_SHOW,
        ActionId.OUTCOME_RESCHEDULED,
    }
    assert submitted == {callback.value for callback in CallbackId}


def test_an_action_nobody_listens_to_gets_bolts_404(bolt: Bolt) -> None:
    # The tests above would be empty if every request got a 200: this one must not.
    message = escalation_message()
    actions = next(block for block in message["blocks"] if block["type"] == "actions")
    actions["elements"][0]["action_id"] = "not_a_frontdesk_action"
    payload = message_action(OMAR.id, "C0ESCALATE", message, "not_a_frontdesk_action")

    response = bolt.dispatch(interactive_body(payload), FORM)

    assert response.status == 404


def test_building_the_app_with_the_token_in_the_environment_logs_no_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Bolt reads SLACK_BOT_TOKEN itself and warns it is unused when given a client.
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    database_url = f"sqlite:///{tmp_path / 'quiet.db'}"
    settings = make_settings(
        database_url, slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET
    )
    components = build_components(settings, slack_config())
    try:
        with caplog.at_level("WARNING", logger="frontdesk.bolt"):
            build_slack_app(components)
    finally:
        components.db.dispose()
    assert [r.getMessage() for r in caplog.records if r.name == "frontdesk.bolt"] == []
