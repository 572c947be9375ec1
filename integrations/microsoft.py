"""Microsoft 365 calendars through Microsoft Graph with an app-only token (msal client
credentials): `MicrosoftCalendar`, the one place that owns Graph's retries and errors.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msal
import requests

from bot.domain.config import Rep
from bot.domain.intervals import Interval
from integrations.base import (
    ConnectionBrokenError,
    CreatedEvent,
    EventDraft,
    IntegrationError,
    MovedEvent,
    Probe,
)
from integrations.chunking import batches, time_ranges
from integrations.credentials import MicrosoftSettings
from integrations.retry import retry_wait, root_cause

log = logging.getLogger("frontdesk.microsoft")

PROVIDER = "microsoft"
DEFAULT_AUTHORITY_URL = "https://login.microsoftonline.com"
GRAPH_TIMEOUT_SECONDS = 10.0
GRAPH_MAX_RETRIES = 3
GRAPH_BACKOFF_SECONDS = 1.0
# getSchedule takes at most 20 schedules and a window shorter than 62 days per call.
SCHEDULES_PER_CALL = 20
SCHEDULE_WINDOW = timedelta(days=61)
SCHEDULE_WORKERS = 4
PROBE_WINDOW = timedelta(hours=1)
REQUIRED_ROLE = "Calendars.ReadWrite"
TEAMS_PROVIDER = "teamsForBusiness"

# Tentative and out-of-office time would double-book the rep if offered; "workingElsewhere"
# is a location, not a commitment. "unknown" blocks: a slot we cannot read is not free.
BLOCKING_STATUSES = frozenset({"busy", "tentative", "oof", "unknown"})  # lower-cased

_RETRY_STATUSES = frozenset({429, 503, 504})
_PERMISSION_CODES = frozenset({"ErrorAccessDenied", "Authorization_RequestDenied"})
_MAILBOX_CODES = frozenset(
    {"ErrorInvalidUser", "ResourceNotFound", "MailboxNotEnabledForRESTAPI", "ErrorItemNotFound"}
)
_CODE = re.compile(r"^[A-Za-z0-9_.]{1,100}$")
_MSAL_HTTP_STATUS = re.compile(r"HTTP (?:Error|status): (\d{3})")
_AADSTS = re.compile(r"AADSTS\d+: [^\"\\]*")
# transactionId = uuid5(this, the attempt's key): a retried create names the same transaction.
_TRANSACTION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:frontdesk:graph:event")

CREDENTIALS_REFUSED = (
    "Microsoft Entra refused the app's client credentials ({error}: {description}): check "
    "MS_TENANT_ID, MS_CLIENT_ID and MS_CLIENT_SECRET (client secrets expire: create a new "
    "one under Certificates & secrets) and that an admin granted consent to the app"
)
AUTHORITY_UNUSABLE = (
    "Microsoft Entra has no usable tenant at {authority} ({detail}): check MS_TENANT_ID and "
    "MS_AUTHORITY_URL"
)
PERMISSION_MISSING = (
    "Microsoft Graph refused access to the mailbox {mailbox} ({code}: {detail}): an admin must "
    "grant the Entra app the Calendars.ReadWrite application permission with admin consent, "
    "and add {mailbox} to the app's Exchange application access policy if one restricts it"
)
MAILBOX_NOT_FOUND = (
    "Microsoft Graph has no mailbox {mailbox} ({code}: {detail}): check the rep's email and "
    "booking_calendar in the config; it must be an Exchange Online mailbox in tenant {tenant}"
)
SCHEDULE_REFUSED = (
    "Microsoft Graph could not read the calendar {calendar} of {rep} ({code}: {detail}): check "
    "that address in the rep's calendars in the config"
)
SCHEDULE_MISSING = (
    "Microsoft Graph answered getSchedule for {rep} without the calendar {calendar}; the busy "
    "time of that calendar is unknown, so nothing was offered"
)
THROTTLED = (
    "Microsoft Graph kept throttling {what} after {retries} retries; try again in a few minutes"
)
WAIT_TOO_LONG = (
    "Microsoft Graph asked to wait {seconds} s before {what} (HTTP {status}), longer than a "
    "booking is held; try again later"
)
SERVER_FAILED = (
    "Microsoft Graph answered HTTP {status} ({code}) to {what} after {retries} retries; check "
    "https://status.cloud.microsoft and try again"
)
IDENTITY_FAILED = (
    "Microsoft Entra answered HTTP {status} to the app token request; check "
    "https://status.cloud.microsoft and try again"
)
TOKEN_REFUSED = (
    "Microsoft Graph refused the app token for {what} ({code}: {detail}): MS_AUTHORITY_URL and "
    "MS_GRAPH_URL must belong to the same Microsoft cloud"
)
GRAPH_REFUSED = "Microsoft Graph refused {what} ({code}: {detail})"
UNREACHABLE = (
    "Microsoft {service} could not be reached for {what} ({kind}: {detail}); check the network "
    "and {variable}, then try again"
)
TIMED_OUT = "Microsoft {service} did not answer {what} within {seconds:g} s; try again later"
UNEXPECTED_ANSWER = "Microsoft Graph answered {what} with something that is not {expected}"
NO_ROLE = (
    "the app token lacks the {role} application permission (it has: {roles}); grant it in the "
    "Entra app's API permissions and have an admin consent"
)
NOT_CHECKED = "not checked: no app token"


class MicrosoftCalendar:
    """The `CalendarProvider` on Microsoft Graph for reps whose provider is "microsoft"."""

    name = PROVIDER

    def __init__(
        self,
        settings: MicrosoftSettings,
        *,
        timeout: float = GRAPH_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = GRAPH_MAX_RETRIES,
    ) -> None:
        if not (settings.ms_tenant_id and settings.ms_client_id and settings.ms_client_secret):
            raise ValueError("MS_TENANT_ID, MS_CLIENT_ID and MS_CLIENT_SECRET must all be set")
        graph = urlsplit(settings.ms_graph_url)
        if graph.scheme != "https" or not graph.netloc:
            raise ValueError(f"MS_GRAPH_URL must be an https URL, not {settings.ms_graph_url!r}")
        self.tenant_id = settings.ms_tenant_id
        self.client_id = settings.ms_client_id
        self._client_secret = settings.ms_client_secret
        authority_root = settings.ms_authority_url.rstrip("/")
        self.authority = f"{authority_root}/{self.tenant_id}"
        # Instance discovery asks login.microsoftonline.com to vouch for the host, which
        # fails for any other authority (a national cloud's own, a test's).
        self._instance_discovery = None if authority_root == DEFAULT_AUTHORITY_URL else False
        self.graph_url = settings.ms_graph_url.rstrip("/")
        self.scope = f"{graph.scheme}://{graph.netloc}/.default"
        self.timeout = timeout
        self.max_retries = max_retries
        self._sleep = sleep
        self._session = requests.Session()
        self._app: msal.ConfidentialClientApplication | None = None
        # One lock for building the app and reading its token: concurrent getSchedule chunks
        # then share one token request instead of racing to fetch several.
        self._token_lock = threading.Lock()

    # ----------------------------------------------------------------- CalendarProvider

    def busy(self, rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        """Busy time across every calendar of the rep, from as many getSchedule calls as
        Graph's limits need (run a few at a time)."""
        _require_aware(start, end)
        if end <= start:
            return []
        jobs = [
            (schedules, window_start, window_end)
            for schedules in batches(rep.calendars, SCHEDULES_PER_CALL)
            for window_start, window_end in time_ranges(start, end, SCHEDULE_WINDOW)
        ]

        def run(job: tuple[tuple[str, ...], datetime, datetime]) -> list[Interval]:
            schedules, window_start, window_end = job
            answers = self._get_schedule(rep, schedules, window_start, window_end)
            intervals: list[Interval] = []
            for calendar in schedules:
                info = answers.get(calendar.lower())
                if info is None:
                    raise IntegrationError(
                        PROVIDER,
                        200,
                        "schedule_missing",
                        SCHEDULE_MISSING.format(rep=rep.email, calendar=calendar),
                    )
                _raise_schedule_error(rep, calendar, info)
                intervals += _busy_items(info)
            return intervals

        if len(jobs) == 1:
            found = run(jobs[0])
        else:
            with ThreadPoolExecutor(
                max_workers=min(SCHEDULE_WORKERS, len(jobs)), thread_name_prefix="graph-schedule"
            ) as pool:
                found = [interval for chunk in pool.map(run, jobs) for interval in chunk]
        log.debug(
            "read Microsoft busy time",
            extra={"rep": rep.email, "calendars": len(rep.calendars), "calls": len(jobs)},
        )
        return sorted(found, key=lambda interval: (interval.start, interval.end))

    def create_event(self, rep: Rep, draft: EventDraft) -> CreatedEvent:
        """Create the event on the booking mailbox; Graph sends the invitations itself.

        The transactionId is derived from the request id, so a create retried after a crash
        or a timeout gets the event made the first time back instead of a second one.
        """
        _require_aware(draft.start, draft.end)
        transaction_id = str(uuid.uuid5(_TRANSACTION_NAMESPACE, draft.idempotency_key))
        organizer = draft.calendar_id.lower()
        body: dict[str, Any] = {
            "subject": draft.summary,
            "body": {"contentType": "text", "content": draft.description},
            "start": _graph_time(draft.start, draft.rep_timezone),
            "end": _graph_time(draft.end, draft.rep_timezone),
            "attendees": [
                {"emailAddress": {"address": address}, "type": "required"}
                for address in dict.fromkeys(draft.attendees)
                # Graph makes the mailbox the organizer; listed again it would invite itself.
                if address.lower() != organizer
            ],
            "isOnlineMeeting": draft.video,
            "transactionId": transaction_id,
        }
        if draft.video:
            body["onlineMeetingProvider"] = TEAMS_PROVIDER
        what = f"creating an event on {draft.calendar_id}"
        event = self._graph(
            "POST", draft.calendar_id, "events", body, what=what, rep=rep, retry_timeouts=True
        )
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id:
            raise IntegrationError(
                PROVIDER,
                201,
                "unexpected_response",
                UNEXPECTED_ANSWER.format(what=what, expected="an event with an id"),
            )
        online = event.get("onlineMeeting") or {}
        video_url = online.get("joinUrl") if isinstance(online, dict) else None
        fields = {
            "request_id": draft.request_id,
            "calendar": draft.calendar_id,
            "event_id": event_id,
            "transaction_id": transaction_id,
        }
        if draft.video and not video_url:
            # The event exists and Graph has invited everyone: failing now would make a
            # person book it again. The mailbox may not allow Teams meetings.
            log.warning("Microsoft event created without a Teams link", extra=fields)
        log.info("created Microsoft event", extra=fields)
        return CreatedEvent(event_id, event.get("iCalUId"), video_url)

    def cancel_event(self, rep: Rep, calendar_id: str, event_id: str) -> None:
        """POST /events/{id}/cancel: Graph removes the event and tells the attendees
        itself (SPEC §11). An event already gone (404) counts as cancelled.
        """
        what = f"cancelling an event on {calendar_id}"
        path = f"events/{quote(event_id, safe='')}/cancel"
        try:
            self._graph("POST", calendar_id, path, {}, what=what, rep=rep)
        except IntegrationError as error:
            if error.status != 404 or isinstance(error, ConnectionBrokenError):
                raise
            log.info("Microsoft event was already gone", extra={"event_id": event_id})
            return
        log.info("cancelled Microsoft event", extra={"event_id": event_id})

    def move_event(
        self, rep: Rep, calendar_id: str, event_id: str, start: datetime, end: datetime
    ) -> MovedEvent:
        """PATCH /events/{id} with the new start and end: the same event, and Graph sends
        the attendees the update itself.
        """
        _require_aware(start, end)
        body = {
            "start": _graph_time(start, rep.timezone),
            "end": _graph_time(end, rep.timezone),
        }
        what = f"moving an event on {calendar_id}"
        path = f"events/{quote(event_id, safe='')}"
        event = self._graph("PATCH", calendar_id, path, body, what=what, rep=rep)
        online = event.get("onlineMeeting") or {}
        video_url = online.get("joinUrl") if isinstance(online, dict) else None
        log.info("moved Microsoft event", extra={"event_id": event_id})
        return MovedEvent(str(event.get("id") or event_id), event.get("iCalUId"), video_url)

    def probe(self, rep: Rep) -> list[Probe]:
        """The app token, its calendar permission, and each of the rep's calendars."""
        try:
            token = self._token()
        except IntegrationError as exc:
            rows = [Probe(PROVIDER, "-", "credentials", False, exc.message)]
            return rows + [
                Probe(PROVIDER, calendar, "calendar", False, NOT_CHECKED)
                for calendar in rep.calendars
            ]
        rows = [
            Probe(PROVIDER, "-", "credentials", True, f"app token for {self.scope}"),
            _role_probe(token),
        ]
        now = datetime.now(UTC)
        for schedules in batches(rep.calendars, SCHEDULES_PER_CALL):
            try:
                answers = self._get_schedule(rep, schedules, now, now + PROBE_WINDOW)
            except IntegrationError as exc:
                rows += [Probe(PROVIDER, c, "calendar", False, exc.message) for c in schedules]
                continue
            for calendar in schedules:
                rows.append(_calendar_probe(rep, calendar, answers.get(calendar.lower())))
        return rows

    # ----------------------------------------------------------------- Graph calls

    def _get_schedule(
        self, rep: Rep, schedules: tuple[str, ...], start: datetime, end: datetime
    ) -> dict[str, dict[str, Any]]:
        """scheduleInformation by lower-cased schedule id."""
        body = {
            "schedules": list(schedules),
            "startTime": {"dateTime": _utc_wall(start), "timeZone": "UTC"},
            "endTime": {"dateTime": _utc_wall(end, round_up=True), "timeZone": "UTC"},
        }
        answer = self._graph(
            "POST",
            rep.email,
            "calendar/getSchedule",
            body,
            what=f"getSchedule for {rep.email}",
            rep=rep,
            headers={"Prefer": 'outlook.timezone="UTC"'},
        )
        values = answer.get("value")
        if not isinstance(values, list):
            raise IntegrationError(
                PROVIDER,
                200,
                "unexpected_response",
                UNEXPECTED_ANSWER.format(
                    what=f"getSchedule for {rep.email}", expected="a list of schedules"
                ),
            )
        return {
            str(info.get("scheduleId", "")).lower(): info
            for info in values
            if isinstance(info, dict)
        }

    def _graph(
        self,
        method: str,
        mailbox: str,
        path: str,
        body: dict[str, Any],
        *,
        what: str,
        rep: Rep,
        headers: dict[str, str] | None = None,
        retry_timeouts: bool = False,
    ) -> dict[str, Any]:
        """One Graph call: 429/503/504 and dropped connections retried a bounded number of
        times (after Retry-After when Graph gives one), every failure an IntegrationError.
        `retry_timeouts` for calls Graph deduplicates (an event's transactionId): a call
        that timed out may have landed, and its retry then answers with what it made.
        """
        url = f"{self.graph_url}/users/{quote(mailbox, safe='@')}/{path}"
        attempt = 0
        while True:
            token = self._token()
            try:
                response = self._session.request(
                    method,
                    url,
                    json=body,
                    headers={"Authorization": f"Bearer {token}", **(headers or {})},
                    timeout=self.timeout,
                )
            except requests.Timeout as exc:
                if retry_timeouts and attempt < self.max_retries:
                    self._wait(what, "timeout", attempt, GRAPH_BACKOFF_SECONDS * 2**attempt)
                    attempt += 1
                    continue
                raise _timed_out("Graph", what, self.timeout, exc) from exc
            except requests.RequestException as exc:
                retryable = isinstance(exc, requests.ConnectionError) and not isinstance(
                    exc, requests.exceptions.SSLError
                )
                if retryable and attempt < self.max_retries:
                    self._wait(what, "network", attempt, GRAPH_BACKOFF_SECONDS * 2**attempt)
                    attempt += 1
                    continue
                raise _unreachable("Graph", what, "MS_GRAPH_URL", exc) from exc
            if response.status_code in _RETRY_STATUSES and attempt < self.max_retries:
                delay = _retry_delay(response, attempt)
                if delay is not None:
                    self._wait(what, response.status_code, attempt, delay)
                    attempt += 1
                    continue
            if response.ok:
                # An action such as /cancel answers 202 with no body.
                return _json_object(response, what) if response.content else {}
            raise self._error(response, what, rep, mailbox, retries=attempt)

    def _wait(self, what: str, status: int | str, attempt: int, delay: float) -> None:
        log.warning(
            "Microsoft Graph asked to retry",
            extra={"operation": what, "status": status, "attempt": attempt + 1, "delay": delay},
        )
        self._sleep(delay)

    def _error(
        self, response: requests.Response, what: str, rep: Rep, mailbox: str, *, retries: int
    ) -> IntegrationError:
        status = response.status_code
        code, detail = _graph_error(response)
        if status in (401, 403) and code in _PERMISSION_CODES:
            message = PERMISSION_MISSING.format(mailbox=mailbox, code=code, detail=detail)
            return ConnectionBrokenError(PROVIDER, status, code, message, rep_email=rep.email)
        if status in _RETRY_STATUSES and retries < self.max_retries:
            seconds = response.headers.get("Retry-After", "?")
            message = WAIT_TOO_LONG.format(seconds=seconds, what=what, status=status)
        elif status == 429:
            message = THROTTLED.format(what=what, retries=retries)
        elif status >= 500:
            message = SERVER_FAILED.format(status=status, code=code, what=what, retries=retries)
        elif status == 401:
            message = TOKEN_REFUSED.format(what=what, code=code, detail=detail)
        elif status == 404 or code in _MAILBOX_CODES:
            message = MAILBOX_NOT_FOUND.format(
                mailbox=mailbox, code=code, detail=detail, tenant=self.tenant_id
            )
        else:
            message = GRAPH_REFUSED.format(what=what, code=code, detail=detail)
        return IntegrationError(PROVIDER, status, code, message)

    # ----------------------------------------------------------------- the app token

    def _token(self) -> str:
        what = "an app token"
        try:
            with self._token_lock:
                app = self._app or self._build_app()
                result = app.acquire_token_for_client(scopes=[self.scope])
        except requests.Timeout as exc:
            raise _timed_out("Entra", what, self.timeout, exc) from exc
        except requests.RequestException as exc:
            raise _unreachable("Entra", what, "MS_AUTHORITY_URL", exc) from exc
        except msal.exceptions.MsalServiceError as exc:  # a 5xx from the identity platform
            found = _MSAL_HTTP_STATUS.search(str(exc))
            status = int(found[1]) if found else "unavailable"
            raise IntegrationError(
                PROVIDER, status, "identity_platform_error", IDENTITY_FAILED.format(status=status)
            ) from exc
        if not isinstance(result, dict):
            result = {}
        token = result.get("access_token")
        if isinstance(token, str) and token:
            if result.get("token_source") == "identity_provider":
                log.info(
                    "acquired Microsoft Graph app token",
                    extra={"tenant": self.tenant_id, "scope": self.scope},
                )
            return token
        error = str(result.get("error") or "no_token")
        description = str(result.get("error_description") or "")
        # Entra's descriptions start with the useful line (AADSTS7000215: Invalid client
        # secret…) and then trace and correlation ids nobody acts on.
        summary = description.splitlines()[0] if description else "no description"
        raise IntegrationError(
            PROVIDER,
            401,
            error,
            CREDENTIALS_REFUSED.format(error=error, description=summary),
        )

    def _build_app(self) -> msal.ConfidentialClientApplication:
        """The msal app; building it fetches the tenant's OpenID configuration."""
        assert self._client_secret is not None  # checked in __init__
        try:
            app = msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self._client_secret.get_secret_value(),
                authority=self.authority,
                instance_discovery=self._instance_discovery,
                timeout=self.timeout,
            )
        except ValueError as exc:  # unknown tenant, or an authority that is no URL
            # msal's own message is generic; the discovery answer it wraps says what is wrong.
            chain = f"{exc.__context__ or ''} {exc}"
            found_status = _MSAL_HTTP_STATUS.search(chain)
            found_detail = _AADSTS.search(chain)
            detail = found_detail[0] if found_detail else str(exc).splitlines()[0][:300]
            raise IntegrationError(
                PROVIDER,
                int(found_status[1]) if found_status else "config",
                "invalid_authority",
                AUTHORITY_UNUSABLE.format(authority=self.authority, detail=detail),
            ) from exc
        self._app = app
        return app


