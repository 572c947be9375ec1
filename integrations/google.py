"""Google Calendar through google-api-python-client: `GoogleCalendar`, the real
CalendarProvider, and the one place that owns the rep's token refresh, retries, Retry-After,
timeouts and the translation of Google's errors into ours.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

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
from integrations.credentials import GoogleSettings
from integrations.google_oauth import (
    EVENTS_SCOPE,
    FREEBUSY_SCOPE,
    GOOGLE,
    REQUIRED_SCOPES,
    missing_scopes,
    require_configuration,
    short_scope,
    start_url,
)
from integrations.retry import retry_wait, root_cause
from storage.crypto import TokenCipherError
from storage.repositories import ConnectionRepository
from storage.repositories.connections import Connection

log = logging.getLogger("frontdesk.google")

GOOGLE_TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 3
BACKOFF_BASE_SECONDS = 0.5
FREEBUSY_MAX_CALENDARS = 50  # Google's calendarExpansionMax
FREEBUSY_MAX_RANGE = timedelta(days=60)  # Google refuses long ranges (timeRangeTooLong)
FREEBUSY_WORKERS = 4
MEET_POLLS = 5
MEET_POLL_BASE_SECONDS = 0.5
MEET_POLL_MAX_SECONDS = 4.0
PROBE_WINDOW = timedelta(hours=1)

_RETRIED_403 = {"rateLimitExceeded", "userRateLimitExceeded"}
_FORBIDDEN_REASONS = {
    "forbidden",
    "accessDenied",
    "insufficientPermissions",
    "notACalendarUser",
    "requiredAccessLevel",
}
# The scope each API operation needs, to name it when Google says the token lacks one.
_SCOPE_FOR = {
    "freeBusy.query": FREEBUSY_SCOPE,
    "events.insert": EVENTS_SCOPE,
    "events.delete": EVENTS_SCOPE,
    "events.patch": EVENTS_SCOPE,
}

NOT_CONNECTED_MESSAGE = (
    "Google Calendar is not connected for {rep} — connect at {url} (the rep signs in there)"
)
BROKEN_MESSAGE = "Google Calendar connection of {rep} is broken ({why}) — reconnect at {url}"
UNDECRYPTABLE_MESSAGE = "Google Calendar token of {rep} is unreadable ({why}) — reconnect at {url}"
REVOKED_MESSAGE = (
    "Google refused the refresh token of {rep} (invalid_grant: revoked, expired or reset by "
    "a password change) — reconnect at {url}"
)
MISSING_SCOPE_MESSAGE = (
    "Google Calendar refused {rep}: the token lacks scope {scopes} — reconnect at {url}"
)
CLIENT_REFUSED_MESSAGE = (
    "Google refused Frontdesk's OAuth client while refreshing the token of {rep} ({error}): "
    "check GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET"
)
TOKEN_ERROR_MESSAGE = "Google's token endpoint refused to refresh the token of {rep} ({error})"
NETWORK_MESSAGE = (
    "Google could not be reached for {what} of {rep} ({kind}: {cause}); check the network, "
    "GOOGLE_API_URL and GOOGLE_TOKEN_URL, then try again"
)
CALENDAR_ERROR_MESSAGE = (
    "Google Calendar cannot read calendar {calendar} for {rep} ({reason}): check the calendar "
    "id in the config and that the calendar is shared with {rep}"
)
API_ERROR_MESSAGE = "Google Calendar refused {operation} on {target} for {rep}: {status} {reason}"
RATE_LIMITED_MESSAGE = (
    "Google Calendar kept rate-limiting {operation} for {rep} ({reason}) after {attempts} "
    "attempts; try again in a minute"
)
SERVER_ERROR_MESSAGE = (
    "Google Calendar answered HTTP {status} ({reason}) to {operation} for {rep} after "
    "{attempts} attempts; check https://www.google.com/appsstatus and try again"
)
EVENT_DELETED_MESSAGE = (
    "the event {event_id} of request {request_id} was deleted from {calendar}; Google keeps "
    "its id reserved, so this request cannot be booked there again automatically"
)
MEET_PENDING_MESSAGE = (
    "Google created the event {event_id} on {calendar} but its Meet link was still pending "
    "after {polls} checks; booked without one (add it from the event)"
)
MEET_FAILED_MESSAGE = (
    "Google created the event {event_id} on {calendar} but no Meet link ({status}); check that "
    "Google Meet is enabled for {rep}"
)


def _may_have_landed(error: IntegrationError) -> bool:
    return error.status in ("timeout", "network") or (
        isinstance(error.status, int) and error.status >= 500
    )


def event_id_for(key: str) -> str:
    """Google event id for a booking attempt (`EventDraft.idempotency_key`): base32hex
    (0-9a-v) of SHA-256, 52 characters.

    The same attempt always gets the same id, so a retried insert answers 409 instead of
    creating a second event.
    """
    digest = hashlib.sha256(key.encode()).digest()
    return base64.b32hexencode(digest).decode().rstrip("=").lower()


@dataclass
class _Session:
    """One rep's credentials, refreshed at most once at a time."""

    source_token: str
    credentials: Credentials
    lock: threading.Lock


