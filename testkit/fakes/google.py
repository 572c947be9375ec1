"""A fake Google for tests: the OAuth authorize and token endpoints and the Calendar v3
methods Frontdesk uses, on one real HTTP server on 127.0.0.1, answering in Google's shapes
(errors included), recording every call, and scriptable to fail.

Point the real clients at it through the settings (SPEC §1):

    with FakeGoogle(calendars=["alice@ourco.example"]) as fake:
        settings = make_settings(url, **fake.settings())
        fake.add_busy("alice@ourco.example", start, end)
        refresh_token = fake.issue_refresh_token()     # as if the rep had consented
        fake.rate_limit_next("events.insert", retry_after=2)
        ...
        assert len(fake.calls("freeBusy")) == 1

Operations, as `calls()` and the scripts name them: "authorize", "token", "freeBusy",
"events.insert", "events.get", "events.delete", "events.patch".
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from testkit.fakes import FakeHandler, FakeService, Scripts, parse_body

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
CALENDAR_SCOPE = SCOPE_PREFIX + "calendar"
EVENTS_SCOPE = SCOPE_PREFIX + "calendar.events"
FREEBUSY_SCOPE = SCOPE_PREFIX + "calendar.freebusy"
DEFAULT_SCOPES = (EVENTS_SCOPE, FREEBUSY_SCOPE)
CLIENT_ID = "fake-client.apps.googleusercontent.com"
CLIENT_SECRET = "fake-client-secret"
MEET_BASE = "https://meet.google.com/"
MAX_FREEBUSY_ITEMS = 50
MAX_FREEBUSY_RANGE = timedelta(days=62)

# Which granted scopes let a token call what (a subset of Google's lists).
_ALLOWED = {
    "freeBusy": {CALENDAR_SCOPE, FREEBUSY_SCOPE, SCOPE_PREFIX + "calendar.readonly"},
    "events.insert": {CALENDAR_SCOPE, EVENTS_SCOPE},
    "events.get": {CALENDAR_SCOPE, EVENTS_SCOPE, SCOPE_PREFIX + "calendar.readonly"},
    "events.delete": {CALENDAR_SCOPE, EVENTS_SCOPE},
    "events.patch": {CALENDAR_SCOPE, EVENTS_SCOPE},
}
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "GONE",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_MESSAGES = {
    "insufficientPermissions": "Request had insufficient authentication scopes.",
    "rateLimitExceeded": "Rate Limit Exceeded",
    "backendError": "Backend Error",
    "duplicate": "The requested identifier already exists.",
    "notFound": "Not Found",
    "authError": "Request had invalid authentication credentials.",
    "deleted": "Resource has been deleted",
}
_EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")


def google_error(status: int, reason: str, message: str = "") -> dict[str, Any]:
    """Google's JSON error body: {"error": {"code", "message", "errors": […], "status"}}."""
    text = message or _MESSAGES.get(reason, reason)
    return {
        "error": {
            "code": status,
            "message": text,
            "errors": [{"domain": "global", "reason": reason, "message": text}],
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        }
    }


