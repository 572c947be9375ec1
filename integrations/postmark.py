"""Email through Postmark: `PostmarkEmail`, the real `EmailSender`, which sends each
email (a confirmation, a reminder) once per dedupe key and translates Postmark's answers
into our errors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests
from postmarker.core import PostmarkClient

from integrations.base import Confirmation, IntegrationError, Probe
from integrations.credentials import PostmarkSettings
from integrations.retry import MAX_RETRY_AFTER_SECONDS, retry_wait, root_cause
from storage.models import OutboxMessage, OutboxStatus, utcnow
from storage.repositories import OutboxRepository

log = logging.getLogger("frontdesk.postmark")

POSTMARK_TIMEOUT_SECONDS = 10.0
POSTMARK_MAX_ATTEMPTS = 3
POSTMARK_BACKOFF_SECONDS = 0.5
CLAIM_POLL_SECONDS = 0.2

CONFIRMATION_TAG = "confirmation"
MESSAGE_STREAM = "outbound"

# Postmark's own error codes (https://postmarkapp.com/developer/api/overview#error-codes).
_BAD_TOKEN = 10
_SENDER_NOT_FOUND = 400
_SENDER_NOT_CONFIRMED = 401
_INACTIVE_RECIPIENT = 406


class _Refused(Exception):
    """Postmark answered, but not with success: what the translation into ours needs."""

    def __init__(self, response: requests.Response) -> None:
        try:
            data = response.json()
        except ValueError:
            data = None
        data = data if isinstance(data, dict) else {}
        super().__init__(f"HTTP {response.status_code}")
        self.status = response.status_code
        self.error_code = data.get("ErrorCode")
        self.message = str(data.get("Message") or "")
        self.retry_after = response.headers.get("Retry-After")


class _Client(PostmarkClient):  # type: ignore[misc]  # postmarker is untyped
    """postmarker's client, failing with the HTTP status and headers its ClientError drops
    (and with no KeyError when an error body is not Postmark's JSON).
    """

    def check_response(self, response: requests.Response) -> None:
        if not response.ok:
            raise _Refused(response)
        try:
            response.json()
        except ValueError:
            raise _Refused(response) from None


class PostmarkEmail:
    """The `EmailSender` on Postmark's HTTP API (POSTMARK_API_URL through postmarker's
    `root_api_url`, which keeps only the scheme and host: endpoints are absolute paths).
    """

    name = "postmark"

    def __init__(
        self,
        settings: PostmarkSettings,
        outbox: OutboxRepository,
        *,
        timeout: float = POSTMARK_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = POSTMARK_MAX_ATTEMPTS,
        claim_timeout: float | None = None,
    ) -> None:
        if settings.postmark_server_token is None or not settings.postmark_from:
            raise ValueError("PostmarkEmail needs POSTMARK_SERVER_TOKEN and POSTMARK_FROM")
        self.sender = settings.postmark_from
        self.outbox = outbox
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._sleep = sleep
        self.client = _Client(
            server_token=settings.postmark_server_token.get_secret_value(),
            root_api_url=settings.postmark_api_url,
            timeout=timeout,
        )
        # A claim older than the longest one send can take (a search and a send, each with
        # every retry) was left by a worker that died.
        one_call = max_attempts * timeout + (max_attempts - 1) * MAX_RETRY_AFTER_SECONDS
        self.claim_timeout = timedelta(
            seconds=claim_timeout if claim_timeout is not None else 2 * one_call
        )

    # ------------------------------------------------------------------ sending

    def send(self, message: Confirmation) -> str:
        """Send the email once per dedupe key; return Postmark's MessageID.

        The outbox row is claimed before Postmark is called, so of two replicas (or threads)
        sending the same confirmation only the one that created the row sends; the other
        waits for its outcome.
        """
        key = message.dedupe_key
        fields = self._fields(message)
        claim = self.outbox.record(
            key,
            "email",
            message.tag,
            _outbox_payload(fields),
            request_id=message.request_id,
            status=OutboxStatus.PENDING,
        )
        if claim.created:
            return self._deliver(claim.id, message, fields, check_first=False)
        return self._follow_up(key, message, fields)

    def _follow_up(self, key: str, message: Confirmation, fields: dict[str, Any]) -> str:
        """Someone claimed this confirmation before: reuse, wait for, or take over their send.

        * SENT: their MessageID, nothing is sent.
        * PENDING and fresh: another worker is sending right now; wait for its outcome, and
          when it fails, report its error rather than failing the same way a second time.
        * FAILED, or PENDING past the claim timeout (a crash mid-send): send again, since the
          client still has no confirmation; but a timeout or a crash may have hidden a send
          Postmark accepted, so first ask Postmark for a message tagged with this request id.
          The take-over is a compare-and-set: of several workers, one sends, the others wait.
        """
        waited = False
        while True:
            row = self._row(key)
            if row.status == OutboxStatus.SENT and row.result:
                return str(row.result["message_id"])
            if (
                row.status == OutboxStatus.PENDING
                and utcnow() - row.created_at < self.claim_timeout
            ):
                waited = True
                self._sleep(CLAIM_POLL_SECONDS)
                continue
            if waited and row.status == OutboxStatus.FAILED:
                raise _stored_error(row)
            assert row.id is not None
            if not self.outbox.take_over(row):
                waited = True  # another worker took it over first: wait for its outcome
                continue
            log.info(
                "resuming an earlier email send",
                extra={"request_id": message.request_id, "outbox_status": row.status},
            )
            return self._deliver(row.id, message, fields, check_first=True)

    def _deliver(
        self, row_id: int, message: Confirmation, fields: dict[str, Any], *, check_first: bool
    ) -> str:
        what = f"the {message.tag} email for {message.request_id}"
        try:
            found = self._already_sent(message) if check_first else None
            if found is not None:
                self.outbox.mark_sent(row_id, {"message_id": found, "found_by_search": True})
                log.info(
                    "email had already gone out",
                    extra={
                        "request_id": message.request_id,
                        "tag": message.tag,
                        "message_id": found,
                    },
                )
                return found
            answer = self._call(what, lambda: self.client.emails.send(**fields), idempotent=False)
            message_id = str(answer["MessageID"])
        except IntegrationError as error:
            self.outbox.mark_failed(row_id, f"{error.code} {error.message}")
            log.warning(
                "email failed",
                extra={"request_id": message.request_id, "tag": message.tag, "error": error.code},
            )
            raise
        except Exception as exc:
            # Unexpected, but the claim must not sit PENDING until it goes stale.
            failure = IntegrationError(self.name, "exception", type(exc).__name__, repr(exc))
            self.outbox.mark_failed(row_id, f"{failure.code} {failure.message}")
            raise
        self.outbox.mark_sent(
            row_id, {"message_id": message_id, "submitted_at": answer.get("SubmittedAt")}
        )
        log.info(
            "email sent",
            extra={
                "request_id": message.request_id,
                "tag": message.tag,
                "message_id": message_id,
                "to": message.to,
            },
        )
        return message_id

    def _already_sent(self, message: Confirmation) -> str | None:
        """The MessageID of this email if Postmark accepted it before, else None."""
        answer = self._call(
            f"the search for an earlier {message.tag} email for {message.request_id}",
            lambda: self.client.call(
                "GET",
                "/messages/outbound",
                count=1,
                offset=0,
                tag=message.tag,
                **{f"metadata_{name}": value for name, value in _metadata(message).items()},
            ),
        )
        messages = answer.get("Messages") or []
        return str(messages[0]["MessageID"]) if messages else None

    def _fields(self, message: Confirmation) -> dict[str, Any]:
        return {
            "From": self.sender,
            "To": message.to,
            "Subject": message.subject,
            "TextBody": message.text_body,
            "HtmlBody": message.html_body,
            "Attachments": [dict(attachment) for attachment in message.attachments],
            "Tag": message.tag,
            "Metadata": _metadata(message),
            "MessageStream": MESSAGE_STREAM,
        }

    def _row(self, key: str) -> OutboxMessage:
        row = self.outbox.get(key)
        if row is None:  # rows are never deleted; a missing one is a broken database
            raise LookupError(f"outbox row {key} vanished after it was claimed")
        return row

    # ------------------------------------------------------------------ probing

    def probe(self) -> list[Probe]:
        """One row: does Postmark accept the server token (GET /server)?"""
        try:
            server = self._call("GET /server", lambda: self.client.server.get())
        except IntegrationError as error:
            return [Probe(self.name, "-", "token", False, error.message)]
        return [Probe(self.name, "-", "token", True, f'server "{getattr(server, "Name", "?")}"')]

    # ------------------------------------------------------------------ the wire

    def _call(self, what: str, call: Callable[[], Any], *, idempotent: bool = True) -> Any:
        """One Postmark call, retrying 429 (and 5xx when `idempotent`) a bounded number of
        times; every failure comes out as an IntegrationError.

        A send is not idempotent: after a 5xx, a timeout or a dropped connection Postmark
        may have accepted the email, so it is not retried here; the next attempt searches
        before sending.
        """
        attempt = 1
        while True:
            try:
                return call()
            except _Refused as refused:
                wait = self._retry_wait(refused, attempt, idempotent)
                if wait is None:
                    raise self._api_error(what, refused, attempt) from refused
                log.warning(
                    "Postmark answered %s; retrying in %.1f s",
                    refused.status,
                    wait,
                    extra={"attempt": attempt, "call": what},
                )
            except requests.Timeout as exc:
                kind = type(exc).__name__
                raise IntegrationError(
                    self.name,
                    "timeout",
                    kind,
                    f"Postmark did not answer {what} within {self.timeout:g} s ({kind}); the "
                    "email may or may not have gone out, and a retry checks before sending",
                ) from exc
            except requests.RequestException as exc:
                kind = type(root_cause(exc)).__name__
                raise IntegrationError(
                    self.name,
                    "network",
                    kind,
                    f"Postmark could not be reached for {what} ({kind}); check the network "
                    "and POSTMARK_API_URL, then try again",
                ) from exc
            self._sleep(wait)
            attempt += 1

    def _retry_wait(self, refused: _Refused, attempt: int, idempotent: bool) -> float | None:
        """Seconds to wait before trying again, or None when this answer is final."""
        retryable = refused.status == 429 or (idempotent and refused.status >= 500)
        if not retryable or attempt >= self.max_attempts:
            return None
        return retry_wait(refused.retry_after, attempt, backoff=POSTMARK_BACKOFF_SECONDS)

    def _api_error(self, what: str, refused: _Refused, attempts: int) -> IntegrationError:
        status, code = refused.status, refused.error_code
        if code is not None:
            reason = str(code)
        elif status == 429:
            reason = "rate_limited"
        elif status >= 500:
            reason = "server_error"
        else:
            reason = "unexpected_response"
        said = f"[{code}] {refused.message}" if refused.message else f"HTTP {status}"
        if status == 401 or code == _BAD_TOKEN:
            hint = (
                f"Postmark refused the server token ({said}): set POSTMARK_SERVER_TOKEN to the "
                "Server API token of your Postmark server (Servers → API Tokens) and restart"
            )
        elif code == _INACTIVE_RECIPIENT:
            hint = (
                f"Postmark will not send {what}: the recipient is marked inactive after a hard "
                f"bounce, spam complaint or manual suppression ({said}); confirm with the "
                "client another way, or reactivate the address under Suppressions in Postmark"
            )
        elif code in (_SENDER_NOT_FOUND, _SENDER_NOT_CONFIRMED):
            hint = (
                f"Postmark refused the sender POSTMARK_FROM={self.sender} ({said}): use an "
                "address with a confirmed sender signature or on a verified domain"
            )
        elif status == 429:
            hint = (
                f"Postmark kept rate-limiting {what} after {attempts} attempt(s) ({said}); "
                "try again in a minute"
            )
        elif status >= 500:
            hint = (
                f"Postmark answered HTTP {status} to {what} after {attempts} attempt(s) "
                f"({said}); check https://status.postmarkapp.com and try again"
            )
        else:
            hint = f"Postmark refused {what} (HTTP {status}, {said})"
        return IntegrationError(self.name, status, reason, hint)


def _metadata(message: Confirmation) -> dict[str, str]:
    """What Postmark keeps with the email, and what a search for it filters on."""
    metadata = {"request_id": message.request_id}
    if message.message_key:
        metadata["message_key"] = message.message_key
    return metadata


def _outbox_payload(fields: dict[str, Any]) -> dict[str, Any]:
    """What the outbox keeps of an email: everything but the attachments' bytes."""
    payload = {name: value for name, value in fields.items() if name != "Attachments"}
    payload["Attachments"] = [
        {"Name": a.get("Name"), "ContentType": a.get("ContentType")} for a in fields["Attachments"]
    ]
    return payload


def _stored_error(row: OutboxMessage) -> IntegrationError:
    """The IntegrationError another worker recorded as `"<code> <message>"` (see _deliver)."""
    text = row.last_error or ""
    code, _, message = text.partition(" ")
    parts = code.split(":", 3)
    if len(parts) == 4 and parts[0] == "api_error":
        _, provider, status, reason = parts
        return IntegrationError(
            provider, int(status) if status.isdigit() else status, reason, message
        )
    return IntegrationError("postmark", "failed", "unknown", text or "the send failed")
