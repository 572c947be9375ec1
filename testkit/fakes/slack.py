"""A fake Slack Web API for tests: a real HTTP server on 127.0.0.1 that answers the methods
Frontdesk uses with real-shaped payloads, records every call, and can be told to fail.

Point the real `slack_sdk.WebClient` at it with `base_url=fake.url` (the SLACK_API_URL path):

    with FakeSlack(users=[FakeUser("U0ALICE", "alice@ourco.example")]) as fake:
        client = WebClient(token=fake.token, base_url=fake.url)
        fake.rate_limit_next("chat.postMessage", retry_after=1)
        ...
        assert fake.calls("chat.postMessage")[0].params["channel"] == "C0ESCALATE"

It also stands in for Slack's `response_url`s: `fake.response_url("cmd1")` is a URL whose
POSTs are recorded as calls of the method `RESPONSE_URL` (see `responses`).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from testkit.fakes import FakeHandler, FakeService, Scripts, parse_body

FAKE_TOKEN = "xoxb-fake-0000-token"
TEAM_ID = "T0FAKE"
BOT_USER_ID = "U0FDBOT"
BOT_ID = "B0FDBOT"
RESPONSE_URL = "response_url"  # the `method` of calls to a response_url

# Slack takes these form fields as JSON strings; decoded so tests see one shape either way.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
_CHANNEL_PREFIXES = ("C", "G", "D")
MAX_VIEW_BLOCKS = 100


@dataclass(frozen=True)
class Call:
    """One request the fake received; `at` is `time.monotonic()` on arrival. `path` is the
    response_url's id for calls of `RESPONSE_URL`, empty for Web API methods.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    path: str = ""


@dataclass(frozen=True)
class FakeUser:
    id: str
    email: str
    tz: str = "America/New_York"
    name: str = ""

    def payload(self) -> dict[str, Any]:
        name = self.name or self.email.split("@", 1)[0]
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": name.title(),
            "deleted": False,
            "is_bot": False,
            "tz": self.tz,
            "tz_label": self.tz,
            "profile": {"email": self.email, "real_name": name.title(), "display_name": name},
        }


