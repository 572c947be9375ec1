"""A fake Postmark API for tests: a real HTTP server on 127.0.0.1 that answers the endpoints
Frontdesk uses with real-shaped payloads, records every call, and can be told to fail.

It serves at `/`, as postmarker requires (its `root_api_url` keeps only scheme and host):

    with FakePostmark() as fake:
        client = PostmarkClient(server_token=fake.token, root_api_url=fake.url)
        fake.reject_next(406)
        ...
        assert fake.sent[0]["Metadata"] == {"request_id": "req_1"}
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from testkit.fakes import FakeHandler, FakeService, Scripts

FAKE_SERVER_TOKEN = "fake-postmark-server-token-0000"
SERVER_NAME = "Frontdesk (fake)"
SEND = "POST /email"
SERVER = "GET /server"
SEARCH = "GET /messages/outbound"

# Postmark's own wording for its error codes.
ERROR_MESSAGES = {
    10: "Request does not contain a valid Server token.",
    300: "Invalid email request",
    406: (
        "You tried to send to a recipient that has been marked as inactive. Found inactive "
        "addresses: {to}. Inactive recipients are ones that have generated a hard bounce, a "
        "spam complaint, or a manual suppression."
    ),
}
MISSING_TOKEN_MESSAGE = (
    "No Account or Server API tokens were supplied in the HTTP headers. Please add a header "
    "for either X-Postmark-Server-Token or X-Postmark-Account-Token."
)


@dataclass(frozen=True)
class Call:
    """One request the fake received; `at` is `time.monotonic()` on arrival."""

    route: str  # "POST /email", "GET /server", …
    query: dict[str, str]
    body: dict[str, Any] | None
    headers: dict[str, str]
    at: float


@dataclass
class _Scripted:
    """A canned answer (or a delay before the normal one) for the next `times` calls."""

    status: int = 200
    body: dict[str, Any] | str | None = None  # None: answer normally
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1


class FakePostmark(FakeService):
    """The fake server; a context manager that starts on enter and stops on exit."""

    thread_name = "fake-postmark"

    def __init__(self, *, token: str = FAKE_SERVER_TOKEN) -> None:
        super().__init__()
        self.token = token
        self.sent: list[dict[str, Any]] = []  # accepted emails, with their MessageID
        self._calls: list[Call] = []
        self._scripts: Scripts[_Scripted] = Scripts()
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """The root URL to hand to `PostmarkClient(root_api_url=…)` / POSTMARK_API_URL."""
        return self.root_url

    def settings(self, sender: str) -> dict[str, str]:
        """The Settings fields that point the real client here, sending as `sender`."""
        return {
            "postmark_server_token": self.token,
            "postmark_from": sender,
            "postmark_api_url": self.url,
        }

    # ----------------------------------------------------------------- inspection

    def calls(self, route: str | None = None) -> list[Call]:
        """Every call received so far, oldest first, optionally for one route."""
        with self._lock:
            return [call for call in self._calls if route is None or call.route == route]

    # ----------------------------------------------------------------- scripting

    def reject_next(
        self,
        error_code: int = 406,
        *,
        status: int = 422,
        message: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next send is refused with Postmark's error body (`ErrorCode`, `Message`),
        after `delay` seconds.
        """
        text = message or ERROR_MESSAGES.get(error_code, "Refused")
        body = {"ErrorCode": error_code, "Message": text}
        self._scripts.add(SEND, _Scripted(status, body, delay=delay))

    def rate_limit_next(self, retry_after: int = 1, times: int = 1, route: str = SEND) -> None:
        """The next call(s) get HTTP 429 with `Retry-After` (and no Postmark error code)."""
        body = {"Message": "Rate limit exceeded"}
        self._scripts.add(
            route, _Scripted(429, body, {"Retry-After": str(retry_after)}, times=times)
        )

    def server_error_next(self, status: int = 500, times: int = 1, route: str = SEND) -> None:
        """The next call(s) get an HTML error page, as an edge proxy serves during an outage."""
        body = f"<html><body><h1>{status} Internal Server Error</h1></body></html>"
        headers = {"Content-Type": "text/html"}
        self._scripts.add(route, _Scripted(status, body, headers, times=times))

    def delay_next(self, seconds: float, route: str = SEND) -> None:
        """The next call is answered normally, but only after `seconds`."""
        self._scripts.add(route, _Scripted(delay=seconds))

    # ----------------------------------------------------------------- dispatch

    def handle(
        self,
        route: str,
        query: dict[str, str],
        body: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> tuple[int, str, dict[str, str]]:
        """Record the call and decide the answer: (status, body, extra headers)."""
        with self._lock:
            self._calls.append(Call(route, query, body, headers, time.monotonic()))
            scripted = self._scripts.pop(route)
        if scripted is not None:
            time.sleep(scripted.delay)
            if scripted.body is not None:
                text = scripted.body
                if isinstance(text, dict):
                    to = str((body or {}).get("To", ""))
                    text = json.dumps({**text, "Message": text["Message"].replace("{to}", to)})
                return scripted.status, text, scripted.headers
        status, answer = self._answer(route, query, body, headers)
        return status, json.dumps(answer), {}

    def _answer(
        self,
        route: str,
        query: dict[str, str],
        body: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> tuple[int, dict[str, Any]]:
        token = headers.get("x-postmark-server-token")
        if not token:
            return 401, {"ErrorCode": 10, "Message": MISSING_TOKEN_MESSAGE}
        if token != self.token:
            return 401, {"ErrorCode": 10, "Message": ERROR_MESSAGES[10]}
        if route == SEND:
            return self._send(body or {})
        if route == SERVER:
            return 200, {
                "ID": 1,
                "Name": SERVER_NAME,
                "ApiTokens": [self.token],
                "Color": "blue",
                "DeliveryType": "Live",
                "SmtpApiActivated": True,
            }
        if route == SEARCH:
            return self._search(query)
        return 404, {"ErrorCode": 404, "Message": f"No such endpoint: {route}"}

    def _send(self, email: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not email.get("From") or not email.get("To"):
            return 422, {"ErrorCode": 300, "Message": ERROR_MESSAGES[300]}
        submitted = datetime.now(UTC).isoformat()
        message_id = str(uuid.uuid4())
        with self._lock:
            self.sent.append({**email, "MessageID": message_id, "SubmittedAt": submitted})
        answer = {"To": email["To"], "SubmittedAt": submitted, "MessageID": message_id}
        return 200, {**answer, "ErrorCode": 0, "Message": "OK"}

    def _search(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if "count" not in query or "offset" not in query:
            return 422, {"ErrorCode": 300, "Message": "count and offset are required"}
        metadata = {
            name.removeprefix("metadata_"): value
            for name, value in query.items()
            if name.startswith("metadata_")
        }
        with self._lock:
            found = [
                email
                for email in reversed(self.sent)
                if ("tag" not in query or email.get("Tag") == query["tag"])
                and ("recipient" not in query or email.get("To") == query["recipient"])
                and all((email.get("Metadata") or {}).get(k) == v for k, v in metadata.items())
            ]
        offset, count = int(query["offset"]), int(query["count"])
        page = [_summary(email) for email in found[offset : offset + count]]
        return 200, {"TotalCount": len(found), "Messages": page}


def _summary(email: dict[str, Any]) -> dict[str, Any]:
    return {
        "MessageID": email["MessageID"],
        "Tag": email.get("Tag"),
        "To": [{"Email": email["To"], "Name": None}],
        "Recipients": [email["To"]],
        "From": email["From"],
        "Subject": email.get("Subject"),
        "ReceivedAt": email["SubmittedAt"],
        "Status": "Sent",
        "Metadata": email.get("Metadata") or {},
        "MessageStream": email.get("MessageStream", "outbound"),
        "Attachments": [a.get("Name") for a in email.get("Attachments") or []],
    }


class _Handler(FakeHandler):
    fake: FakePostmark  # set on the subclass FakePostmark.start builds

    def dispatch(self, method: str) -> None:
        path = urlsplit(self.path)
        raw = self.read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self.send(400, json.dumps({"ErrorCode": 402, "Message": "Received invalid JSON"}), {})
            return
        query = dict(parse_qsl(path.query))
        self.send(*self.fake.handle(f"{method} {path.path}", query, body, self.lower_headers()))


FakePostmark.handler = _Handler  # defined after the class it serves
