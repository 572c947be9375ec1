"""Slack through its Web API: `SlackChat`, the real `Chat`, and the one place that owns the
client's retries, per-channel pacing and the translation of Slack's errors into ours.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from http.client import HTTPException
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryIntervalCalculator,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from integrations.base import IN_PROGRESS, IntegrationError, PostedMessage, Probe, SlackProfile
from integrations.credentials import SlackSettings
from storage.models import OutboxStatus, utcnow
from storage.repositories import OutboxRepository

log = logging.getLogger("frontdesk.slack")

SLACK_TIMEOUT_SECONDS = 10
SLACK_MAX_RETRIES = 2
# Slack allows about one chat.postMessage per second per channel.
SLACK_POST_INTERVAL_SECONDS = 1.0
# A PENDING claim older than this was left by a crash (a post takes seconds at most).
STALE_CLAIM = timedelta(minutes=2)

_TOKEN_ERRORS = {
    "not_authed",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "token_expired",
    "no_permission",
}
_SLUG = re.compile(r"^[a-z0-9_.]{1,64}$")


def build_slack_client(
    settings: SlackSettings,
    *,
    timeout: int = SLACK_TIMEOUT_SECONDS,
    max_retries: int = SLACK_MAX_RETRIES,
    retry_interval: RetryIntervalCalculator | None = None,
) -> WebClient:
    """A WebClient on SLACK_API_URL that retries 429s (after their Retry-After), 500/503
    and dropped connections a bounded number of times; WebClient alone retries only the last.
    """
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    interval = retry_interval or BackoffRetryIntervalCalculator(backoff_factor=0.5)
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=timeout,
        logger=logging.getLogger("frontdesk.slack.sdk"),
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=max_retries),
            ServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
            ConnectionErrorRetryHandler(max_retry_count=max_retries, interval_calculator=interval),
        ],
    )


class ChannelPacer:
    """Spaces calls per channel so a burst waits its turn here instead of earning 429s.

    Each caller reserves the next free slot under the lock and sleeps outside it, so one
    busy channel never delays another. Per process only: across replicas, the 429 retry
    handler is what keeps us within the limit.
    """

    _PRUNE_AT = 1000  # channels remembered before stale entries are dropped

    def __init__(
        self,
        interval: float = SLACK_POST_INTERVAL_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next_free: dict[str, float] = {}
        self._lock = threading.Lock()

    def backlog(self, channel: str) -> float:
        """Seconds a post to `channel` would wait now for its turn."""
        with self._lock:
            return max(0.0, self._next_free.get(channel, 0.0) - self._clock())

    def reserve(self, channel: str) -> float:
        """Take the channel's next free turn; seconds until it comes."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_free.get(channel, now))
            self._next_free[channel] = slot + self.interval
            if len(self._next_free) > self._PRUNE_AT:
                self._next_free = {c: t for c, t in self._next_free.items() if t > now}
        return slot - now

    def wait(self, channel: str) -> None:
        delay = self.reserve(channel)
        if delay > 0:
            self._sleep(delay)