def _z(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Call:
    """One request the fake received; `at` is `time.monotonic()` on arrival."""

    operation: str
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass
class _Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    commit: bool = False  # do the work, then answer the failure (the answer was "lost")


@dataclass
class _Grant:
    """What a refresh token stands for."""

    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass
class _Code:
    scopes: tuple[str, ...]
    redirect_uri: str
    challenge: str | None
    offline: bool
    consent: bool
    account: str  # the Google account that consented


def _id_token(client_id: str, account: str) -> str:
    """An ID token shaped like Google's (the signature is not checked by a direct client)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims = {
        "iss": "https://accounts.google.com",
        "aud": client_id,
        "sub": hashlib.sha256(account.encode()).hexdigest()[:21],
        "email": account,
        "email_verified": True,
        "iat": int(time.time()),
        "exp": int(time.time()) + 3600,
    }
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


class _Answer(Exception):
    """Raised by an operation to answer with a status and a JSON body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class FakeGoogle(FakeService):
    """The fake server; a context manager that starts on enter and stops on exit."""

    thread_name = "fake-google"

    def __init__(
        self,
        *,
        calendars: Iterable[str] = (),
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        token_lifetime: int = 3600,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.calendars: set[str] = set(calendars)
        self.busy: dict[str, list[tuple[datetime, datetime]]] = {}
        self.events: dict[tuple[str, str], dict[str, Any]] = {}
        self.grants: dict[str, _Grant] = {}
        self.access_tokens: dict[str, tuple[str, ...]] = {}
        self._codes: dict[str, _Code] = {}
        self._meet_pending: dict[tuple[str, str], int] = {}
        self._next_meet_pending: int | None = None
        self._next_consent: list[tuple[str, tuple[str, ...] | None]] = []
        self._withhold_refresh_token = 0
        self._next_account: list[str] = []
        self._calls: list[Call] = []
        self._scripts: Scripts[_Scripted] = Scripts()
        self._barriers: dict[str, threading.Barrier] = {}
        self._lock = threading.RLock()
        self._seq = itertools.count(1)

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """GOOGLE_API_URL: the API root, under which calendar/v3/ lives."""
        return self.root_url

    @property
    def auth_url(self) -> str:
        return self.url + "o/oauth2/auth"

    @property
    def token_url(self) -> str:
        return self.url + "token"

    def settings(self) -> dict[str, str]:
        """The Settings fields that point the real clients here."""
        return {
            "google_api_url": self.url,
            "google_auth_url": self.auth_url,
            "google_token_url": self.token_url,
            "google_client_id": self.client_id,
            "google_client_secret": self.client_secret,
        }

    # ----------------------------------------------------------------- state and inspection

    def calls(self, operation: str | None = None) -> list[Call]:
        """Every call received so far, oldest first, optionally for one operation."""
        with self._lock:
            return [c for c in self._calls if operation is None or c.operation == operation]

    def add_calendar(self, *calendar_ids: str) -> None:
        with self._lock:
            self.calendars.update(calendar_ids)

    def add_busy(self, calendar_id: str, start: datetime, end: datetime) -> None:
        """A busy block on a calendar (which then exists)."""
        with self._lock:
            self.calendars.add(calendar_id)
            self.busy.setdefault(calendar_id, []).append((start, end))

    def issue_refresh_token(self, scopes: Iterable[str] = DEFAULT_SCOPES) -> str:
        """A refresh token as a finished consent would have left, granting `scopes`."""
        with self._lock:
            token = f"1//fake-refresh-{next(self._seq)}"
            self.grants[token] = _Grant(tuple(scopes))
            return token

    def events_on(self, calendar_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for (cal, _), e in self.events.items() if cal == calendar_id]

    # ----------------------------------------------------------------- scripting

    def revoke(self, refresh_token: str) -> None:
        """The rep removed the app's access: refreshing answers invalid_grant."""
        with self._lock:
            self.grants[refresh_token].revoked = True

    def deny_next(self) -> None:
        """The next consent screen is answered "Cancel": error=access_denied."""
        with self._lock:
            self._next_consent.append(("deny", None))

    def grant_next(self, scopes: Iterable[str]) -> None:
        """The next consent grants only `scopes` (boxes unticked)."""
        with self._lock:
            self._next_consent.append(("grant", tuple(scopes)))

    def sign_in_as_next(self, account: str) -> None:
        """The next consent is given by `account` (not the login_hint's)."""
        with self._lock:
            self._next_account.append(account)

    def withhold_refresh_token_next(self) -> None:
        """The next code exchange returns no refresh token, as Google does on a re-consent."""
        with self._lock:
            self._withhold_refresh_token += 1

    def meet_pending_next(self, still_pending_gets: int = 0) -> None:
        """The next event with a Meet request is inserted `pending`, and stays so for
        `still_pending_gets` events.get calls before the link appears."""
        with self._lock:
            self._next_meet_pending = still_pending_gets

    def fail_next(
        self,
        operation: str,
        status: int = 500,
        reason: str = "backendError",
        *,
        times: int = 1,
        retry_after: int | None = None,
        commit: bool = False,
    ) -> None:
        """The next call(s) get Google's error JSON; `commit` does the work first."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        scripted = _Scripted(status, google_error(status, reason), headers, times, commit)
        self._scripts.add(operation, scripted)

    def rate_limit_next(self, operation: str, retry_after: int = 1, times: int = 1) -> None:
        self.fail_next(operation, 429, "rateLimitExceeded", times=times, retry_after=retry_after)

    def expect_parallel(self, operation: str, count: int, timeout: float = 2.0) -> None:
        """Hold calls of `operation` until `count` of them are in flight together; calls made
        one after another time out and get 400 `notParallel` instead."""
        with self._lock:
            self._barriers[operation] = threading.Barrier(count, timeout=timeout)

    # ----------------------------------------------------------------- dispatch

    def handle(
        self, method: str, raw_path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        split = urlsplit(raw_path)
        path, query = split.path, dict(parse_qsl(split.query, keep_blank_values=True))
        operation, args = _route(method, path)
        with self._lock:
            self._calls.append(
                Call(operation, method, path, query, body, headers, time.monotonic())
            )
            scripted = self._scripts.pop(operation)
            barrier = self._barriers.get(operation)
        try:
            if barrier is not None:
                try:
                    barrier.wait()
                except threading.BrokenBarrierError:
                    raise _Answer(400, google_error(400, "notParallel")) from None
            if scripted is not None and not scripted.commit:
                raise _Answer(scripted.status, scripted.body, scripted.headers)
            status, answer, extra = self._answer(operation, args, query, body, headers)
            if scripted is not None:
                raise _Answer(scripted.status, scripted.body, scripted.headers)
        except _Answer as answer_:
            status, answer, extra = answer_.status, answer_.body, answer_.headers
        if status in (204, 302):
            return status, b"", extra
        return status, json.dumps(answer).encode(), extra

    def _answer(
        self,
        operation: str,
        args: list[str],
        query: dict[str, str],
        body: dict[str, Any],
        headers: dict[str, str],
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if operation == "authorize":
            return 302, {}, {"Location": self._authorize(query)}
        if operation == "token":
            return 200, self._token(body, headers), {}
        if operation == "unknown":
            raise _Answer(404, google_error(404, "notFound"))
        self._authorized(operation, headers)
        if operation == "freeBusy":
            return 200, self._free_busy(body), {}
        if operation == "events.insert":
            return 200, self._insert(unquote(args[0]), query, body), {}
        if operation == "events.delete":
            self._delete(unquote(args[0]), unquote(args[1]))
            return 204, {}, {}
        if operation == "events.patch":
            return 200, self._patch(unquote(args[0]), unquote(args[1]), body), {}
        return 200, self._get(unquote(args[0]), unquote(args[1])), {}

    # ----------------------------------------------------------------- OAuth

    def _authorize(self, query: dict[str, str]) -> str:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            raise _Answer(400, {"error": "invalid_request"})
        redirect = query.get("redirect_uri", "")
        if not redirect:
            raise _Answer(400, {"error": "redirect_uri_mismatch"})
        with self._lock:
            kind, granted = self._next_consent.pop(0) if self._next_consent else ("grant", None)
            account = (
                self._next_account.pop(0) if self._next_account else query.get("login_hint", "")
            )
        back: dict[str, str] = {"state": query.get("state", "")}
        if kind == "deny":
            back["error"] = "access_denied"
        else:
            scopes = granted if granted is not None else tuple(query.get("scope", "").split())
            code = f"4/fake-code-{next(self._seq)}"
            with self._lock:
                self._codes[code] = _Code(
                    scopes,
                    redirect,
                    query.get("code_challenge"),
                    query.get("access_type") == "offline",
                    "consent" in query.get("prompt", "").split(),
                    account,
                )
            back.update(code=code, scope=" ".join(scopes))
        return f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(back)}"

    def _client_ok(self, body: dict[str, Any], headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            pair = base64.b64decode(auth.removeprefix("Basic ")).decode()
            client_id, _, secret = pair.partition(":")
        else:
            client_id, secret = body.get("client_id", ""), body.get("client_secret", "")
        return bool(client_id == self.client_id and secret == self.client_secret)

    def _token(self, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        if not self._client_ok(body, headers):
            raise _Answer(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        grant_type = body.get("grant_type")
        with self._lock:
            if grant_type == "authorization_code":
                return self._exchange(body)
            if grant_type == "refresh_token":
                grant = self.grants.get(str(body.get("refresh_token")))
                if grant is None or grant.revoked:
                    raise _Answer(
                        400,
                        {
                            "error": "invalid_grant",
                            "error_description": "Token has been expired or revoked.",
                        },
                    )
                # Google answers with what the grant holds, which may be less than asked.
                return self._access_token(grant.scopes)
        raise _Answer(400, {"error": "unsupported_grant_type"})

    def _exchange(self, body: dict[str, Any]) -> dict[str, Any]:
        code = self._codes.pop(str(body.get("code")), None)
        bad = {"error": "invalid_grant", "error_description": "Malformed auth code."}
        if code is None or body.get("redirect_uri") != code.redirect_uri:
            raise _Answer(400, bad)
        if code.challenge is not None:
            verifier = str(body.get("code_verifier", ""))
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).decode().rstrip("=") != code.challenge:
                raise _Answer(
                    400, {"error": "invalid_grant", "error_description": "Invalid code verifier."}
                )
        answer = self._access_token(code.scopes)
        if "openid" in code.scopes:
            answer["id_token"] = _id_token(self.client_id, code.account)
        # Google gives a refresh token for offline access; on a repeat consent only when
        # prompt=consent asks again, which the fake requires every time.
        if code.offline and code.consent and not self._withhold_refresh_token:
            refresh = f"1//fake-refresh-{next(self._seq)}"
            self.grants[refresh] = _Grant(code.scopes)
            answer["refresh_token"] = refresh
        elif self._withhold_refresh_token:
            self._withhold_refresh_token -= 1
        return answer

    def _access_token(self, scopes: tuple[str, ...]) -> dict[str, Any]:
        token = f"ya29.fake-access-{next(self._seq)}"
        self.access_tokens[token] = scopes
        return {
            "access_token": token,
            "expires_in": self.token_lifetime,
            "scope": " ".join(scopes),
            "token_type": "Bearer",
        }

    def _authorized(self, operation: str, headers: dict[str, str]) -> None:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            scopes = self.access_tokens.get(token)
        if scopes is None:
            raise _Answer(401, google_error(401, "authError"))
        if not _ALLOWED[operation] & set(scopes):
            raise _Answer(403, google_error(403, "insufficientPermissions"))

    # ----------------------------------------------------------------- Calendar

    def _free_busy(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            start = datetime.fromisoformat(body["timeMin"])
            end = datetime.fromisoformat(body["timeMax"])
        except (KeyError, ValueError) as exc:
            raise _Answer(400, google_error(400, "badRequest", "Bad Request")) from exc
        if end <= start:
            raise _Answer(
                400, google_error(400, "timeRangeEmpty", "The specified time range is empty.")
            )
        if end - start > MAX_FREEBUSY_RANGE:
            raise _Answer(
                400, google_error(400, "timeRangeTooLong", "The requested time range is too long.")
            )
        items = [str(item.get("id")) for item in body.get("items", [])]
        if len(items) > MAX_FREEBUSY_ITEMS:
            raise _Answer(400, google_error(400, "tooManyCalendarsRequested"))
        calendars: dict[str, Any] = {}
        with self._lock:
            for calendar in items:
                if calendar not in self.calendars:
                    calendars[calendar] = {
                        "errors": [{"domain": "global", "reason": "notFound"}],
                        "busy": [],
                    }
                    continue
                blocks = sorted(
                    (max(s, start), min(e, end))
                    for s, e in self.busy.get(calendar, [])
                    if s < end and e > start
                )
                calendars[calendar] = {"busy": [{"start": _z(s), "end": _z(e)} for s, e in blocks]}
        return {
            "kind": "calendar#freeBusy",
            "timeMin": _z(start),
            "timeMax": _z(end),
            "calendars": calendars,
        }

    def _insert(self, calendar: str, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if calendar not in self.calendars:
                raise _Answer(404, google_error(404, "notFound"))
            event_id = str(body.get("id") or f"fakeevent{next(self._seq)}")
            if not _EVENT_ID.match(event_id):
                raise _Answer(400, google_error(400, "invalid", "Invalid resource id value."))
            if (calendar, event_id) in self.events:
                raise _Answer(409, google_error(409, "duplicate"))
            now = _z(datetime.now(UTC))
            event: dict[str, Any] = {
                **body,
                "kind": "calendar#event",
                "id": event_id,
                "status": "confirmed",
                "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
                "created": now,
                "updated": now,
                "iCalUID": f"{event_id}@google.com",
                "sequence": 0,
                "organizer": {"email": calendar, "self": True},
                "attendees": [
                    {**attendee, "responseStatus": "needsAction"}
                    for attendee in body.get("attendees", [])
                ],
            }
            request = body.get("conferenceData", {}).get("createRequest")
            # Without conferenceDataVersion=1 Google ignores conferenceData altogether.
            if request and query.get("conferenceDataVersion") == "1":
                pending, self._next_meet_pending = self._next_meet_pending, None
                if pending is not None:
                    self._meet_pending[(calendar, event_id)] = pending
                    event["conferenceData"] = {
                        "createRequest": {**request, "status": {"statusCode": "pending"}}
                    }
                else:
                    self._add_meet(event)
            else:
                event.pop("conferenceData", None)
            self.events[(calendar, event_id)] = event
            start = datetime.fromisoformat(body["start"]["dateTime"])
            end = datetime.fromisoformat(body["end"]["dateTime"])
            self.busy.setdefault(calendar, []).append((start, end))
            return event

    def _get(self, calendar: str, event_id: str) -> dict[str, Any]:
        with self._lock:
            event = self.events.get((calendar, event_id))
            if event is None:
                raise _Answer(404, google_error(404, "notFound"))
            pending = self._meet_pending.get((calendar, event_id))
            if pending is not None:
                if pending > 0:
                    self._meet_pending[(calendar, event_id)] = pending - 1
                else:
                    del self._meet_pending[(calendar, event_id)]
                    self._add_meet(event)
            return event

    def _delete(self, calendar: str, event_id: str) -> None:
        """Google keeps a deleted event as `cancelled` (its id stays taken): deleting it
        again answers 410 deleted; its busy time is gone.
        """
        with self._lock:
            event = self.events.get((calendar, event_id))
            if event is None:
                raise _Answer(404, google_error(404, "notFound"))
            if event["status"] == "cancelled":
                raise _Answer(410, google_error(410, "deleted"))
            event["status"] = "cancelled"
            event["sequence"] = int(event.get("sequence", 0)) + 1
            self._drop_busy(calendar, event)

    def _patch(self, calendar: str, event_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Merge the given fields into the event; a new time raises its SEQUENCE and moves
        its busy time. A deleted event answers 404, as Google does for a patch.
        """
        with self._lock:
            event = self.events.get((calendar, event_id))
            if event is None or event["status"] == "cancelled":
                raise _Answer(404, google_error(404, "notFound"))
            self._drop_busy(calendar, event)
            moved = any(key in body and body[key] != event.get(key) for key in ("start", "end"))
            event.update(body)
            if moved:
                event["sequence"] = int(event.get("sequence", 0)) + 1
            event["updated"] = _z(datetime.now(UTC))
            start = datetime.fromisoformat(event["start"]["dateTime"])
            end = datetime.fromisoformat(event["end"]["dateTime"])
            self.busy.setdefault(calendar, []).append((start, end))
            return event

    def _drop_busy(self, calendar: str, event: dict[str, Any]) -> None:
        start = datetime.fromisoformat(event["start"]["dateTime"])
        end = datetime.fromisoformat(event["end"]["dateTime"])
        blocks = self.busy.get(calendar, [])
        if (start, end) in blocks:
            blocks.remove((start, end))

    @staticmethod
    def _add_meet(event: dict[str, Any]) -> None:
        letters = hashlib.sha256(event["id"].encode()).hexdigest()
        code = "".join(chr(ord("a") + int(c, 16) % 26) for c in letters[:10])
        meeting = f"{code[:3]}-{code[3:7]}-{code[7:10]}"
        request = event["conferenceData"]["createRequest"]
        event["conferenceData"] = {
            "createRequest": {**request, "status": {"statusCode": "success"}},
            "entryPoints": [
                {
                    "entryPointType": "video",
                    "uri": MEET_BASE + meeting,
                    "label": f"meet.google.com/{meeting}",
                }
            ],
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "conferenceId": meeting,
        }
        event["hangoutLink"] = MEET_BASE + meeting


def _route(method: str, path: str) -> tuple[str, list[str]]:
    parts = [p for p in path.split("/") if p]
    if method == "GET" and path == "/o/oauth2/auth":
        return "authorize", []
    if method == "POST" and path == "/token":
        return "token", []
    if parts[:2] == ["calendar", "v3"]:
        rest = parts[2:]
        if method == "POST" and rest == ["freeBusy"]:
            return "freeBusy", []
        if len(rest) == 3 and rest[0] == "calendars" and rest[2] == "events" and method == "POST":
            return "events.insert", [rest[1]]
        if len(rest) == 4 and rest[0] == "calendars" and rest[2] == "events":
            by_method = {"GET": "events.get", "DELETE": "events.delete", "PATCH": "events.patch"}
            if method in by_method:
                return by_method[method], [rest[1], rest[3]]
    return "unknown", []


class _Handler(FakeHandler):
    fake: FakeGoogle  # set on the subclass FakeGoogle.start builds

    def dispatch(self, method: str) -> None:
        body = parse_body(self.headers.get("Content-Type", ""), self.read_body())
        status, payload, extra = self.fake.handle(method, self.path, body, self.lower_headers())
        content = {"Content-Type": "application/json; charset=UTF-8"} if payload else {}
        self.send(status, payload, {**content, **extra})


FakeGoogle.handler = _Handler  # defined after the class it serves