@dataclass
class _Scripted:
    """A canned answer for the next `times` calls of one method."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


class _Refusal(Exception):
    """Raised by a method handler to answer `{"ok": false, "error": …}` with HTTP 200."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class FakeSlack(FakeService):
    """The fake server; a context manager that starts on enter and stops on exit."""

    thread_name = "fake-slack"

    def __init__(
        self,
        *,
        token: str = FAKE_TOKEN,
        users: list[FakeUser] | None = None,
        usergroups: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        self.users = {user.id: user for user in users or []}
        self.usergroups = dict(usergroups or {})
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}  # by user id
        self._calls: list[Call] = []
        self._scripts: Scripts[_Scripted] = Scripts()
        self._down: dict[str, str] = {}  # method -> error, from outage() until recover()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._ts_base = int(time.time())
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._get_permalink,
            "conversations.open": self._conversations_open,
            "users.lookupByEmail": self._lookup_by_email,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroup_users,
            "views.open": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """The base URL to hand to `WebClient(base_url=…)` / SLACK_API_URL."""
        return self.root_url + "api/"

    def settings(self, signing_secret: str) -> dict[str, str]:
        """The Settings fields that point the real clients here; requests to the app are
        signed with `signing_secret`."""
        return {
            "slack_bot_token": self.token,
            "slack_signing_secret": signing_secret,
            "slack_api_url": self.url,
        }

    # ----------------------------------------------------------------- inspection

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call received so far, oldest first, optionally for one method."""
        with self._lock:
            return [call for call in self._calls if method is None or call.method == method]

    def posts(self) -> list[dict[str, Any]]:
        """The parameters of every chat.postMessage, oldest first."""
        return [call.params for call in self.calls("chat.postMessage")]

    def escalation_posts(self) -> list[dict[str, Any]]:
        """Escalation messages: the posts carrying an escalation's actions block."""
        return [
            post
            for post in self.posts()
            if any(
                str(block.get("block_id", "")).startswith("escalation:")
                for block in post.get("blocks") or []
            )
        ]

    def response_url(self, response_id: str) -> str:
        """A response_url (as in slash commands and actions) served by this fake."""
        return f"{self.url.removesuffix('/api/')}/response/{response_id}"

    def responses(self, response_id: str | None = None) -> list[dict[str, Any]]:
        """What was posted to response_urls, oldest first, optionally to one of them."""
        return [
            call.params
            for call in self.calls(RESPONSE_URL)
            if response_id is None or call.path == response_id
        ]

    # ----------------------------------------------------------------- scripting

    def fail_next(self, method: str, error: str = "channel_not_found", times: int = 1) -> None:
        """The next call(s) get HTTP 200 `{"ok": false, "error": error}`."""
        self._scripts.add(
            method, _Scripted(200, json.dumps({"ok": False, "error": error}), {}, times)
        )

    def outage(self, method: str, error: str = "fatal_error") -> None:
        """Refuse every call of `method` with `error` until `recover(method)`: an outage of
        some length, however many calls the app makes during it (fail_next counts calls).
        """
        with self._lock:
            self._down[method] = error

    def recover(self, method: str) -> None:
        with self._lock:
            self._down.pop(method, None)

    def rate_limit_next(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next call(s) get HTTP 429 with `Retry-After`, as Slack's rate limiter answers."""
        body = json.dumps({"ok": False, "error": "ratelimited"})
        self._scripts.add(method, _Scripted(429, body, {"Retry-After": str(retry_after)}, times))

    def server_error_next(self, method: str, status: int = 503, times: int = 1) -> None:
        """The next call(s) get an HTML error page, as Slack's edge serves during an outage."""
        body = f"<html><body><h1>{status} Service Unavailable</h1></body></html>"
        self._scripts.add(method, _Scripted(status, body, {"Content-Type": "text/html"}, times))

    def show_view(self, view_id: str, view: dict[str, Any]) -> None:
        """Apply a view an app returned in its ack (`response_action: update`), as Slack
        does: the modal now shows it, under a new hash.
        """
        with self._lock:
            if view_id not in self.views:
                raise KeyError(f"no open view {view_id}")
            self.views[view_id] = {**view, "id": view_id, "hash": self._view_hash()}

    # ----------------------------------------------------------------- dispatch

    def handle(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, str, dict[str, str]]:
        """Record the call and decide the answer: (status, body, extra headers)."""
        with self._lock:
            self._calls.append(Call(method, params, headers, time.monotonic()))
            down = self._down.get(method)
            scripted = None if down else self._scripts.pop(method)
        if down:
            return 200, json.dumps({"ok": False, "error": down}), {}
        if scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        try:
            body = self._answer(method, params, headers)
        except _Refusal as error:
            body = {"ok": False, "error": error.error}
        return 200, json.dumps(body), {}

    def handle_response(
        self, response_id: str, params: dict[str, Any], headers: dict[str, str]
    ) -> None:
        with self._lock:
            self._calls.append(Call(RESPONSE_URL, params, headers, time.monotonic(), response_id))

    def _answer(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any]:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            raise _Refusal("not_authed")
        if auth.removeprefix("Bearer ") != self.token:
            raise _Refusal("invalid_auth")
        handler = self._methods.get(method)
        if handler is None:
            raise _Refusal("unknown_method")
        return {"ok": True, **handler(params)}

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._seq):06d}"

    def _view_hash(self) -> str:
        """A new hash each time a view is drawn, as Slack's; submitting does not change it."""
        return f"{self._ts_base}.{next(self._seq):08x}"

    # ----------------------------------------------------------------- methods

    def _auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake-team.slack.com/",
            "team": "Fake Team",
            "user": "frontdesk",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _channel(self, params: dict[str, Any]) -> str:
        channel = str(params.get("channel") or "")
        if not channel.startswith(_CHANNEL_PREFIXES):
            raise _Refusal("channel_not_found")
        return channel

    def _message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        if not params.get("text") and not params.get("blocks"):
            raise _Refusal("no_text")
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
            "ts": ts,
        }
        if params.get("blocks"):
            message["blocks"] = params["blocks"]
        return message

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel(params)
        with self._lock:
            ts = self._next_ts()
            message = self._message(params, ts)
            self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": message}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = self._channel(params), str(params.get("ts", ""))
        with self._lock:
            if (channel, ts) not in self.messages:
                raise _Refusal("message_not_found")
            message = self._message(params, ts)
            self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "text": message["text"], "message": message}

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self._channel(params)
        if not params.get("user"):
            raise _Refusal("user_not_in_channel")
        with self._lock:
            return {"message_ts": self._next_ts()}

    def _get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = self._channel(params), str(params.get("message_ts", ""))
        with self._lock:
            if (channel, ts) not in self.messages:
                raise _Refusal("message_not_found")
        link = f"https://fake-team.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"channel": channel, "permalink": link}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            raise _Refusal("users_list_not_supplied")
        if self.users and any(user not in self.users for user in users):
            raise _Refusal("user_not_found")
        # One user: their DM, with an id derived from theirs so tests can predict it.
        dm = "D" + users[0][1:] if len(users) == 1 else "G" + "".join(u[1:4] for u in users)
        return {"no_op": True, "already_open": True, "channel": {"id": dm}}

    def _lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email", "")).lower()
        for user in self.users.values():
            if user.email.lower() == email:
                return {"user": user.payload()}
        raise _Refusal("users_not_found")

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(params.get("user", "")))
        if user is None:
            raise _Refusal("user_not_found")
        return {"user": user.payload()}

    def _usergroup_users(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup", ""))
        if group not in self.usergroups:
            raise _Refusal("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    @staticmethod
    def _check_view(view: dict[str, Any]) -> None:
        """What Slack itself refuses in a modal (slack_sdk's validators do not check it)."""
        if view.get("type") != "modal" or not (view.get("title") or {}).get("text"):
            raise _Refusal("invalid_arguments")
        blocks = view.get("blocks") or []
        if not 0 < len(blocks) <= MAX_VIEW_BLOCKS:
            raise _Refusal("invalid_arguments")
        # "submit is required when an input block is within the blocks array"
        if any(block.get("type") == "input" for block in blocks) and not view.get("submit"):
            raise _Refusal("invalid_arguments")

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            raise _Refusal("invalid_trigger_id")
        self._check_view(dict(params.get("view") or {}))
        with self._lock:
            view_id = f"V{next(self._seq):08d}"
            view = {**dict(params.get("view") or {}), "id": view_id, "hash": self._view_hash()}
            self.views[view_id] = view
        return {"view": view}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = str(params.get("view_id", ""))
        self._check_view(dict(params.get("view") or {}))
        with self._lock:
            if view_id not in self.views:
                raise _Refusal("not_found")
            view = {**dict(params.get("view") or {}), "id": view_id, "hash": self._view_hash()}
            self.views[view_id] = view
        return {"view": view}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id", ""))
        view = dict(params.get("view") or {})
        if self.users and user not in self.users:
            raise _Refusal("user_not_found")
        if view.get("type") != "home" or not 0 < len(view.get("blocks") or []) <= MAX_VIEW_BLOCKS:
            raise _Refusal("invalid_arguments")
        with self._lock:
            view_id = self.home_views.get(user, {}).get("id") or f"V{next(self._seq):08d}"
            self.home_views[user] = {**view, "id": view_id, "hash": self._view_hash()}
            return {"view": self.home_views[user]}


class _Handler(FakeHandler):
    fake: FakeSlack  # set on the subclass FakeSlack.start builds

    def do_POST(self) -> None:
        path = urlsplit(self.path)
        if path.path.startswith("/response/"):
            self._response(path.path.removeprefix("/response/"))
            return
        if not path.path.startswith("/api/"):
            self.send(404, json.dumps({"ok": False, "error": "not_found"}), {})
            return
        method = path.path.removeprefix("/api/")
        params = _parse_body(self.headers.get("Content-Type", ""), self.read_body())
        params.update(dict(parse_qsl(path.query)))
        self.send(*self.fake.handle(method, params, self.lower_headers()))

    def _response(self, response_id: str) -> None:
        """A response_url answers `ok` in plain text, as Slack's does."""
        params = _parse_body(self.headers.get("Content-Type", ""), self.read_body())
        self.fake.handle_response(response_id, params, self.lower_headers())
        self.send(200, "ok", {"Content-Type": "text/plain"})


def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    """Slack's Web API takes form posts whose list arguments (blocks…) are JSON strings."""
    params = parse_body(content_type, raw)
    for name in _JSON_FIELDS:
        if isinstance(params.get(name), str) and params[name].startswith(("[", "{")):
            params[name] = json.loads(params[name])
    return params


FakeSlack.handler = _Handler  # defined after the class it serves
