"""A harness that serves the real app against the fake Slack Web API
(testkit/fakes/slack.py), driven by requests built and signed as Slack sends them
(testkit/slack_payloads.py).

Signing: `X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=HMAC-SHA256(signing
secret, "v0:{ts}:{raw body}")`. Interactivity (`block_actions`, `view_submission`) is a form
post with one `payload=<json>` field; slash commands are form posts of their fields; events
are JSON.
"""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from fastapi.testclient import TestClient
from slack_bolt import App

from bot.app import create_app
from bot.components import Components, build_components
from bot.config import parse_config
from bot.domain.config import Config
from integrations.slack import ChannelPacer, SlackChat
from storage.migrate import upgrade
from storage.models import StoredEscalation
from testkit.fakes.slack import FakeSlack
from testkit.slack_payloads import (
    BOT_TOKEN,
    FORM,
    SIGNING_SECRET,
    command_body,
    interactive_body,
    message_action,
    slack_headers,
    slash_command,
    view_action,
    view_submission,
)
from tests.conftest import EXAMPLE_CONFIG, FixedClock, make_settings, post_signed

T = TypeVar("T")


# ------------------------------------------------------------------ signing and posting


# ------------------------------------------------------------------ payloads


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
        components.triage.redraws.executor = executor  # drain() waits for redraws too
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
