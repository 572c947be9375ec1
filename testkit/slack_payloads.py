"""Slack's requests to /slack/events, built and signed exactly as Slack sends them.

Signing: `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=HMAC-SHA256(signing
secret, "v0:{ts}:{raw body}")`. Interactivity (`block_actions`, `view_submission`) is a form
post with one `payload=<json>` field; slash commands are form posts of their fields; events
are JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from testkit.fakes.slack import TEAM_ID

SIGNING_SECRET = "test-slack-signing-secret"


BOT_TOKEN = "xoxb-test"


APP_ID = "A0FRONTDESK"


FORM = "application/x-www-form-urlencoded"


JSON = "application/json"


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def slack_headers(
    body: bytes,
    content_type: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: float | None = None,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
) -> dict[str, str]:
    ts = str(int(time.time() if timestamp is None else timestamp))
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": slack_signature(secret, ts, body),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


def interactive_body(payload: dict[str, Any]) -> bytes:
    """`block_actions` and `view_submission` arrive as a form with one `payload` field."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def command_body(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


def event_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


_ids = itertools.count(1)


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _user(user_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID}


def _interaction(kind: str, user_id: str) -> dict[str, Any]:
    return {
        "type": kind,
        "team": {"id": TEAM_ID, "domain": "fake-team"},
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "trigger_id": _unique("trigger."),
        "enterprise": None,
        "is_enterprise_install": False,
    }


def action_element(message: dict[str, Any], action_id: str) -> tuple[str, dict[str, Any]]:
    """(block_id, element) of the interactive element with `action_id` in a message."""
    for block in message.get("blocks", []):
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return block["block_id"], element
    raise LookupError(f"the message has no element with action_id {action_id!r}")


def message_action(
    user_id: str,
    channel: str,
    message: dict[str, Any],
    action_id: str,
    *,
    selected_user: str | None = None,
    response_url: str = "https://hooks.slack.com/actions/T0FAKE/1/unused",
) -> dict[str, Any]:
    """A `block_actions` payload: `user_id` clicked `action_id` on a channel message."""
    block_id, element = action_element(message, action_id)
    action: dict[str, Any] = {
        "type": element["type"],
        "action_id": action_id,
        "block_id": block_id,
        "action_ts": _action_ts(),
    }
    if element["type"] == "button":
        action |= {"text": element["text"], "value": element["value"]}
    elif element["type"] == "users_select":
        action["selected_user"] = selected_user
    return {
        **_interaction("block_actions", user_id),
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "channel": {"id": channel, "name": "escalations"},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def _options(element: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from element.get("options", [])
    for group in element.get("option_groups", []):
        yield from group["options"]


def _element_state(element: dict[str, Any], choice: str | None) -> dict[str, Any]:
    kind = element["type"]
    if kind == "static_select":
        selected = element.get("initial_option")
        if choice is not None:
            matching = [o for o in _options(element) if o["value"] == choice]
            if not matching:
                raise LookupError(f"{element['action_id']} offers no option {choice!r}")
            selected = matching[0]
        return {"type": kind, "selected_option": selected}
    if kind == "plain_text_input":
        return {
            "type": kind,
            "value": choice if choice is not None else element.get("initial_value"),
        }
    if kind == "users_select":
        return {"type": kind, "selected_user": choice or element.get("initial_user")}
    raise ValueError(f"no state for a {kind} element")


def view_state(view: dict[str, Any], choices: dict[str, str | None]) -> dict[str, Any]:
    """`view.state.values` as Slack sends it: what the person chose (by action_id), the
    initial options elsewhere. Choosing an option the modal does not offer is an error.
    """
    values: dict[str, Any] = {}
    unused = dict(choices)
    for block in view.get("blocks", []):
        if block["type"] != "input":
            continue
        element = block["element"]
        state = _element_state(element, unused.pop(element["action_id"], None))
        values[block["block_id"]] = {element["action_id"]: state}
    if unused:
        raise LookupError(f"the modal has no input for {sorted(unused)}")
    return {"values": values}


def _submitted_view(view: dict[str, Any], choices: dict[str, str | None]) -> dict[str, Any]:
    return {
        "team_id": TEAM_ID,
        "app_id": APP_ID,
        "bot_id": "B0FDBOT",
        "root_view_id": view["id"],
        "previous_view_id": None,
        "external_id": "",
        "clear_on_close": False,
        "notify_on_close": False,
        "private_metadata": "",
        "callback_id": "",
        **view,
        "state": view_state(view, choices),
    }


def view_submission(
    user_id: str, view: dict[str, Any], choices: dict[str, str | None]
) -> dict[str, Any]:
    """A `view_submission` payload for a modal as the app last drew it."""
    return {
        **_interaction("view_submission", user_id),
        "view": _submitted_view(view, choices),
        "response_urls": [],
    }


def view_action(user_id: str, view: dict[str, Any], action_id: str, value: str) -> dict[str, Any]:
    """A `block_actions` payload from inside a modal (a select with `dispatch_action`)."""
    submitted = _submitted_view(view, {action_id: value})
    block_id = next(
        block_id
        for block_id, by_action in submitted["state"]["values"].items()
        if action_id in by_action
    )
    state = submitted["state"]["values"][block_id][action_id]
    return {
        **_interaction("block_actions", user_id),
        "container": {"type": "view", "view_id": view["id"]},
        "view": submitted,
        "actions": [
            {
                "type": state["type"],
                "action_id": action_id,
                "block_id": block_id,
                "selected_option": state["selected_option"],
                "action_ts": _action_ts(),
            }
        ],
    }


def slash_command(
    user_id: str, command: str, text: str, *, response_url: str, channel: str = "C0GENERAL"
) -> dict[str, str]:
    return {
        "token": "verification-token-unused",
        "team_id": TEAM_ID,
        "team_domain": "fake-team",
        "channel_id": channel,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": _unique("trigger."),
    }


def event_callback(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": "verification-token-unused",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": event_id or _unique("Ev"),
        "event_time": int(time.time()),
        "event": event,
        "authorizations": [{"team_id": TEAM_ID, "user_id": "U0FDBOT", "is_bot": True}],
    }
