"""Text messages through Twilio: `TwilioSms`, the real `SmsSender`, which sends an SMS,
looks for one Twilio may have accepted behind a failure, and translates Twilio's answers
into `SmsError`s that say whether a retry can help and whether the text may have gone out.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from integrations.base import Probe, SmsError, TextMessage
from integrations.credentials import TwilioSettings
from integrations.retry import retry_wait, root_cause

log = logging.getLogger("frontdesk.twilio")

TWILIO_TIMEOUT_SECONDS = 10.0
TWILIO_MAX_ATTEMPTS = 3
TWILIO_BACKOFF_SECONDS = 1.0
# How many of the latest messages to a number `find_sent` reads: a client gets a few
# reminders, so one page reaches far past any attempt still worth recovering.
FIND_PAGE_SIZE = 50
# Twilio stamps `date_created` in whole seconds by its own clock; a message created just
# after `since` by ours may carry an earlier stamp.
CLOCK_SLACK = timedelta(seconds=30)
# Messages Twilio never handed to a carrier: sending again cannot make a duplicate.
_NEVER_LEFT_TWILIO = frozenset({"failed", "canceled"})

# Twilio's error codes (https://www.twilio.com/docs/api/errors).
_AUTHENTICATE = 20003
_NOT_FOUND = 20404
_TOO_MANY_REQUESTS = 20429
_BAD_FROM = frozenset({21212, 21606, 21660})  # invalid 'From', not ours, not SMS-capable
# Refusals about the recipient's number itself: no retry, by anyone, can help.
_PERMANENT: dict[int, str] = {
    21610: (
        "{to} replied STOP to our Twilio sender and is unsubscribed from SMS (Twilio 21610): "
        "reach the client by email or phone instead; texts resume only if they reply START"
    ),
    21211: (
        "Twilio says {to} is not a valid phone number (21211 Invalid 'To' Phone Number): "
        "correct the client's phone in E.164 form, e.g. +14155550123"
    ),
    21614: (
        "{to} is not a mobile number and cannot receive SMS (Twilio 21614): call the client "
        "or ask them for a mobile number"
    ),
    21612: (
        "Twilio cannot route an SMS from TWILIO_FROM to {to} (21612): the carrier or number "
        "type does not take texts from this sender; reach the client another way"
    ),
    21408: (
        "SMS to {to}'s country is not enabled on this Twilio account (21408): enable the "
        "country in the Twilio Console under Messaging → Settings → Geo permissions, or "
        "reach the client another way"
    ),
    21217: (
        "Twilio says {to} does not look like a valid phone number (21217): check the "
        "client's phone, in E.164 form, e.g. +14155550123"
    ),
}


class _Refused(Exception):
    """Twilio answered with an error: the status, Twilio's code and the Retry-After header
    (which twilio-python's TwilioRestException drops).
    """

    def __init__(self, status: int, body: Any, headers: Any) -> None:
        data = body if isinstance(body, dict) else {}
        super().__init__(f"HTTP {status}")
        self.status = status
        code = data.get("code")
        self.code = code if isinstance(code, int) else None
        # Legacy errors carry `message`; RFC 9457 ones (newer APIs) `detail` and `title`.
        self.message = str(data.get("message") or data.get("detail") or data.get("title") or "")
        self.more_info = str(data.get("more_info") or data.get("type") or "")
        self.retry_after: str | None = headers.get("Retry-After") if headers else None

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or self.code == _TOO_MANY_REQUESTS

    @property
    def said(self) -> str:
        if self.code is not None:
            return f"{self.code} {self.message}".strip()
        return f"HTTP {self.status}"


class _HttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """twilio-python's HTTP client, failing on an error answer with its status and headers;
    raising here keeps each answer with its own call, however many threads share the client.
    """

    def request(self, *args: Any, **kwargs: Any) -> Any:
        response = super().request(*args, **kwargs)
        if response.status_code >= 400:
            raise _Refused(response.status_code, _json(response.text), response.headers)
        return response


class TwilioSms:
    """The `SmsSender` on Twilio's Messages API (TWILIO_API_URL as the `api` domain's
    base URL). TWILIO_FROM is a phone number, or a messaging service when it starts "MG".
    """

    name = "twilio"

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        timeout: float = TWILIO_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = TWILIO_MAX_ATTEMPTS,
    ) -> None:
        sid, token, sender = (
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
        )
        if not sid or token is None or not sender:
            raise ValueError(
                "TwilioSms needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM"
            )
        self.account_sid = sid
        self.sender = sender
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._sleep = sleep
        self.client = Client(
            sid, token.get_secret_value(), http_client=_HttpClient(timeout=timeout)
        )
        # TWILIO_API_URL names the host outright: TWILIO_EDGE / TWILIO_REGION in the
        # environment would make twilio-python rewrite it (and mangle 127.0.0.1).
        self.client.edge = self.client.region = None
        self.client.api.base_url = settings.twilio_api_url.rstrip("/")

    @property
    def _sender_field(self) -> dict[str, str]:
        if self.sender.startswith("MG"):
            return {"messaging_service_sid": self.sender}
        return {"from_": self.sender}

    # ------------------------------------------------------------------ sending

    def send(self, message: TextMessage) -> str:
        """Send the text; return its SID. A 429 is retried here (Twilio did nothing); a
        5xx, a timeout or a dropped connection is not, since Twilio may have accepted the
        text: the SmsError says `in_doubt`, and the caller asks `find_sent` first.
        """
        fields: dict[str, Any] = {"to": message.to, "body": message.body, **self._sender_field}
        if message.status_callback:
            fields["status_callback"] = message.status_callback
        what = f"the text {message.key} to {message.to}"
        try:
            created = self._call(what, lambda: self.client.messages.create(**fields), message.to)
            sid = str(created.sid)
        except SmsError as error:
            log.warning(
                "sms failed",
                extra={
                    "key": message.key,
                    "to": message.to,
                    "error": error.code,
                    "permanent": error.permanent,
                    "in_doubt": error.in_doubt,
                },
            )
            raise
        log.info("sms sent", extra={"key": message.key, "sid": sid, "to": message.to})
        return sid

    def find_sent(self, message: TextMessage, since: datetime) -> str | None:
        """The SID of a text to `message.to` with exactly this body, created since `since`.

        Twilio's date filters work on `date_sent`, which a text still queued does not have
        yet, and by whole days; so this reads the latest page to the number and compares
        `date_created` itself.
        """
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        what = f"the search for an earlier text {message.key} to {message.to}"
        try:
            found = self._call(
                what,
                lambda: self.client.messages.list(
                    to=message.to, limit=FIND_PAGE_SIZE, page_size=FIND_PAGE_SIZE
                ),
                message.to,
            )
        except SmsError as error:
            log.warning(
                "sms search failed",
                extra={"key": message.key, "to": message.to, "error": error.code},
            )
            # Not knowing whether it went out is exactly the doubt the caller asked about.
            raise SmsError(
                self.name,
                error.status,
                error.reason,
                error.message,
                permanent=False,
                in_doubt=True,
                retry_after=error.retry_after,
            ) from error
        for sent in found:
            created = sent.date_created
            if (
                sent.body == message.body
                and isinstance(created, datetime)
                and created >= since - CLOCK_SLACK
                and str(sent.status) not in _NEVER_LEFT_TWILIO
            ):
                log.info(
                    "sms had already gone out",
                    extra={"key": message.key, "sid": sent.sid, "to": message.to},
                )
                return str(sent.sid)
        return None

    # ------------------------------------------------------------------ probing

    def probe(self) -> list[Probe]:
        """Do the credentials open the account (and is it active)? And, when TWILIO_FROM is
        a phone number, is it an SMS-capable number of this account?
        """
        accounts = self.client.api.v2010.accounts
        try:
            account = self._call("GET Account", lambda: accounts(self.account_sid).fetch())
        except SmsError as error:
            return [Probe(self.name, "-", "credentials", False, error.message)]
        active = account.status == "active"
        detail = f'account "{account.friendly_name}" is {account.status}'
        if not active:
            detail += ": it cannot send; reactivate it in the Twilio Console"
        probes = [Probe(self.name, "-", "credentials", active, detail)]
        if not self.sender.startswith("MG"):  # a messaging service lives on another domain
            probes.append(self._probe_sender())
        return probes

    def _probe_sender(self) -> Probe:
        numbers = self.client.api.v2010.accounts(self.account_sid).incoming_phone_numbers
        try:
            found = self._call(
                "GET IncomingPhoneNumbers",
                lambda: numbers.list(phone_number=self.sender, limit=1),
            )
        except SmsError as error:
            return Probe(self.name, self.sender, "sender", False, error.message)
        if not found:
            return Probe(
                self.name,
                self.sender,
                "sender",
                False,
                f"TWILIO_FROM={self.sender} is not a phone number of this Twilio account: use "
                "one of its numbers in E.164 form, or a messaging service SID (MG…)",
            )
        capabilities = found[0].capabilities or {}
        if not capabilities.get("sms"):
            return Probe(
                self.name,
                self.sender,
                "sender",
                False,
                f"TWILIO_FROM={self.sender} cannot send SMS: use an SMS-capable number",
            )
        return Probe(self.name, self.sender, "sender", True, "SMS-capable number")

    # ------------------------------------------------------------------ the wire

    def _call(self, what: str, call: Callable[[], Any], to: str = "") -> Any:
        """One Twilio call, retrying 429s a bounded number of times (Twilio refused before
        doing anything); every failure comes out as an SmsError.
        """
        attempt = 1
        while True:
            try:
                return call()
            except _Refused as refused:
                wait = None
                if refused.rate_limited and attempt < self.max_attempts:
                    wait = retry_wait(refused.retry_after, attempt, backoff=TWILIO_BACKOFF_SECONDS)
                if wait is None:
                    raise self._refusal(what, refused, attempt, to) from refused
                log.warning(
                    "Twilio answered %s; retrying in %.1f s",
                    refused.status,
                    wait,
                    extra={"attempt": attempt, "call": what, "error": refused.code},
                )
            except requests.RequestException as exc:
                raise self._broken(what, exc) from exc
            except (TwilioException, ValueError) as exc:
                # A success status with a body that is not Twilio's JSON (a proxy's page):
                # whatever stood in the way may have passed the request on.
                raise SmsError(
                    self.name,
                    "unexpected",
                    type(exc).__name__,
                    f"Twilio's answer to {what} could not be read ({exc}); the text may or "
                    "may not have been accepted: check TWILIO_API_URL",
                    permanent=False,
                    in_doubt=True,
                ) from exc
            self._sleep(wait)
            attempt += 1

    def _refusal(self, what: str, refused: _Refused, attempts: int, to: str) -> SmsError:
        status, code, said = refused.status, refused.code, refused.said
        reason = str(code) if code is not None else _reason_for(status)
        if code in _PERMANENT:
            hint = _PERMANENT[code].format(to=to or "the number")
            return SmsError(self.name, status, reason, hint, permanent=True)
        if refused.rate_limited:
            asked = _seconds(refused.retry_after)
            later = f"in {asked:g} s" if asked is not None else "in a minute"
            hint = (
                f"Twilio kept rate-limiting {what} after {attempts} attempt(s) ({said}); "
                f"nothing was sent: try again {later}"
            )
            return SmsError(self.name, status, reason, hint, permanent=False, retry_after=asked)
        if status >= 500:
            hint = (
                f"Twilio answered HTTP {status} to {what} ({said}); it may or may not have "
                "accepted the text, so look for it before sending again (and see "
                "https://status.twilio.com)"
            )
            return SmsError(self.name, status, reason, hint, permanent=False, in_doubt=True)
        if status == 401 or code == _AUTHENTICATE:
            hint = (
                f"Twilio refused the credentials ({said}): set TWILIO_ACCOUNT_SID to the "
                "Account SID (AC…) and TWILIO_AUTH_TOKEN to its Auth Token from the Twilio "
                "Console, then restart"
            )
        elif code == _NOT_FOUND:
            hint = (
                f"Twilio found no account TWILIO_ACCOUNT_SID={self.account_sid} for these "
                f"credentials ({said}): check TWILIO_ACCOUNT_SID"
            )
        elif code in _BAD_FROM:
            hint = (
                f"Twilio refused the sender TWILIO_FROM={self.sender} ({said}): set it to an "
                "SMS-capable number of this account in E.164 form, or a messaging service "
                "SID (MG…)"
            )
        else:
            more = f"; see {refused.more_info}" if refused.more_info else ""
            hint = f"Twilio refused {what} (HTTP {status}, {said}){more}"
        return SmsError(self.name, status, reason, hint, permanent=False)

    def _broken(self, what: str, exc: requests.RequestException) -> SmsError:
        """A timeout or a failed connection. Only a connection never made proves that
        Twilio never saw the request; after that, an answer lost is a text in doubt.
        """
        cause = root_cause(exc)
        kind = type(cause).__name__
        if isinstance(exc, requests.ConnectTimeout) or isinstance(
            cause, ConnectionRefusedError | socket.gaierror
        ):
            return SmsError(
                self.name,
                "timeout" if isinstance(exc, requests.Timeout) else "network",
                type(exc).__name__ if isinstance(exc, requests.Timeout) else kind,
                f"Twilio could not be reached for {what} ({kind}); nothing was sent: check "
                "the network and TWILIO_API_URL, then try again",
                permanent=False,
            )
        if isinstance(exc, requests.Timeout):
            return SmsError(
                self.name,
                "timeout",
                type(exc).__name__,
                f"Twilio did not answer {what} within {self.timeout:g} s; it may or may not "
                "have accepted the text, so look for it before sending again",
                permanent=False,
                in_doubt=True,
            )
        return SmsError(
            self.name,
            "network",
            kind,
            f"The connection to Twilio broke during {what} ({kind}); it may or may not have "
            "accepted the text, so look for it before sending again",
            permanent=False,
            in_doubt=True,
        )


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None  # an edge proxy's HTML page


def _reason_for(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "unexpected_response"


def _seconds(retry_after: str | None) -> float | None:
    """The Retry-After header's seconds, when it gives them (not an HTTP date)."""
    try:
        asked = float(retry_after) if retry_after is not None else None
    except ValueError:
        return None
    return asked if asked is not None and math.isfinite(asked) and asked >= 0 else None