# --------------------------------------------------------------------- pure helpers


def _require_aware(*moments: datetime) -> None:
    if any(moment.tzinfo is None for moment in moments):
        raise ValueError("Microsoft calendar times must be timezone-aware")


def _utc_wall(moment: datetime, *, round_up: bool = False) -> str:
    """The UTC wall time Graph wants beside `"timeZone": "UTC"`, whole seconds."""
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    if round_up and utc.microsecond:
        utc += timedelta(seconds=1)
    return utc.replace(microsecond=0).isoformat()


def _graph_time(moment: datetime, zone_name: str) -> dict[str, str]:
    """A dateTimeTimeZone naming exactly `moment`: the wall time in the rep's zone.

    A wall time in a fall-back hour names two instants and Graph takes no offset, so such a
    time goes in UTC instead; Outlook shows every event in the viewer's zone either way.
    """
    zone = ZoneInfo(zone_name)
    wall = moment.astimezone(zone).replace(tzinfo=None)
    earlier, later = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if earlier.utcoffset() != later.utcoffset():
        return {
            "dateTime": moment.astimezone(UTC).replace(tzinfo=None).isoformat(),
            "timeZone": "UTC",
        }
    return {"dateTime": wall.isoformat(), "timeZone": zone_name}


def _parse_graph_time(value: Any) -> datetime:
    """A dateTimeTimeZone from Graph (7-digit fractions, "UTC" or an IANA zone) as an instant."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise ValueError(f"not a dateTimeTimeZone: {value!r}")
    wall = datetime.fromisoformat(value["dateTime"])
    zone_name = str(value.get("timeZone") or "UTC")
    zone = UTC if zone_name.upper() in ("UTC", "Z") else ZoneInfo(zone_name)
    return (wall if wall.tzinfo else wall.replace(tzinfo=zone)).astimezone(UTC)


def _busy_items(info: dict[str, Any]) -> list[Interval]:
    intervals = []
    for item in info.get("scheduleItems") or []:
        if (
            not isinstance(item, dict)
            or str(item.get("status", "unknown")).lower() not in BLOCKING_STATUSES
        ):
            continue
        try:
            intervals.append(
                Interval(_parse_graph_time(item.get("start")), _parse_graph_time(item.get("end")))
            )
        except (ValueError, ZoneInfoNotFoundError) as exc:
            raise IntegrationError(
                PROVIDER,
                200,
                "unexpected_response",
                UNEXPECTED_ANSWER.format(
                    what=f"getSchedule for {info.get('scheduleId')}",
                    expected=f"a time it can read ({exc})",
                ),
            ) from exc
    return intervals


def _schedule_error(info: dict[str, Any]) -> tuple[str, str] | None:
    error = info.get("error")
    if not error:
        return None
    if not isinstance(error, dict):
        return "unexpected_response", str(error)
    code = str(error.get("responseCode") or "")
    return (code if _CODE.match(code) else "unexpected_response"), str(error.get("message") or "")


def _raise_schedule_error(rep: Rep, calendar: str, info: dict[str, Any]) -> None:
    problem = _schedule_error(info)
    if problem is not None:
        code, detail = problem
        raise IntegrationError(
            PROVIDER,
            200,
            code,
            SCHEDULE_REFUSED.format(calendar=calendar, rep=rep.email, code=code, detail=detail),
        )


def _calendar_probe(rep: Rep, calendar: str, info: dict[str, Any] | None) -> Probe:
    if info is None:
        return Probe(
            PROVIDER,
            calendar,
            "calendar",
            False,
            SCHEDULE_MISSING.format(rep=rep.email, calendar=calendar),
        )
    problem = _schedule_error(info)
    if problem is not None:
        code, detail = problem
        return Probe(PROVIDER, calendar, "calendar", False, f"{code}: {detail}")
    return Probe(PROVIDER, calendar, "calendar", True, "free/busy readable")


def _role_probe(token: str) -> Probe:
    """Whether the app token carries Calendars.ReadWrite, read from its claims.

    Microsoft may hand out tokens that are not readable JWTs; then the calendar rows and the
    first booking are what tell.
    """
    roles = _token_roles(token)
    if roles is None:
        return Probe(PROVIDER, "-", "scopes", True, "token is opaque; roles not readable")
    if REQUIRED_ROLE in roles:
        return Probe(PROVIDER, "-", "scopes", True, REQUIRED_ROLE)
    listed = ", ".join(sorted(roles)) or "none"
    return Probe(PROVIDER, "-", "scopes", False, NO_ROLE.format(role=REQUIRED_ROLE, roles=listed))


def _token_roles(token: str) -> set[str] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    roles = payload.get("roles", []) if isinstance(payload, dict) else None
    return {str(role) for role in roles} if isinstance(roles, list) else None


def _retry_delay(response: requests.Response, attempt: int) -> float | None:
    """Seconds to wait before the next attempt (`attempt` counts from 0), or None when
    Graph asks for too long."""
    return retry_wait(
        response.headers.get("Retry-After"), attempt + 1, backoff=GRAPH_BACKOFF_SECONDS
    )


def _graph_error(response: requests.Response) -> tuple[str, str]:
    """Graph's error code and message, or "unexpected_response" for a gateway's HTML page."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        return "unexpected_response", f"HTTP {response.status_code} {response.reason}"
    code = str(error.get("code") or "")
    return (code if _CODE.match(code) else "unexpected_response"), str(error.get("message") or "")


def _json_object(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise IntegrationError(
            PROVIDER,
            response.status_code,
            "unexpected_response",
            UNEXPECTED_ANSWER.format(what=what, expected="a JSON object"),
        )
    return answer


def _timed_out(service: str, what: str, seconds: float, exc: Exception) -> IntegrationError:
    return IntegrationError(
        PROVIDER,
        "timeout",
        type(exc).__name__,
        TIMED_OUT.format(service=service, what=what, seconds=seconds),
    )


def _unreachable(service: str, what: str, variable: str, exc: Exception) -> IntegrationError:
    cause = root_cause(exc)
    kind = type(cause).__name__
    return IntegrationError(
        PROVIDER,
        "network",
        kind,
        UNREACHABLE.format(service=service, what=what, kind=kind, detail=cause, variable=variable),
    )
