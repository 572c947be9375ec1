"""Slack's requests to /slack/events, built and signed exactly as Slack sends them, and a
harness that serves the real app against the fake Slack Web API (tests/fakes/slack.py).

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
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from fastapi.testclient import TestClient
from slack_bolt import App

from bot.app import Components, build_components, create_app
from bot.config import Config, parse_config
from integrations.slack import ChannelPacer, SlackChat
from storage.migrate import upgrade
from storage.models import StoredEscalation
from tests.conftest import EXAMPLE_CONFIG, FixedClock, make_settings, post_signed
from tests.fakes.slack import TEAM_ID, FakeSlack

SIGNING_SECRET = "test-slack-signing-secret"
BOT_TOKEN = "xoxb-test"
APP_ID = "A0FRONTDESK"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

T = TypeVar("T")
_ids = itertools.count(1)


# ------------------------------------------------------------------ signing and posting


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


# ------------------------------------------------------------------ payloads


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


# ------------------------------------------------------------------ waiting


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, what: str = "") -> T:
    """Poll until `predicate()` is truthy (lazy listeners run after the ack); its value."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(0.01)


class TrackedExecutor(ThreadPoolExecutor):
    """Bolt's listener executor, remembering its work so a test can wait until all of it
    is done before asserting that something did NOT happen.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=5, thread_name_prefix="bolt-listener")
        self._futures: list[Future[Any]] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        with self._lock:
            self._futures.append(future)
        return future

    def drain(self, timeout: float = 5.0) -> None:
        with self._lock:
            pending = list(self._futures)
        _, not_done = wait(pending, timeout=timeout)
        if not_done:
            raise AssertionError(
                f"{len(not_done)} Slack listener(s) still running after {timeout}s"
            )


def track_listeners(slack_app: App) -> TrackedExecutor:
    """Run the Bolt app's listeners on a TrackedExecutor (before its first request)."""
    executor = TrackedExecutor()
    runner = slack_app.listener_runner
    runner.listener_executor = executor
    runner.lazy_listener_runner.executor = executor  # type: ignore[attr-defined]
    return executor


# ------------------------------------------------------------------ the app under test


@dataclass
class SlackHarness:
    """One Frontdesk instance (its own engine) on the shared database, with real Slack
    credentials pointing at the fake: the real WebClient talks to the fake over HTTP.
    """

    fake: FakeSlack
    components: Components
    client: TestClient
    executor: TrackedExecutor

    @classmethod
    def start(
        cls,
        database_url: str,
        config: Config,
        fake: FakeSlack,
        clock: FixedClock,
        settings: dict[str, Any] | None = None,
    ) -> SlackHarness:
        """`settings`: more environment settings (another service's credentials)."""
        environment = make_settings(
            database_url,
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=fake.url,
            **(settings or {}),
        )
        components = build_components(environment, config, clock=clock)
        app = create_app(components, recover_on_start=False)
        executor = track_listeners(app.state.slack_app)
        client = TestClient(app)
        client.__enter__()
        return cls(fake, components, client, executor)

    def unpaced(self) -> SlackHarness:
        """Posts to one channel go out at once (Slack's 1/s pacing would only slow tests)."""
        chat = self.components.integrations.chat
        assert isinstance(chat, SlackChat)
        chat.pacer = ChannelPacer(0.0)
        return self

    def close(self) -> None:
        self.executor.drain()
        self.client.__exit__(None, None, None)
        self.executor.shutdown(wait=True)
        self.components.db.dispose()

    # -- posting ---------------------------------------------------------------------

    def post(self, body: bytes, content_type: str, **signing: Any) -> httpx.Response:
        headers = slack_headers(body, content_type, **signing)
        return self.client.post("/slack/events", content=body, headers=headers)

    def interact(self, payload: dict[str, Any], **signing: Any) -> httpx.Response:
        response = self.post(interactive_body(payload), FORM, **signing)
        assert response.status_code == 200, response.text
        return response

    def command(self, user_id: str, text: str, response_id: str) -> httpx.Response:
        fields = slash_command(
            user_id, "/availability", text, response_url=self.fake.response_url(response_id)
        )
        response = self.post(command_body(fields), FORM)
        assert response.status_code == 200, response.text
        return response

    def intake(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Submit a booking request through the real intake webhook."""
        response = post_signed(self.client, payload)
        assert response.status_code == 200, response.text
        return dict(response.json())

    # -- the escalation message and its buttons ---------------------------------------

    def escalation(self, request_id: str) -> StoredEscalation:
        escalation = self.components.escalations.get_by_request(request_id)
        assert escalation is not None, f"no escalation for {request_id}"
        return escalation

    def message(self, request_id: str) -> tuple[str, dict[str, Any]]:
        """(channel, message) of the escalation as the fake holds it now."""
        escalation = self.escalation(request_id)
        assert escalation.channel and escalation.message_ts, "never posted to Slack"
        return escalation.channel, self.fake.messages[(escalation.channel, escalation.message_ts)]

    def click_payload(
        self, user_id: str, request_id: str, action_id: str, selected_user: str | None = None
    ) -> dict[str, Any]:
        channel, message = self.message(request_id)
        return message_action(user_id, channel, message, action_id, selected_user=selected_user)

    def click(
        self, user_id: str, request_id: str, action_id: str, selected_user: str | None = None
    ) -> dict[str, Any]:
        payload = self.click_payload(user_id, request_id, action_id, selected_user)
        self.interact(payload)
        return payload

    # -- modals ----------------------------------------------------------------------

    def view(self, view_id: str) -> dict[str, Any]:
        return self.fake.views[view_id]

    def submit(self, user_id: str, view_id: str, choices: dict[str, str | None]) -> httpx.Response:
        """Submit the modal as drawn now; a `response_action: update` is shown, as Slack does."""
        response = self.interact(view_submission(user_id, self.view(view_id), choices))
        answer = response.json() if response.content else {}
        if answer.get("response_action") == "update":
            self.fake.show_view(view_id, answer["view"])
        return response

    def select_in_modal(
        self, user_id: str, view_id: str, action_id: str, value: str
    ) -> httpx.Response:
        return self.interact(view_action(user_id, self.view(view_id), action_id, value))


def slack_config(*, ops_usergroup: str | None = None, **changes: Any) -> Config:
    """The example config, with or without an ops user group, and top-level sections
    replaced by `changes` (e.g. `vip=[...]`).
    """
    data = tomllib.loads(EXAMPLE_CONFIG.read_text())
    data["slack"].pop("ops_usergroup", None)
    if ops_usergroup is not None:
        data["slack"]["ops_usergroup"] = ops_usergroup
    data.update(changes)
    return parse_config(data, str(EXAMPLE_CONFIG))


@contextmanager
def harnesses(
    database_url: str, fake: FakeSlack, clock: FixedClock, *, paced: bool = True, **defaults: Any
) -> Iterator[Callable[..., SlackHarness]]:
    """Migrates the database and starts harnesses on it (config keywords over `defaults`,
    see `slack_config`); every one started is closed at the end.
    """
    upgrade(database_url)
    started: list[SlackHarness] = []

    def start(*, settings: dict[str, Any] | None = None, **config: Any) -> SlackHarness:
        harness = SlackHarness.start(
            database_url, slack_config(**{**defaults, **config}), fake, clock, settings
        )
        started.append(harness if paced else harness.unpaced())
        return harness

    try:
        yield start
    finally:
        for harness in started:
            harness.close()
