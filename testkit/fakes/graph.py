"""A fake Microsoft identity platform and Microsoft Graph for tests: one real HTTPS server on
127.0.0.1 that msal and requests talk to as they would to login.microsoftonline.com and
graph.microsoft.com. It records every call and can be told to fail.

msal refuses an http:// authority, so the server's certificate comes from a trustme CA that
the test trusts through REQUESTS_CA_BUNDLE (msal and requests both honour it):

    with FakeGraph(mailboxes={"alice@ourco.example"}) as fake:
        fake.ca.cert_pem.write_to_path(str(bundle))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        settings = make_settings(url, **fake.settings())  # MS_* variables aimed at the fake
        fake.add_busy("alice@ourco.example", start, end, status="tentative")
        fake.throttle_next("getSchedule", retry_after=7)
        ...
        assert len(fake.calls("token")) == 1
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import trustme

from testkit.fakes import FakeHandler, FakeHTTPServer, FakeService, Scripts, parse_body

TENANT_ID = "5f1c8a2e-3b7d-4e9a-8c61-0d2f4b6a9e13"
CLIENT_ID = "0b7e4c1d-9a2f-4f63-b8d5-71c3e2a64f08"
CLIENT_SECRET = "fake~client~secret~0000"
GRAPH_PATH = "/v1.0"
REQUIRED_ROLE = "Calendars.ReadWrite"
# Graph's limits on one getSchedule call.
MAX_SCHEDULES = 20
MAX_WINDOW = timedelta(days=62)

# Endpoints a test can name in calls() and the scripts.
OPENID = "openid-configuration"
TOKEN = "token"
GET_SCHEDULE = "getSchedule"
EVENTS = "events"
EVENT_CANCEL = "event.cancel"  # POST /users/{mailbox}/events/{id}/cancel
EVENT_PATCH = "event.patch"  # PATCH /users/{mailbox}/events/{id}
_OAUTH_ENDPOINTS = (OPENID, TOKEN)


@dataclass(frozen=True)
class Call:
    """One request the fake received; `at` is `time.monotonic()` on arrival."""

    endpoint: str
    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


@dataclass(frozen=True)
class BusyItem:
    start: datetime
    end: datetime
    status: str = "busy"
    subject: str = "Busy"


@dataclass
class FakeEvent:
    """An event Graph stored: the request body, the instants it names, and the answer."""

    mailbox: str
    body: dict[str, Any]
    start: datetime
    end: datetime
    payload: dict[str, Any]
    cancelled: bool = False


@dataclass
class _Scripted:
    """A canned answer (or a stall) for the next `times` calls of one endpoint."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    stall: float = 0.0