class SlackChat:
    """The `Chat` interface on the real Slack Web API."""

    name = "slack"

    def __init__(
        self,
        client: WebClient,
        outbox: OutboxRepository,
        *,
        post_interval: float = SLACK_POST_INTERVAL_SECONDS,
    ) -> None:
        self.client = client
        # Posting retries only 429s (Slack did nothing): after a 5xx or a dropped connection
        # the message may be up already, and the outbox's FAILED row decides the next try.
        self.post_client = WebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            logger=client.logger,
            retry_handlers=[
                handler
                for handler in client.retry_handlers
                if isinstance(handler, RateLimitErrorRetryHandler)
            ],
        )
        self.outbox = outbox
        self.pacer = ChannelPacer(post_interval)

    def post_message(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]],
        *,
        dedupe_key: str,
        request_id: str | None = None,
        thread_ts: str | None = None,
    ) -> PostedMessage:
        """Post once per dedupe key: a key already sent returns the stored message.

        The key is claimed in the outbox (PENDING) before Slack is called, so two replicas
        posting the same key never both post; a failure is kept there (FAILED, with the
        error) for /sandbox.json and the redelivery job. A claim left PENDING by a crash is
        taken over once stale: a crash between Slack's answer and our record may post twice,
        which beats never posting.
        """
        payload: dict[str, Any] = {"channel": channel, "text": text, "blocks": blocks}
        if thread_ts:
            payload["thread_ts"] = thread_ts
        claim = self.outbox.record(
            dedupe_key,
            "slack",
            "chat.postMessage",
            payload,
            request_id=request_id,
            status=OutboxStatus.PENDING,
        )
        if not claim.created:
            existing = self.outbox.get(dedupe_key)
            if existing is not None and existing.status == OutboxStatus.SENT and existing.result:
                return PostedMessage(existing.result["channel"], existing.result["ts"])
            fresh = (
                existing is not None
                and existing.status == OutboxStatus.PENDING
                and utcnow() - existing.created_at < STALE_CLAIM
            )
            if existing is None or fresh or not self.outbox.take_over(existing):
                raise IntegrationError(
                    "slack",
                    IN_PROGRESS,
                    "claimed",
                    f"another worker is posting {dedupe_key} right now",
                )
        self.pacer.wait(channel)
        try:
            response = self._call(
                "chat.postMessage",
                channel,
                lambda: self.post_client.chat_postMessage(
                    channel=channel, text=text, blocks=blocks, thread_ts=thread_ts
                ),
            )
        except IntegrationError as exc:
            self.outbox.mark_failed(claim.id, f"{exc.code}: {exc.message}")
            raise
        posted = PostedMessage(str(response["channel"]), str(response["ts"]))
        self.outbox.mark_sent(claim.id, {"channel": posted.channel, "ts": posted.ts})
        log.info(
            "posted to Slack",
            extra={"dedupe_key": dedupe_key, "channel": posted.channel, "ts": posted.ts},
        )
        return posted

    def backlog_seconds(self, channel: str) -> float:
        return self.pacer.backlog(channel)

    def open_dm(self, user_id: str) -> str:
        response = self._call(
            "conversations.open", user_id, lambda: self.client.conversations_open(users=user_id)
        )
        return str(response["channel"]["id"])

    def user_id_for_email(self, email: str) -> str | None:
        try:
            response = self._call(
                "users.lookupByEmail", email, lambda: self.client.users_lookupByEmail(email=email)
            )
        except IntegrationError as error:
            if error.reason == "users_not_found":
                return None
            raise
        return str(response["user"]["id"])

    def update_message(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        self._call(
            "chat.update",
            channel,
            lambda: self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks),
        )

    def post_ephemeral(self, channel: str, user_id: str, text: str) -> None:
        self._call(
            "chat.postEphemeral",
            channel,
            lambda: self.client.chat_postEphemeral(channel=channel, user=user_id, text=text),
        )

    def permalink(self, channel: str, ts: str) -> str | None:
        response = self._call(
            "chat.getPermalink",
            channel,
            lambda: self.client.chat_getPermalink(channel=channel, message_ts=ts),
        )
        link = response.get("permalink")
        return str(link) if link else None

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> str:
        response = self._call(
            "views.open",
            trigger_id,
            lambda: self.client.views_open(trigger_id=trigger_id, view=view),
        )
        return str(response["view"]["id"])

    def update_view(self, view_id: str, view: dict[str, Any]) -> None:
        self._call(
            "views.update", view_id, lambda: self.client.views_update(view_id=view_id, view=view)
        )

    def user_profile(self, user_id: str) -> SlackProfile:
        response = self._call("users.info", user_id, lambda: self.client.users_info(user=user_id))
        user = response["user"]
        email = (user.get("profile") or {}).get("email")
        return SlackProfile(timezone=user.get("tz") or None, email=email or None)

    def usergroup_members(self, usergroup_id: str) -> frozenset[str]:
        response = self._call(
            "usergroups.users.list",
            usergroup_id,
            lambda: self.client.usergroups_users_list(usergroup=usergroup_id),
        )
        return frozenset(str(user) for user in response.get("users", []))

    def probe(self, usergroup: str | None = None) -> list[Probe]:
        """`frontdesk check`: the token works (auth.test), and the ops group can be read."""
        try:
            who = self._call("auth.test", "-", self.client.auth_test)
        except IntegrationError as exc:
            return [Probe("slack", "-", "token", False, exc.message)]
        rows = [Probe("slack", "-", "token", True, f"bot {who.get('user')} in {who.get('team')}")]
        if usergroup:
            try:
                members = self.usergroup_members(usergroup)
            except IntegrationError as exc:
                rows.append(Probe("slack", usergroup, "usergroup", False, exc.message))
            else:
                rows.append(Probe("slack", usergroup, "usergroup", True, f"{len(members)} members"))
        return rows

    def _call(self, method: str, target: str, call: Callable[[], Any]) -> Any:
        """Run one Web API call, translating every failure into an IntegrationError."""
        try:
            return call()
        except SlackApiError as exc:
            raise _api_error(method, target, exc) from exc
        except (OSError, HTTPException) as exc:  # refused, reset, DNS, timeout, garbled reply
            # urllib wraps the interesting error (ConnectionRefusedError…) in a URLError.
            cause = exc.reason if isinstance(exc, URLError) else exc
            kind = type(cause).__name__ if isinstance(cause, BaseException) else type(exc).__name__
            raise IntegrationError(
                "slack",
                "network",
                kind,
                f"Slack could not be reached for {method} ({kind}: {cause}); check the "
                "network and SLACK_API_URL, then try again",
            ) from exc


def _api_error(method: str, target: str, exc: SlackApiError) -> IntegrationError:
    status = exc.response.status_code
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    error = str(data.get("error", ""))
    if not _SLUG.match(error):  # an HTML error page, not a Slack error code
        error = "unexpected_response"
    if error in _TOKEN_ERRORS:
        hint = (
            f"Slack refused the bot token ({error}): set SLACK_BOT_TOKEN to the app's Bot User "
            "OAuth Token (xoxb-…) and restart"
        )
    elif error == "missing_scope":
        hint = (
            f"the Slack app lacks the scope {data.get('needed', '?')} for {method}: add it under "
            "OAuth & Permissions, reinstall the app and update SLACK_BOT_TOKEN"
        )
    elif error == "channel_not_found":
        hint = (
            f"Slack has no channel {target} the bot can see: check slack.escalation_channel "
            "in the config, and invite the bot to a private channel with /invite"
        )
    elif error == "not_in_channel":
        hint = f"the bot is not a member of {target}: invite it with /invite"
    elif error == "is_archived":
        hint = f"channel {target} is archived: unarchive it or configure another channel"
    elif status == 429:
        hint = f"Slack kept rate-limiting {method} after retries; try again in a minute"
    elif status >= 500:
        hint = (
            f"Slack answered HTTP {status} to {method} after retries; check "
            "https://status.slack.com and try again"
        )
    else:
        hint = f"Slack refused {method} for {target}: {error}"
    return IntegrationError("slack", status, error, hint, retry_after=_retry_after(exc))


def _retry_after(exc: SlackApiError) -> float | None:
    """A 429's Retry-After, in seconds (what the retry handler waited out already)."""
    headers = exc.response.headers or {}
    value = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