class GoogleCalendar:
    """The CalendarProvider on the Google Calendar API, with each rep's own consent."""

    name = GOOGLE

    def __init__(
        self,
        settings: GoogleSettings,
        connections: ConnectionRepository,
        *,
        timeout: float = GOOGLE_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        require_configuration(settings)
        self.settings = settings
        self.connections = connections
        self.timeout = timeout
        self._sleep = sleep
        self._api_endpoint = settings.google_api_url.rstrip("/") + "/calendar/v3/"
        self._sessions: dict[str, _Session] = {}
        self._sessions_lock = threading.Lock()
        # httplib2 is not thread-safe: each thread gets its own Http and API client.
        self._local = threading.local()
        # Long-lived, so its threads keep their Http and its open connection to Google.
        self._pool = ThreadPoolExecutor(FREEBUSY_WORKERS, thread_name_prefix="google-freebusy")

    # ----------------------------------------------------------------- CalendarProvider

    def busy(self, rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        if end <= start:
            return []
        credentials = self._credentials(rep)
        chunks = [
            (calendars, chunk_start, chunk_end)
            for calendars in batches(rep.calendars, FREEBUSY_MAX_CALENDARS)
            for chunk_start, chunk_end in time_ranges(start, end, FREEBUSY_MAX_RANGE)
        ]

        def query(chunk: tuple[tuple[str, ...], datetime, datetime]) -> dict[str, Any]:
            return self._free_busy(rep, credentials, *chunk)

        # One chunk (the usual case) runs here; several at once on the pool.
        answers = [query(chunks[0])] if len(chunks) == 1 else list(self._pool.map(query, chunks))

        intervals: list[Interval] = []
        for answer in answers:
            for calendar, entry in answer.items():
                errors = entry.get("errors") or []
                if errors:
                    raise _calendar_error(rep, calendar, errors)
                intervals += [
                    Interval(_instant(busy["start"]), _instant(busy["end"]))
                    for busy in entry.get("busy", [])
                ]
        return sorted(intervals, key=lambda interval: (interval.start, interval.end))

    def create_event(self, rep: Rep, draft: EventDraft) -> CreatedEvent:
        credentials = self._credentials(rep)
        event_id = event_id_for(draft.idempotency_key)
        fields = {"event_id": event_id, "calendar": draft.calendar_id, "request": draft.request_id}
        body = _event_body(event_id, draft)
        try:
            event = self._execute(
                rep,
                credentials,
                "events.insert",
                draft.calendar_id,
                lambda api: api.events().insert(
                    calendarId=draft.calendar_id,
                    body=body,
                    conferenceDataVersion=1,
                    sendUpdates="none",
                ),
            )
            log.info("created Google Calendar event", extra=fields)
        except IntegrationError as error:
            if error.status != 409:
                # A 5xx, timeout or dropped connection may come after Google stored the
                # event: look before reporting that nothing was created.
                if not _may_have_landed(error):
                    raise
                found = self._find_event(rep, credentials, draft.calendar_id, event_id)
                if found is None:
                    raise
                log.warning("adopted an event whose insert reported a failure", extra=fields)
                event = found
            else:
                # An earlier attempt (crashed, timed out, or answered 5xx after the work)
                # already created it: adopt that event instead of making a second.
                event = self._get_event(rep, credentials, draft.calendar_id, event_id)
            if event.get("status") == "cancelled":
                raise IntegrationError(
                    GOOGLE,
                    409,
                    "eventDeleted",
                    EVENT_DELETED_MESSAGE.format(
                        event_id=event_id, request_id=draft.request_id, calendar=draft.calendar_id
                    ),
                ) from error
            log.info("adopted the Google Calendar event of an earlier attempt", extra=fields)
        if draft.video:
            event = self._await_meet(rep, credentials, draft.calendar_id, event)
        return CreatedEvent(str(event["id"]), event.get("iCalUID"), _video_url(event))

    def cancel_event(self, rep: Rep, calendar_id: str, event_id: str) -> None:
        """events.delete with sendUpdates=none: our own email carries the cancellation
        (SPEC §11), as the confirmation carried the invitation. Gone already (404, or 410
        for an event deleted before) is done: a retry after a lost answer is harmless.
        """
        credentials = self._credentials(rep)
        fields = {"event_id": event_id, "calendar": calendar_id}
        try:
            self._execute(
                rep,
                credentials,
                "events.delete",
                calendar_id,
                lambda api: api.events().delete(
                    calendarId=calendar_id, eventId=event_id, sendUpdates="none"
                ),
            )
        except IntegrationError as error:
            if error.status not in (404, 410):
                raise
            log.info("Google Calendar event was already gone", extra=fields)
            return
        log.info("deleted Google Calendar event", extra=fields)

    def move_event(
        self, rep: Rep, calendar_id: str, event_id: str, start: datetime, end: datetime
    ) -> MovedEvent:
        """events.patch of start and end only: the same event (id, iCalUID, attendees, Meet
        link) at the new time; Google raises its SEQUENCE. sendUpdates=none: our email
        carries the updated invitation.
        """
        credentials = self._credentials(rep)
        body = {
            "start": {"dateTime": _local(start, rep.timezone), "timeZone": rep.timezone},
            "end": {"dateTime": _local(end, rep.timezone), "timeZone": rep.timezone},
        }
        event = self._execute(
            rep,
            credentials,
            "events.patch",
            calendar_id,
            lambda api: api.events().patch(
                calendarId=calendar_id, eventId=event_id, body=body, sendUpdates="none"
            ),
        )
        log.info(
            "moved Google Calendar event", extra={"event_id": event_id, "calendar": calendar_id}
        )
        return MovedEvent(str(event.get("id") or event_id), event.get("iCalUID"), _video_url(event))

    def _find_event(
        self, rep: Rep, credentials: Any, calendar_id: str, event_id: str
    ) -> dict[str, Any] | None:
        """The event with that id if it exists (and is not cancelled); None when it does not
        or when Google cannot even tell us.
        """
        try:
            event = self._get_event(rep, credentials, calendar_id, event_id)
        except IntegrationError:
            return None
        return None if event.get("status") == "cancelled" else event

    def probe(self, rep: Rep) -> list[Probe]:
        try:
            credentials, granted = self._authorize(rep, force_refresh=True)
        except IntegrationError as error:
            return [Probe(GOOGLE, rep.email, "token", False, error.message)]
        probes = [Probe(GOOGLE, rep.email, "token", True, "the refresh token works")]

        missing = missing_scopes(granted) if granted else []
        if missing:
            detail = MISSING_SCOPE_MESSAGE.format(
                rep=rep.email,
                scopes=", ".join(short_scope(s) for s in missing),
                url=start_url(self.settings, rep.email),
            )
        elif granted:
            detail = "granted: " + ", ".join(sorted(short_scope(s) for s in granted))
        else:
            detail = "Google did not say which scopes the token has"
        probes.append(Probe(GOOGLE, rep.email, "scopes", not missing, detail))

        start = datetime.now(UTC)
        for calendars in batches(rep.calendars, FREEBUSY_MAX_CALENDARS):
            try:
                answer = self._free_busy(rep, credentials, calendars, start, start + PROBE_WINDOW)
            except IntegrationError as error:
                probes += [Probe(GOOGLE, c, "calendar", False, error.message) for c in calendars]
                continue
            for calendar in calendars:
                errors = answer[calendar].get("errors") or []
                if errors:
                    detail = _calendar_error(rep, calendar, errors).message
                    probes.append(Probe(GOOGLE, calendar, "calendar", False, detail))
                else:
                    probes.append(Probe(GOOGLE, calendar, "calendar", True, "reachable"))
        return probes

    # ----------------------------------------------------------------- credentials

    def _credentials(self, rep: Rep) -> Credentials:
        """The rep's credentials holding a fresh access token, with every required scope."""
        credentials, granted = self._authorize(rep)
        # An empty grant means Google never said; the API itself will refuse what is missing.
        missing = missing_scopes(granted) if granted else []
        if missing:
            raise self._missing_scope(rep, missing)
        return credentials

    def _authorize(self, rep: Rep, *, force_refresh: bool = False) -> tuple[Credentials, list[str]]:
        """Credentials reused until the access token expires, and the scopes granted."""
        connection = self._connection(rep)
        token = connection.refresh_token or ""
        with self._sessions_lock:
            session = self._sessions.get(rep.email)
            if session is None or session.source_token != token:
                # First use, or the rep reconnected since: start from the stored token.
                session = _Session(token, self._new_credentials(token), threading.Lock())
                self._sessions[rep.email] = session
        with session.lock:
            if force_refresh or not session.credentials.valid:
                try:
                    self._refresh(rep, session.credentials, connection)
                except ConnectionBrokenError as exc:
                    exc.connected_at = connection.connected_at
                    raise
        granted = session.credentials.granted_scopes or connection.scopes
        return session.credentials, list(granted)

    def _connection(self, rep: Rep) -> Connection:
        url = start_url(self.settings, rep.email)
        try:
            connection = self.connections.get(rep.email, GOOGLE)
        except TokenCipherError as exc:
            raise ConnectionBrokenError(
                GOOGLE,
                401,
                "undecryptable_token",
                UNDECRYPTABLE_MESSAGE.format(rep=rep.email, why=exc, url=url),
                rep_email=rep.email,
            ) from exc
        if connection is None or not connection.refresh_token:
            raise ConnectionBrokenError(
                GOOGLE,
                401,
                "not_connected",
                NOT_CONNECTED_MESSAGE.format(rep=rep.email, url=url),
                rep_email=rep.email,
            )
        if connection.broken:
            raise ConnectionBrokenError(
                GOOGLE,
                401,
                "connection_broken",
                BROKEN_MESSAGE.format(
                    rep=rep.email, why=connection.broken_reason or "marked broken", url=url
                ),
                rep_email=rep.email,
            )
        return connection

    def _new_credentials(self, refresh_token: str) -> Credentials:
        secret = self.settings.google_client_secret
        return Credentials(  # type: ignore[no-untyped-call]
            token=None,
            refresh_token=refresh_token,
            token_uri=self.settings.google_token_url,
            client_id=self.settings.google_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            scopes=list(REQUIRED_SCOPES),
        )

    def _refresh(self, rep: Rep, credentials: Credentials, connection: Connection) -> None:
        request = google_auth_httplib2.Request(httplib2.Http(timeout=self.timeout))
        try:
            credentials.refresh(request)  # type: ignore[no-untyped-call]
        except RefreshError as exc:
            raise self._refresh_error(rep, exc) from exc
        except (TransportError, OSError, http.client.HTTPException) as exc:
            raise _network_error(rep, "the token refresh", exc) from exc
        granted = credentials.granted_scopes
        log.info(
            "refreshed Google access token",
            extra={"rep": rep.email, "expires_at": credentials.expiry, "scopes": granted},
        )
        if granted and set(granted) != set(connection.scopes):
            self.connections.update_scopes(rep.email, GOOGLE, list(granted))

    def _refresh_error(self, rep: Rep, exc: RefreshError) -> IntegrationError:
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error = str(data.get("error") or "")
        url = start_url(self.settings, rep.email)
        log.warning(
            "google token refresh failed",
            extra={"rep": rep.email, "error": error or "unreadable", "retryable": exc.retryable},
        )
        if error == "invalid_grant":
            return ConnectionBrokenError(
                GOOGLE,
                400,
                "invalid_grant",
                REVOKED_MESSAGE.format(rep=rep.email, url=url),
                rep_email=rep.email,
            )
        if error == "invalid_scope":
            return self._missing_scope(rep, list(REQUIRED_SCOPES), reason="invalid_scope")
        if error in ("invalid_client", "unauthorized_client"):
            return IntegrationError(
                GOOGLE, 401, error, CLIENT_REFUSED_MESSAGE.format(rep=rep.email, error=error)
            )
        if error:
            return IntegrationError(
                GOOGLE, 400, error, TOKEN_ERROR_MESSAGE.format(rep=rep.email, error=error)
            )
        return IntegrationError(
            GOOGLE,
            502,
            "token_endpoint_error",
            TOKEN_ERROR_MESSAGE.format(rep=rep.email, error="an unreadable answer"),
        )

    def _missing_scope(
        self, rep: Rep, missing: list[str], *, status: int = 403, reason: str = ""
    ) -> ConnectionBrokenError:
        return ConnectionBrokenError(
            GOOGLE,
            status,
            reason or "insufficientPermissions",
            MISSING_SCOPE_MESSAGE.format(
                rep=rep.email,
                scopes=", ".join(short_scope(s) for s in missing),
                url=start_url(self.settings, rep.email),
            ),
            rep_email=rep.email,
        )

    # ----------------------------------------------------------------- API calls

    def _api(self) -> Any:
        """This thread's Calendar client (from the static discovery document) and Http."""
        api = getattr(self._local, "api", None)
        if api is None:
            self._local.http = httplib2.Http(timeout=self.timeout)
            api = build(
                "calendar",
                "v3",
                http=self._local.http,
                static_discovery=True,
                cache_discovery=False,
                client_options={"api_endpoint": self._api_endpoint},
            )
            self._local.api = api
        return api

    def _execute(
        self,
        rep: Rep,
        credentials: Credentials,
        operation: str,
        target: str,
        prepare: Callable[[Any], Any],
    ) -> dict[str, Any]:
        """Run one API call with bounded retries, translating every failure."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            api = self._api()
            authorized = google_auth_httplib2.AuthorizedHttp(credentials, http=self._local.http)
            try:
                return dict(prepare(api).execute(http=authorized))
            except HttpError as exc:
                status, reason = _status_reason(exc)
                wait = _retry_wait(exc, status, reason, attempt)
                if wait is None:
                    raise self._api_error(rep, operation, target, status, reason, attempt) from exc
                log.warning(
                    "google calendar asked to retry",
                    extra={
                        "operation": operation,
                        "rep": rep.email,
                        "status": status,
                        "reason": reason,
                        "attempt": attempt,
                        "wait_seconds": wait,
                    },
                )
                self._sleep(wait)
            except RefreshError as exc:
                raise self._refresh_error(rep, exc) from exc
            except (
                TransportError,
                OSError,
                http.client.HTTPException,
                httplib2.HttpLib2Error,
            ) as exc:
                raise _network_error(rep, operation, exc) from exc
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _api_error(
        self, rep: Rep, operation: str, target: str, status: int, reason: str, attempts: int
    ) -> IntegrationError:
        if status != 409:  # a duplicate id is the idempotent insert working: the caller adopts
            log.warning(
                "google calendar refused",
                extra={
                    "operation": operation,
                    "rep": rep.email,
                    "status": status,
                    "reason": reason,
                },
            )
        if status == 403 and reason == "insufficientPermissions":
            return self._missing_scope(rep, [_SCOPE_FOR.get(operation, EVENTS_SCOPE)])
        if status == 429 or reason in _RETRIED_403:
            message = RATE_LIMITED_MESSAGE.format(
                operation=operation, rep=rep.email, reason=reason, attempts=attempts
            )
        elif status >= 500:
            message = SERVER_ERROR_MESSAGE.format(
                status=status, reason=reason, operation=operation, rep=rep.email, attempts=attempts
            )
        else:
            message = API_ERROR_MESSAGE.format(
                operation=operation, target=target, rep=rep.email, status=status, reason=reason
            )
        return IntegrationError(GOOGLE, status, reason, message)

    def _free_busy(
        self,
        rep: Rep,
        credentials: Credentials,
        calendars: tuple[str, ...],
        start: datetime,
        end: datetime,
    ) -> dict[str, Any]:
        """calendar id -> Google's entry ({busy: […]} or {errors: […]}) for each calendar."""
        body = {
            "timeMin": _rfc3339(start),
            "timeMax": _rfc3339(end),
            "items": [{"id": calendar} for calendar in calendars],
        }
        answer = self._execute(
            rep,
            credentials,
            "freeBusy.query",
            ", ".join(calendars),
            lambda api: api.freebusy().query(body=body),
        )
        returned = answer.get("calendars") or {}
        missing = {"errors": [{"domain": "global", "reason": "missingFromResponse"}]}
        return {calendar: returned.get(calendar, missing) for calendar in calendars}

    def _get_event(
        self, rep: Rep, credentials: Credentials, calendar: str, event_id: str
    ) -> dict[str, Any]:
        return self._execute(
            rep,
            credentials,
            "events.get",
            calendar,
            lambda api: api.events().get(calendarId=calendar, eventId=event_id),
        )

    def _await_meet(
        self, rep: Rep, credentials: Credentials, calendar: str, event: dict[str, Any]
    ) -> dict[str, Any]:
        """Google adds the Meet link asynchronously: look again while it is pending."""
        for poll in range(MEET_POLLS):
            if _conference_status(event) != "pending":
                break
            self._sleep(min(MEET_POLL_BASE_SECONDS * 2**poll, MEET_POLL_MAX_SECONDS))
            event = self._get_event(rep, credentials, calendar, str(event["id"]))
        if not _video_url(event):
            # The event exists, with the client invited: booked without a Meet link (as
            # on Microsoft without Teams) beats an orphan event and an escalation saying
            # nothing was booked. The rep can add a link; the log says why there is none.
            status = _conference_status(event) or "no conference data"
            template = MEET_PENDING_MESSAGE if status == "pending" else MEET_FAILED_MESSAGE
            message = template.format(
                event_id=event["id"],
                calendar=calendar,
                status=status,
                rep=rep.email,
                polls=MEET_POLLS,
            )
            log.warning("booked without a Meet link", extra={"status": status, "detail": message})
        return event


# --------------------------------------------------------------------- helpers


def _rfc3339(instant: datetime) -> str:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: Google needs an instant")
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _local(instant: datetime, zone: str) -> str:
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant!r}: Google needs an instant")
    return instant.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")


def _event_body(event_id: str, draft: EventDraft) -> dict[str, Any]:
    # The local wall time with its offset and the rep's zone: the instant is exact, and the
    # event shows in the rep's zone on their calendar.
    body: dict[str, Any] = {
        "id": event_id,
        "summary": draft.summary,
        "description": draft.description,
        "start": {
            "dateTime": _local(draft.start, draft.rep_timezone),
            "timeZone": draft.rep_timezone,
        },
        "end": {"dateTime": _local(draft.end, draft.rep_timezone), "timeZone": draft.rep_timezone},
        "attendees": [{"email": attendee} for attendee in draft.attendees],
        "extendedProperties": {"private": {"frontdeskRequestId": draft.request_id}},
    }
    if draft.video:
        body["conferenceData"] = {
            "createRequest": {
                # Per attempt, like the event id: Google ignores a requestId it has seen.
                "requestId": event_id,
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        }
    return body


def _conference_status(event: dict[str, Any]) -> str | None:
    status = event.get("conferenceData", {}).get("createRequest", {}).get("status", {})
    code = status.get("statusCode")
    return str(code) if code else None


def _video_url(event: dict[str, Any]) -> str | None:
    for entry in event.get("conferenceData", {}).get("entryPoints", []):
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    link = event.get("hangoutLink")
    return str(link) if link else None


def _status_reason(exc: HttpError) -> tuple[int, str]:
    """HTTP status and Google's own reason (error.errors[0].reason) of an API error."""
    status = int(exc.resp.status)
    try:
        error = json.loads(exc.content).get("error", {})
    except (ValueError, AttributeError, TypeError):
        return status, "unexpectedResponse"
    if not isinstance(error, dict):
        return status, "unexpectedResponse"
    errors = error.get("errors") or []
    reason = errors[0].get("reason") if errors and isinstance(errors[0], dict) else None
    return status, str(reason or error.get("status") or "unexpectedResponse")


def _retry_wait(exc: HttpError, status: int, reason: str, attempt: int) -> float | None:
    retryable = status == 429 or status >= 500 or (status == 403 and reason in _RETRIED_403)
    if not retryable or attempt >= MAX_ATTEMPTS:
        return None
    return retry_wait(exc.resp.get("retry-after"), attempt, backoff=BACKOFF_BASE_SECONDS)


def _calendar_error(rep: Rep, calendar: str, errors: list[dict[str, Any]]) -> IntegrationError:
    reason = str(errors[0].get("reason") or "unknown")
    if reason == "notFound":
        status = 404
    elif reason in _FORBIDDEN_REASONS:
        status = 403
    else:
        status = 502
    return IntegrationError(
        GOOGLE,
        status,
        reason,
        CALENDAR_ERROR_MESSAGE.format(calendar=calendar, rep=rep.email, reason=reason),
    )


def _network_error(rep: Rep, what: str, exc: BaseException) -> IntegrationError:
    cause = root_cause(exc)
    timed_out = isinstance(cause, TimeoutError) or "timed out" in str(cause).lower()
    kind = type(cause).__name__
    log.warning("google unreachable", extra={"operation": what, "rep": rep.email, "problem": kind})
    return IntegrationError(
        GOOGLE,
        "timeout" if timed_out else "network",
        kind,
        NETWORK_MESSAGE.format(what=what, rep=rep.email, kind=kind, cause=cause),
    )