class _Refusal(Exception):
    """Raised by an endpoint handler to answer with an error status and body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def graph_error(status: int, code: str, message: str) -> _Refusal:
    return _Refusal(status, {"error": {"code": code, "message": message, "innerError": {}}})


def oauth_error(status: int, error: str, description: str) -> _Refusal:
    number = re.match(r"AADSTS(\d+)", description)
    return _Refusal(
        status,
        {
            "error": error,
            "error_description": f"{description}\r\nTrace ID: 0000\r\nCorrelation ID: 0000",
            "error_codes": [int(number[1])] if number else [],
        },
    )


class FakeGraph(FakeService):
    """The fake server; a context manager that starts on enter and stops on exit."""

    thread_name = "fake-graph"

    def __init__(
        self,
        *,
        mailboxes: set[str] | None = None,
        tenant_id: str = TENANT_ID,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        roles: tuple[str, ...] = (REQUIRED_ROLE,),
        graph_path: str = GRAPH_PATH,
        ca: trustme.CA | None = None,
    ) -> None:
        super().__init__()
        self.mailboxes = {mailbox.lower() for mailbox in mailboxes or set()}
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.roles = roles
        self.graph_path = graph_path.rstrip("/")
        self.ca = ca or trustme.CA()
        self.busy: dict[str, list[BusyItem]] = {}
        self.events: list[FakeEvent] = []
        self.tokens: set[str] = set()
        # Origins a token may be asked for (scope = origin + "/.default"); start() adds its own.
        self.resources: set[str] = set()
        self._calls: list[Call] = []
        self._scripts: Scripts[_Scripted] = Scripts()
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    # ----------------------------------------------------------------- lifecycle

    @property
    def origin(self) -> str:
        return "https" + self.root_url.removeprefix("http").rstrip("/")

    @property
    def authority_url(self) -> str:
        """MS_AUTHORITY_URL: the tenant id goes after it."""
        return self.origin

    @property
    def graph_url(self) -> str:
        """MS_GRAPH_URL."""
        return self.origin + self.graph_path

    def settings(self) -> dict[str, str]:
        """The MS_* settings that aim Frontdesk at this fake."""
        return {
            "ms_tenant_id": self.tenant_id,
            "ms_client_id": self.client_id,
            "ms_client_secret": self.client_secret,
            "ms_authority_url": self.authority_url,
            "ms_graph_url": self.graph_url,
        }

    def make_server(self, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        server = _TLSServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        # The handshake happens in each request's thread (see _Handler.setup), so a client
        # that hangs up mid-handshake cannot stall the accept loop.
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        return server

    def start(self) -> FakeGraph:
        super().start()
        self.resources.add(self.origin)
        return self

    # ----------------------------------------------------------------- test data

    def add_busy(
        self,
        schedule: str,
        start: datetime,
        end: datetime,
        *,
        status: str = "busy",
        subject: str = "Busy",
    ) -> None:
        """A scheduleItem on a schedule (a mailbox the fake knows)."""
        with self._lock:
            self.busy.setdefault(schedule.lower(), []).append(BusyItem(start, end, status, subject))

    # ----------------------------------------------------------------- inspection

    def calls(self, endpoint: str | None = None) -> list[Call]:
        """Every call received so far, oldest first, optionally for one endpoint."""
        with self._lock:
            return [call for call in self._calls if endpoint is None or call.endpoint == endpoint]

    # ----------------------------------------------------------------- scripting

    def fail_next(
        self,
        endpoint: str,
        status: int,
        code: str,
        message: str = "",
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next call(s) get `status` with Graph's error JSON, or OAuth's for the token
        and discovery endpoints (`code` is then the OAuth error, `message` its AADSTS text)."""
        if endpoint in _OAUTH_ENDPOINTS:
            refusal = oauth_error(status, code, message or "AADSTS50000: scripted failure.")
        else:
            refusal = graph_error(status, code, message or f"scripted {code}")
        body = json.dumps(refusal.body)
        self._scripts.add(endpoint, _Scripted(status, body, dict(headers or {}), times))

    def throttle_next(self, endpoint: str, retry_after: int | None = 1, times: int = 1) -> None:
        """The next call(s) get 429 TooManyRequests, with Retry-After unless it is None."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        message = "Application is over its MailboxConcurrency limit."
        self.fail_next(endpoint, 429, "ApplicationThrottled", message, times=times, headers=headers)

    def deny_next(self, endpoint: str, code: str = "ErrorAccessDenied", times: int = 1) -> None:
        """The next call(s) get 403, as when the app lacks permission on the mailbox."""
        self.fail_next(
            endpoint, 403, code, "Access is denied. Check credentials and try again.", times=times
        )

    def server_error_next(self, endpoint: str, status: int = 500, times: int = 1) -> None:
        """The next call(s) get an HTML error page, as a gateway serves during an outage."""
        body = f"<html><body><h1>{status} Server Error</h1></body></html>"
        self._scripts.add(endpoint, _Scripted(status, body, {"Content-Type": "text/html"}, times))

    def stall_next(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """The next call(s) wait `seconds` before answering normally (client timeouts)."""
        self._scripts.add(endpoint, _Scripted(0, "", {}, times, stall=seconds))

    # ----------------------------------------------------------------- dispatch

    def handle(
        self, method: str, target: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, str, dict[str, str]]:
        """Record the call and decide the answer: (status, body, extra headers)."""
        path = urlsplit(target).path
        endpoint, route = self._route(method, path)
        with self._lock:
            self._calls.append(Call(endpoint, method, path, body, headers, time.monotonic()))
            scripted = self._scripts.pop(endpoint)
        if scripted is not None and scripted.stall:
            time.sleep(scripted.stall)
        elif scripted is not None:
            return scripted.status, scripted.body, scripted.headers
        try:
            if route is None:
                raise graph_error(400, "BadRequest", f"Resource not found for the segment {path}")
            status, answer = route(path, body, headers)
        except _Refusal as refusal:
            status, answer = refusal.status, refusal.body
        except Exception as exc:  # a bug in the fake: say so instead of dropping the line
            status, answer = 500, graph_error(500, "FakeServerBug", repr(exc)).body
        if status == 202:  # an action accepted: Graph answers with no body
            return status, "", {}
        return status, json.dumps(answer), {}

    def _route(self, method: str, path: str) -> tuple[str, Any]:
        tenant = f"/{self.tenant_id}"
        if method == "GET" and path.endswith("/v2.0/.well-known/openid-configuration"):
            return OPENID, self._openid_configuration
        if method == "POST" and path == f"{tenant}/oauth2/v2.0/token":
            return TOKEN, self._token
        prefix = f"{self.graph_path}/users/"
        if method == "POST" and path.startswith(prefix):
            if path.endswith("/calendar/getSchedule"):
                return GET_SCHEDULE, self._get_schedule
            if path.endswith("/events"):
                return EVENTS, self._create_event
            if path.endswith("/cancel") and "/events/" in path:
                return EVENT_CANCEL, self._cancel_event
        if method == "PATCH" and path.startswith(prefix) and "/events/" in path:
            return EVENT_PATCH, self._patch_event
        return "unknown", None

    # ----------------------------------------------------------------- identity platform

    def _openid_configuration(
        self, path: str, _body: dict[str, Any], _headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        tenant = path.split("/")[1]
        if tenant != self.tenant_id:
            raise oauth_error(
                400,
                "invalid_tenant",
                f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the "
                "correct tenant ID and are signing into the correct cloud.",
            )
        base = f"{self.origin}/{tenant}"
        return 200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "issuer": f"{base}/v2.0",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "tenant_region_scope": "EU",
        }

    def _token(
        self, _path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if body.get("grant_type") != "client_credentials":
            raise oauth_error(
                400,
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type.",
            )
        client_id, secret = body.get("client_id"), body.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        if client_id != self.client_id:
            raise oauth_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
                f"directory '{self.tenant_id}'.",
            )
        if secret != self.client_secret:
            raise oauth_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in "
                f"the request is the client secret value, not the client secret ID, for a secret "
                f"added to app '{self.client_id}'.",
            )
        if body.get("scope") not in {f"{origin}/.default" for origin in self.resources}:
            raise oauth_error(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {body.get('scope')} is not valid. "
                "Client credential flows must have a scope value with /.default suffixed to the "
                "resource identifier (application ID URI).",
            )
        token = self._issue_token()
        return 200, {
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }

    def _issue_token(self) -> str:
        """A JWT-shaped app token (unsigned: only this fake checks it) with the app's roles."""
        now = int(time.time())
        claims = {
            "aud": self.origin,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "exp": now + 3599,
            "appid": self.client_id,
            "tid": self.tenant_id,
            "roles": list(self.roles),
            "uti": f"fake{next(self._seq)}",
        }
        token = ".".join(
            base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
            for part in ({"typ": "JWT", "alg": "RS256"}, claims)
        )
        token += ".c2lnbmF0dXJl"
        with self._lock:
            self.tokens.add(token)
        return token

    # ----------------------------------------------------------------- Graph

    def _authorize(self, headers: dict[str, str]) -> None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            raise graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        if auth.removeprefix("Bearer ") not in self.tokens:
            raise graph_error(
                401, "InvalidAuthenticationToken", "IDX14100: JWT is not well formed."
            )

    def _mailbox(self, path: str) -> str:
        mailbox = unquote(path.removeprefix(f"{self.graph_path}/users/").split("/", 1)[0])
        if mailbox.lower() not in self.mailboxes:
            raise graph_error(
                404, "ErrorInvalidUser", f"The requested user '{mailbox}' is invalid."
            )
        return mailbox.lower()

    def _get_schedule(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        self._authorize(headers)
        self._mailbox(path)
        schedules = body.get("schedules")
        if not isinstance(schedules, list) or not schedules:
            raise graph_error(400, "ErrorInvalidParameter", "schedules is required.")
        if len(schedules) > MAX_SCHEDULES:
            raise graph_error(
                400,
                "ErrorInvalidParameter",
                f"The number of schedules exceeds the maximum of {MAX_SCHEDULES}.",
            )
        start, end = _instant(body.get("startTime")), _instant(body.get("endTime"))
        if not start < end or end - start >= MAX_WINDOW:
            raise graph_error(
                400,
                "ErrorInvalidTimeInterval",
                "The time interval must be positive and shorter than 62 days.",
            )
        zone_name = _preferred_zone(headers.get("prefer", ""))
        value = []
        for schedule in schedules:
            key = str(schedule).lower()
            if key not in self.mailboxes:
                value.append(
                    {
                        "scheduleId": schedule,
                        "availabilityView": "",
                        "error": {
                            "message": f"The specified recipient '{schedule}' could not be found.",
                            "responseCode": "ErrorMailRecipientNotFound",
                        },
                    }
                )
                continue
            with self._lock:
                items = [i for i in self.busy.get(key, []) if i.start < end and i.end > start]
            value.append(
                {
                    "scheduleId": schedule,
                    "availabilityView": "",
                    "scheduleItems": [
                        {
                            "isPrivate": False,
                            "status": item.status,
                            "subject": item.subject,
                            "location": "",
                            "isMeeting": True,
                            "isRecurring": False,
                            "isException": False,
                            "isReminderSet": True,
                            "start": _graph_time(item.start, zone_name),
                            "end": _graph_time(item.end, zone_name),
                        }
                        for item in sorted(items, key=lambda i: i.start)
                    ],
                    "workingHours": {
                        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                        "startTime": "08:00:00.0000000",
                        "endTime": "17:00:00.0000000",
                        "timeZone": {"name": "UTC"},
                    },
                }
            )
        context = f"{self.graph_url}/$metadata#Collection(microsoft.graph.scheduleInformation)"
        return 200, {"@odata.context": context, "value": value}

    def _create_event(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        self._authorize(headers)
        mailbox = self._mailbox(path)
        start, end = _instant(body.get("start")), _instant(body.get("end"))
        transaction_id = body.get("transactionId")
        with self._lock:
            for event in self.events:
                # Graph keeps one event per transactionId and mailbox: a retry gets it back.
                if transaction_id and (event.mailbox, event.body.get("transactionId")) == (
                    mailbox,
                    transaction_id,
                ):
                    return 201, event.payload
            number = next(self._seq)
        seed = hashlib.sha256(f"{mailbox}:{number}".encode()).digest()
        event_id = "AAMkAG" + base64.urlsafe_b64encode(seed).decode().rstrip("=")
        online = bool(body.get("isOnlineMeeting")) and (
            body.get("onlineMeetingProvider") == "teamsForBusiness"
        )
        payload = {
            "@odata.context": f"{self.graph_url}/$metadata#users('{mailbox}')/events/$entity",
            "id": event_id,
            "iCalUId": "040000008200E00074C5B7101A82E008" + seed.hex()[:40].upper(),
            "subject": body.get("subject", ""),
            "body": body.get("body", {}),
            "start": body.get("start"),
            "end": body.get("end"),
            "attendees": [
                {**attendee, "status": {"response": "none", "time": "0001-01-01T00:00:00Z"}}
                for attendee in body.get("attendees", [])
            ],
            "organizer": {"emailAddress": {"address": mailbox}},
            "isOnlineMeeting": online,
            "onlineMeetingProvider": "teamsForBusiness" if online else "unknown",
            "onlineMeeting": (
                {"joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{number}"}
                if online
                else None
            ),
            "transactionId": transaction_id,
            "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}",
        }
        with self._lock:
            self.events.append(FakeEvent(mailbox, body, start, end, payload))
        return 201, payload

    def event(self, event_id: str) -> FakeEvent | None:
        with self._lock:
            return next((e for e in self.events if e.payload["id"] == event_id), None)

    def _find(self, path: str) -> FakeEvent:
        """The live event a path names (called holding the lock)."""
        mailbox = self._mailbox(path)
        event_id = unquote(path.split("/events/", 1)[1].split("/", 1)[0])
        found = next((e for e in self.events if e.payload["id"] == event_id), None)
        if found is None or found.mailbox != mailbox or found.cancelled:
            raise graph_error(404, "ErrorItemNotFound", "The specified object was not found.")
        return found

    def _cancel_event(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """The organizer cancels: the attendees are told (by Graph), the event is gone."""
        self._authorize(headers)
        with self._lock:
            self._find(path).cancelled = True
        return 202, {}

    def _patch_event(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """Update the given fields of the event; the same id and iCalUId come back."""
        self._authorize(headers)
        start = _instant(body["start"]) if "start" in body else None
        end = _instant(body["end"]) if "end" in body else None
        with self._lock:
            event = self._find(path)
            event.payload.update(body)
            event.body.update(body)
            event.start, event.end = start or event.start, end or event.end
            return 200, dict(event.payload)


def _instant(value: Any) -> datetime:
    """A dateTimeTimeZone as Graph reads it: the wall time in that zone (the earlier one in
    a fall-back hour)."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise graph_error(400, "ErrorInvalidRequest", f"not a dateTimeTimeZone: {value!r}")
    name = str(value.get("timeZone") or "UTC")
    try:
        wall = datetime.fromisoformat(value["dateTime"])
        zone = UTC if name == "UTC" else ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise graph_error(400, "TimeZoneNotSupportedException", str(exc)) from exc
    if wall.tzinfo is not None:
        raise graph_error(400, "ErrorInvalidRequest", "dateTime must not carry an offset")
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _preferred_zone(prefer: str) -> str:
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "outlook.timezone":
            return value.strip().strip('"')
    return "UTC"


def _graph_time(moment: datetime, zone_name: str) -> dict[str, str]:
    zone = UTC if zone_name == "UTC" else ZoneInfo(zone_name)
    wall = moment.astimezone(zone).replace(tzinfo=None)
    return {"dateTime": wall.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone_name}


class _TLSServer(FakeHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client refusing the certificate shows up in the test, not on stderr."""


class _Handler(FakeHandler):
    fake: FakeGraph  # set on the subclass FakeGraph.start builds
    protocol_version = "HTTP/1.1"  # keep-alive, as Graph and Entra answer
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def setup(self) -> None:
        self.request.settimeout(5)
        self.request.do_handshake()
        super().setup()

    def dispatch(self, method: str) -> None:
        body = parse_body(self.headers.get("Content-Type", ""), self.read_body())
        self.send(*self.fake.handle(method, self.path, body, self.lower_headers()))


FakeGraph.handler = _Handler  # defined after the class it serves
