"""A fake Twilio REST API for tests: a real HTTP server on 127.0.0.1 that answers what
twilio-python calls for SMS (send, list, the account, its phone numbers) with real-shaped
payloads, records every call, and can be told to fail, to stall, or to take a message and
drop the connection before answering.

It serves the `api` domain at its root; hand `fake.url` to TWILIO_API_URL:

    with FakeTwilio() as fake:
        fake.fail_next(400, 21610)
        ...
        assert fake.sends_of("+14155550123", "Reminder: …") == 1

Another process (a worker under test) needs only `fake.url`; what it sent is counted here.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from testkit.fakes import FakeHandler, FakeService, Scripts, parse_body

FAKE_ACCOUNT_SID = "AC" + "f" * 30 + "01"
FAKE_AUTH_TOKEN = "fake0twilio0auth0token0000000000"
FAKE_FROM = "+15005550006"
FAKE_MESSAGING_SERVICE_SID = "MG" + "f" * 30 + "02"
ACCOUNT_NAME = "Frontdesk (fake)"
API_VERSION = "2010-04-01"

SEND = "POST Messages"
LIST = "GET Messages"
ACCOUNT = "GET Account"
NUMBERS = "GET IncomingPhoneNumbers"

# Twilio's own wording for the errors the fake gives; `{to}` is the message's recipient.
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    21211: "Invalid 'To' Phone Number: {to}",
    21217: "Phone number does not appear to be valid",
    21408: (
        "Permission to send an SMS has not been enabled for the region indicated by the "
        "'To' number: {to}"
    ),
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
    21604: "A 'To' phone number is required.",
    21606: (
        "The 'From' phone number provided ({from_}) is not a valid message-capable Twilio "
        "phone number for this destination."
    ),
    21610: "Attempt to send to unsubscribed recipient",
    21612: (
        "The 'To' phone number: {to}, is not currently reachable using the 'From' phone "
        "number: {from_} via SMS."
    ),
    21614: "'To' number is not a valid mobile number",
}
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ROUTES = (
    (re.compile(r"^/2010-04-01/Accounts/(?P<sid>\w+)\.json$"), "Account"),
    (re.compile(r"^/2010-04-01/Accounts/(?P<sid>\w+)/Messages\.json$"), "Messages"),
    (
        re.compile(r"^/2010-04-01/Accounts/(?P<sid>\w+)/IncomingPhoneNumbers\.json$"),
        "IncomingPhoneNumbers",
    ),
)
DROP = None  # what `handle` returns to close the connection without an answer


@dataclass(frozen=True)
class Call:
    """One request the fake received; `at` is `time.monotonic()` on arrival."""

    route: str  # SEND, LIST, ACCOUNT, NUMBERS, or "GET /unknown/path"
    path: str
    query: dict[str, str]
    form: dict[str, str]
    headers: dict[str, str]
    at: float


@dataclass
class Message:
    """A message the fake holds: accepted through the API, or put there by a test."""

    sid: str
    to: str
    body: str
    from_: str | None
    messaging_service_sid: str | None
    status_callback: str | None
    date_created: datetime
    status: str = "queued"
    date_sent: datetime | None = None

    def resource(self, account_sid: str) -> dict[str, Any]:
        """Twilio's JSON for the message (no StatusCallback: Twilio does not show it)."""
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{self.sid}"
        return {
            "account_sid": account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": format_datetime(self.date_created),
            "date_sent": format_datetime(self.date_sent) if self.date_sent else None,
            "date_updated": format_datetime(self.date_sent or self.date_created),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(self.body) // 160))),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


@dataclass
class _Scripted:
    """A canned answer, a delay, or a dropped connection for the next `times` calls."""

    status: int = 200
    body: dict[str, Any] | str | None = None  # None: answer normally
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # take the message, then close the connection without answering
    times: int = 1


class FakeTwilio(FakeService):
    """The fake server; a context manager that starts on enter and stops on exit.

    `deliver=False` keeps accepted messages queued (no `date_sent`), as Twilio does under
    load or for a scheduled message.
    """

    thread_name = "fake-twilio"

    def __init__(
        self,
        *,
        account_sid: str = FAKE_ACCOUNT_SID,
        auth_token: str = FAKE_AUTH_TOKEN,
        phone_numbers: tuple[str, ...] = (FAKE_FROM,),
        deliver: bool = True,
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.phone_numbers = phone_numbers
        self.deliver = deliver
        self.account_status = "active"
        self.unsubscribed: set[str] = set()  # numbers that replied STOP
        self._messages: list[Message] = []  # every message, oldest first
        self._sent: list[Message] = []  # the ones accepted through the API
        self._calls: list[Call] = []
        self._scripts: Scripts[_Scripted] = Scripts()
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """The base URL to hand to TWILIO_API_URL (twilio-python's `api.base_url`)."""
        return self.root_url.rstrip("/")

    def settings(self) -> dict[str, str]:
        """The Settings fields that point the real client here, sending from the first of
        its numbers."""
        return {
            "twilio_account_sid": self.account_sid,
            "twilio_auth_token": self.auth_token,
            "twilio_from": self.phone_numbers[0],
            "twilio_api_url": self.url,
        }

    # ----------------------------------------------------------------- inspection

    def calls(self, route: str | None = None) -> list[Call]:
        """Every call received so far, oldest first, optionally for one route."""
        with self._lock:
            return [call for call in self._calls if route is None or call.route == route]

    @property
    def sent(self) -> list[Message]:
        """The messages accepted through the API, oldest first (a copy)."""
        with self._lock:
            return list(self._sent)

    def send_counts(self) -> Counter[tuple[str, str]]:
        """How many messages were accepted per (to, body)."""
        with self._lock:
            return Counter((message.to, message.body) for message in self._sent)

    def sends_of(self, to: str, body: str) -> int:
        return self.send_counts()[(to, body)]

    # ----------------------------------------------------------------- state

    def add_message(
        self,
        to: str,
        body: str,
        *,
        date_created: datetime,
        status: str = "delivered",
        from_: str = FAKE_FROM,
    ) -> Message:
        """A message sent earlier (by someone else, or long ago): in the list, not in `sent`."""
        created = date_created.astimezone(UTC).replace(microsecond=0)
        message = Message(
            sid=_sid("SM"),
            to=to,
            body=body,
            from_=from_,
            messaging_service_sid=None,
            status_callback=None,
            date_created=created,
            status=status,
            date_sent=None if status in ("queued", "accepted") else created,
        )
        with self._lock:
            self._messages.append(message)
        return message

    def unsubscribe(self, number: str) -> None:
        """The number replied STOP: sends to it get 21610 from now on."""
        with self._lock:
            self.unsubscribed.add(number)

    # ----------------------------------------------------------------- scripting

    def fail_next(
        self,
        status: int,
        code: int,
        message: str | None = None,
        *,
        retry_after: float | None = None,
        times: int = 1,
        route: str = SEND,
    ) -> None:
        """The next call(s) get Twilio's error body ({code, message, more_info, status}),
        with a Retry-After header when given.
        """
        body = {
            "code": code,
            "message": message or ERROR_MESSAGES.get(code, "Error"),
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        self._scripts.add(route, _Scripted(status, body, headers, times=times))

    def rate_limit_next(
        self, retry_after: float | None = 1, times: int = 1, route: str = SEND
    ) -> None:
        """The next call(s) get HTTP 429 with Twilio's 20429 (Twilio did nothing)."""
        self.fail_next(429, 20429, retry_after=retry_after, times=times, route=route)

    def server_error_next(self, status: int = 502, times: int = 1, route: str = SEND) -> None:
        """The next call(s) get an HTML error page, as an edge proxy serves in an outage."""
        body = f"<html><body><h1>{status} Bad Gateway</h1></body></html>"
        self._scripts.add(
            route, _Scripted(status, body, {"Content-Type": "text/html"}, times=times)
        )

    def delay_next(self, seconds: float, route: str = SEND) -> None:
        """The next call is handled normally (a send stores its message), after `seconds`."""
        self._scripts.add(route, _Scripted(delay=seconds))

    def drop_next(self, route: str = SEND) -> None:
        """The next send is accepted and stored, then the connection is closed without an
        answer: the lost answer to a message that went out.
        """
        self._scripts.add(route, _Scripted(drop=True))

    # ----------------------------------------------------------------- dispatch

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        form: dict[str, str],
        headers: dict[str, str],
    ) -> tuple[int, str, dict[str, str]] | None:
        """Record the call and decide the answer: (status, body, extra headers), or DROP."""
        route, sid = _route(method, path)
        with self._lock:
            self._calls.append(Call(route, path, query, form, headers, time.monotonic()))
            scripted = self._scripts.pop(route)
        if scripted is not None:
            time.sleep(scripted.delay)
            if scripted.drop:
                self._answer(route, sid, path, query, form, headers)
                return DROP
            if scripted.body is not None:
                text = scripted.body
                if isinstance(text, dict):
                    text = json.dumps({**text, "message": _fill(text["message"], form)})
                return scripted.status, text, scripted.headers
        status, answer, extra = self._answer(route, sid, path, query, form, headers)
        return status, json.dumps(answer), extra

    def _answer(
        self,
        route: str,
        sid: str,
        path: str,
        query: dict[str, str],
        form: dict[str, str],
        headers: dict[str, str],
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if _basic_auth(headers) != (self.account_sid, self.auth_token):
            challenge = {"WWW-Authenticate": 'Basic realm="Twilio API"'}
            return 401, _error(401, 20003), challenge
        if not sid:
            return 404, _error(404, 20404, path=path), {}
        if sid != self.account_sid:
            return 404, _error(404, 20404, path=path), {}
        if route == SEND:
            return self._send(form)
        if route == LIST:
            return 200, self._list(path, query), {}
        if route == ACCOUNT:
            return 200, self._account(), {}
        return 200, self._numbers(path, query), {}

    def _send(self, form: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        to, body = form.get("To", ""), form.get("Body", "")
        from_, service = form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return 400, _error(400, 21604), {}
        if not from_ and not service:
            return 400, _error(400, 21603), {}
        if not body:
            return 400, _error(400, 21602), {}
        if not _E164.match(to):
            return 400, _error(400, 21211, to=to), {}
        if from_ and from_ not in self.phone_numbers:
            return 400, _error(400, 21606, from_=from_), {}
        with self._lock:
            if to in self.unsubscribed:
                return 400, _error(400, 21610), {}
            message = Message(
                sid=_sid("SM"),
                to=to,
                body=body,
                from_=None if service else from_,  # a service picks its number later
                messaging_service_sid=service,
                status_callback=form.get("StatusCallback"),
                date_created=datetime.now(UTC).replace(microsecond=0),
                status="accepted" if service else "queued",
            )
            answer = message.resource(self.account_sid)
            if self.deliver:  # the carrier has it at once: Twilio stamps date_sent
                message.status, message.date_sent = "sent", message.date_created
                message.from_ = message.from_ or FAKE_FROM
            self._messages.append(message)
            self._sent.append(message)
        return 201, answer, {}

    def _list(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        page_size = min(int(query.get("PageSize", 50)), 1000)
        page = int(query.get("Page", 0))
        with self._lock:
            found = [
                message.resource(self.account_sid)
                for message in sorted(self._messages, key=lambda m: m.date_created, reverse=True)
                if ("To" not in query or message.to == query["To"])
                and ("From" not in query or message.from_ == query["From"])
                and _date_sent_matches(message, query)
            ]
        rows = found[page * page_size : (page + 1) * page_size]
        return {
            "messages": rows,
            **_paging(path, query, page, page_size, len(rows), len(found)),
        }

    def _account(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}"
        return {
            "auth_token": self.auth_token,
            "date_created": "Tue, 02 Jan 2024 10:00:00 +0000",
            "date_updated": "Tue, 02 Jan 2024 10:00:00 +0000",
            "friendly_name": ACCOUNT_NAME,
            "owner_account_sid": self.account_sid,
            "sid": self.account_sid,
            "status": self.account_status,
            "subresource_uris": {
                "messages": f"{uri}/Messages.json",
                "incoming_phone_numbers": f"{uri}/IncomingPhoneNumbers.json",
            },
            "type": "Full",
            "uri": f"{uri}.json",
        }

    def _numbers(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        page_size = min(int(query.get("PageSize", 50)), 1000)
        wanted = query.get("PhoneNumber")
        rows = [
            {
                "account_sid": self.account_sid,
                "capabilities": {"fax": False, "mms": True, "sms": True, "voice": True},
                "friendly_name": number,
                "phone_number": number,
                "sid": "PN" + uuid.uuid5(uuid.NAMESPACE_OID, number).hex,
                "status": "in-use",
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers/"
                f"PN{uuid.uuid5(uuid.NAMESPACE_OID, number).hex}.json",
            }
            for number in self.phone_numbers
            if wanted is None or number == wanted
        ][:page_size]
        return {
            "incoming_phone_numbers": rows,
            **_paging(path, query, 0, page_size, len(rows), len(rows)),
        }


def _route(method: str, path: str) -> tuple[str, str]:
    for pattern, name in _ROUTES:
        matched = pattern.match(path)
        if matched:
            return f"{method} {name}", matched["sid"]
    return f"{method} {path}", ""


def _basic_auth(headers: dict[str, str]) -> tuple[str, str] | None:
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _error(status: int, code: int, **values: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": _fill(ERROR_MESSAGES[code], values),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _fill(text: str, values: dict[str, str]) -> str:
    """Twilio's wording with the request's numbers in it (form fields or named values)."""
    filled = {
        "to": values.get("to", values.get("To", "")),
        "from_": values.get("from_", values.get("From", "")),
        "path": values.get("path", ""),
    }
    for name, value in filled.items():
        text = text.replace("{" + name + "}", value)
    return text


def _date_sent_matches(message: Message, query: dict[str, str]) -> bool:
    """Twilio's DateSent filters: whole days (GMT), and a message not sent yet has no date."""
    filters = {key: query[key] for key in ("DateSent", "DateSent<", "DateSent>") if key in query}
    if not filters:
        return True
    if message.date_sent is None:
        return False
    day = message.date_sent.astimezone(UTC).date()
    for key, value in filters.items():
        asked = date.fromisoformat(value[:10])
        if key == "DateSent" and day != asked:
            return False
        if key == "DateSent<" and day > asked:
            return False
        if key == "DateSent>" and day < asked:
            return False
    return True


def _paging(
    path: str, query: dict[str, str], page: int, page_size: int, count: int, total: int
) -> dict[str, Any]:
    def uri(number: int) -> str:
        params = {**query, "PageSize": str(page_size), "Page": str(number)}
        return f"{path}?{urlencode(params)}"

    start = page * page_size
    more = start + count < total
    return {
        "end": start + max(count - 1, 0),
        "first_page_uri": uri(0),
        "next_page_uri": uri(page + 1) if more else None,
        "page": page,
        "page_size": page_size,
        "previous_page_uri": uri(page - 1) if page > 0 else None,
        "start": start,
        "uri": uri(page),
    }


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class _Handler(FakeHandler):
    fake: FakeTwilio  # set on the subclass FakeTwilio.start builds

    def dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        headers = self.lower_headers()
        form = parse_body(headers.get("content-type", ""), self.read_body())
        query = dict(parse_body("application/x-www-form-urlencoded", url.query.encode()))
        answer = self.fake.handle(method, url.path, query, form, headers)
        if answer is None:  # DROP
            self.close_connection = True  # no status line, no body: the answer is lost
            return
        self.send(*answer)


FakeTwilio.handler = _Handler  # defined after the class it serves
