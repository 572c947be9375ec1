"""The Bolt app: built by a factory, one `register` per surface, work after the ack wrapped
by `once` (a Slack retry never acts twice; failures become ephemeral replies).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from bot.availability_lookup import AvailabilityLookup
from bot.config import Config
from bot.dashboard import Dashboard
from bot.outcomes import OutcomePrompter
from bot.settings import Settings
from bot.triage import Triage, TriageError
from handlers.slack_runtime import listener_executor, use_lambda_lazy_listeners
from integrations.base import Chat, IntegrationError
from integrations.slack import build_slack_client
from storage.repositories import ConnectionRepository, InteractionRepository

log = logging.getLogger("frontdesk.slack.app")

LAZY_WORKERS = 3

SOMETHING_WENT_WRONG = (
    "Sorry, that did not work: {error}. Try again; if it keeps failing, tell whoever runs "
    "Frontdesk (request `{request_id}`)."
)


@dataclass(frozen=True)
class SlackServices:
    """What the listeners need; handed to each module's `register`."""

    config: Config
    triage: Triage
    availability: AvailabilityLookup
    chat: Chat
    interactions: InteractionRepository
    connections: ConnectionRepository
    outcomes: OutcomePrompter
    dashboard: Dashboard


def create_app(settings: Settings, services: SlackServices, client: WebClient | None = None) -> App:
    """The Bolt app for /slack/events. `client` lets tests point it at a fake Slack."""
    from handlers import actions, commands, home, outcomes, views

    if not settings.slack_signing_secret:
        raise ValueError("SLACK_SIGNING_SECRET is required for the Slack app")
    bolt_log = logging.getLogger("frontdesk.bolt")
    if not any(isinstance(f, _ExpectedClientWarning) for f in bolt_log.filters):
        bolt_log.addFilter(_ExpectedClientWarning())
    app = App(
        client=client or build_slack_client(settings),
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        # auth.test at build time would tie start-up to Slack being reachable; Bolt asks
        # it once, on the first request, instead.
        token_verification_enabled=False,
        # The ack listener runs to its end before the lazy ones start (Bolt otherwise runs
        # them side by side): the Resolve submission's close must be in the database before
        # the redraw that reads it. Every ack listener is quick, so answering after it is
        # still well inside Slack's 3 s.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
        logger=bolt_log,
        # Work after the ack shares the process's CPU with the acks Slack is timing: a few
        # threads keep a burst of clicks from starving the acks (the work just queues).
        # On AWS Lambda it runs before the response instead (handlers/slack_runtime.py).
        listener_executor=listener_executor(settings.on_lambda, LAZY_WORKERS),
    )
    if settings.on_lambda:
        use_lambda_lazy_listeners(app, bolt_log, settings.slack_signing_secret.get_secret_value())
    app.error(_report_error(services.chat))
    for module in (actions, views, commands, home, outcomes):
        module.register(app, services)
    return app


class _ExpectedClientWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused whenever a client is passed, which is how
    every Frontdesk app is built (the client carries the token and our retry handlers).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def interaction_key(body: dict[str, Any]) -> tuple[str, str] | None:
    """What identifies one interaction across Slack's retries: (key, kind), or None."""
    kind = body.get("type")
    if kind == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}", "event"
    user = (body.get("user") or {}).get("id") or body.get("user_id") or ""
    if kind == "block_actions":
        action = (body.get("actions") or [{}])[0]
        target = action.get("value") or action.get("block_id") or ""
        return f"action:{action.get('action_ts')}:{user}:{action.get('action_id')}:{target}", kind
    if kind == "view_submission":
        # Not the view's hash: it stays the same when a submission is answered with field
        # errors, and the corrected resubmission must not pass for a retry. Each submission
        # has its own trigger.
        view = body.get("view") or {}
        return f"view:{view.get('id')}:{body.get('trigger_id')}:{user}", kind
    if body.get("command") and body.get("trigger_id"):
        return f"command:{body['trigger_id']}", "command"
    return None


def _first_delivery(interactions: InteractionRepository, body: dict[str, Any]) -> bool:
    """False for a delivery already taken on (a Slack retry, `X-Slack-Retry-Num`); one that
    never arrived the first time counts as a first delivery.
    """
    found = interaction_key(body)
    if found is None:
        return True
    key, kind = found
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    if interactions.first_delivery(key, kind, user):
        return True
    log.info("Slack redelivered an interaction already taken on", extra={"key": key})
    return False


def _report_error(chat: Chat) -> Callable[..., None]:
    def handler(error: Exception, body: dict[str, Any]) -> None:
        tell_user(chat, body, error)

    return handler


def tell_user(chat: Chat, body: dict[str, Any], error: Exception) -> None:
    """Show a person why their click did nothing: an ephemeral message where they clicked."""
    user = (body.get("user") or {}).get("id") or body.get("user_id")
    channel = (body.get("channel") or {}).get("id") or body.get("channel_id")
    request_id = request_id_of(body) or "-"
    if isinstance(error, TriageError):
        text = str(error)
        log.info("refused a Slack action", extra={"user": user, "reason": text})
    elif isinstance(error, IntegrationError):
        text = SOMETHING_WENT_WRONG.format(error=error.message, request_id=request_id)
        log.error("a Slack action failed", extra={"user": user, "error": error.message})
    else:
        text = SOMETHING_WENT_WRONG.format(error=type(error).__name__, request_id=request_id)
        log.error("a Slack action crashed", exc_info=error, extra={"user": user})
    try:
        if body.get("command") and body.get("response_url"):
            # A slash command may come from a channel the bot is not in: answer through the
            # command's own response_url, which works anywhere.
            WebhookClient(body["response_url"], timeout=10).send(
                text=text, response_type="ephemeral"
            )
        elif user and channel:
            chat.post_ephemeral(channel, user, text)
    except Exception as exc:  # the refusal itself could not be shown; the log has it
        log.warning("could not show an ephemeral reply", extra={"error": repr(exc)})


def request_id_of(body: dict[str, Any]) -> str | None:
    action = (body.get("actions") or [{}])[0]
    value = action.get("value")
    if value:
        return str(value)
    block_id = str(action.get("block_id") or "")
    _, _, request_id = block_id.partition(":")
    return request_id or None


def once(services: SlackServices) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Wrap a lazy listener: a redelivered interaction does nothing, and failures become an
    ephemeral reply and a log line.
    """

    def decorate(work: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(work)
        def wrapper(**kwargs: Any) -> None:
            body = kwargs.get("body") or {}
            try:
                if _first_delivery(services.interactions, body):
                    work(**kwargs)
            except Exception as exc:
                tell_user(services.chat, body, exc)

        return wrapper

    return decorate
