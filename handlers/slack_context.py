"""What every Slack listener gets, by parameter name, from one Bolt middleware: the
`services`, the `request_id` an action names, a modal's values flattened (`form`, `modal`),
and `defer` for the quick work after the ack, or before it with `defer.at_once` (a Slack
retry never acts twice; failures become ephemeral replies). Slow work (a calendar read) is
a Bolt lazy listener instead, so that on AWS Lambda it runs in another invocation
(handlers/slack_runtime.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from slack_bolt import App, BoltContext
from slack_sdk.webhook import WebhookClient

from bot.domain.config import Config
from bot.messages.modals import ModalContext
from bot.reports.dashboard import Dashboard
from bot.services.availability_lookup import AvailabilityLookup
from bot.services.booking_changes import BookingChanges
from bot.services.home import HomeTab
from bot.services.outcomes import OutcomePrompter
from bot.services.triage import Triage, TriageError
from integrations.base import Chat, IntegrationError
from storage.repositories import ConnectionRepository, InteractionRepository

log = logging.getLogger("frontdesk.slack.app")

SOMETHING_WENT_WRONG = (
    "Sorry, that did not work: {error}. Try again; if it keeps failing, tell whoever runs "
    "Frontdesk (request `{request_id}`)."
)


@dataclass(frozen=True)
class SlackServices:
    """The services the listeners call, handed to each as `services`."""

    config: Config
    triage: Triage
    availability: AvailabilityLookup
    chat: Chat
    interactions: InteractionRepository
    connections: ConnectionRepository
    outcomes: OutcomePrompter
    dashboard: Dashboard
    home: HomeTab
    booking_changes: BookingChanges

    def __deepcopy__(self, memo: dict[int, Any]) -> SlackServices:
        # Bolt deep-copies a lazy listener's context: the services are shared, not copied.
        return self


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


def first_delivery(interactions: InteractionRepository, body: dict[str, Any]) -> bool:
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
    """The request an action is about: the button's value, or the block id's suffix."""
    action = (body.get("actions") or [{}])[0]
    value = action.get("value")
    if value:
        return str(value)
    block_id = str(action.get("block_id") or "")
    _, _, request_id = block_id.partition(":")
    return request_id or None


def form_values(view: dict[str, Any]) -> dict[str, str | None]:
    """A modal's `state.values` flattened to action id -> what was typed or picked."""
    values: dict[str, str | None] = {}
    for block in ((view.get("state") or {}).get("values") or {}).values():
        for action_id, element in block.items():
            option = element.get("selected_option")
            if option:
                values[action_id] = str(option["value"])
            elif element.get("selected_user"):
                values[action_id] = str(element["selected_user"])
            else:
                text = element.get("value")
                values[action_id] = str(text).strip() or None if text else None
    return values


def modal_context(view: dict[str, Any]) -> ModalContext | None:
    """The request a modal is about, from its private metadata."""
    metadata = view.get("private_metadata")
    if not metadata:
        return None
    try:
        return ModalContext.model_validate_json(metadata)
    except ValidationError:
        return None


class Defer:
    """Work after the ack, on the Bolt app's listener threads (looked up at each use: a
    test may swap the executor after the app is built).
    """

    def __init__(self, app: App, services: SlackServices) -> None:
        self.app = app
        self.services = services

    @property
    def executor(self) -> Executor:
        return self.app.listener_runner.listener_executor

    def __call__(self, body: dict[str, Any], work: Callable[[], object]) -> None:
        """Run `work` once per interaction: a Slack retry does nothing, and a failure is
        told to the person who clicked (and logged).
        """
        self.executor.submit(self.once, body, work)

    def submit(self, work: Callable[..., object], *args: Any) -> None:
        """Run `work(*args)` after the ack, with no retry check (it must be harmless)."""
        self.executor.submit(work, *args)

    def __deepcopy__(self, memo: dict[int, Any]) -> Defer:
        return self  # shared with lazy listeners, like the services

    def once(self, body: dict[str, Any], work: Callable[[], object]) -> None:
        try:
            if first_delivery(self.services.interactions, body):
                work()
        except Exception as exc:
            tell_user(self.services.chat, body, exc)

    def at_once(self, body: dict[str, Any], work: Callable[[], object]) -> None:
        """`once`, but `work` runs now, before Slack is answered: for quick work whose
        result the answer must not run ahead of (a claim's compare-and-set). The refusal,
        a Slack call, is still told after the answer.
        """
        try:
            if first_delivery(self.services.interactions, body):
                work()
        except Exception as exc:
            self.submit(tell_user, self.services.chat, body, exc)


def context_middleware(
    app: App, services: SlackServices
) -> Callable[[BoltContext, dict[str, Any], Callable[[], None]], None]:
    """The global middleware that puts every listener's parameters into Bolt's context."""
    defer = Defer(app, services)

    def inject(context: BoltContext, body: dict[str, Any], next: Callable[[], None]) -> None:
        view = body.get("view") or {}
        context["services"] = services
        context["defer"] = defer
        context["request_id"] = request_id_of(body)
        context["form"] = form_values(view)
        context["modal"] = modal_context(view)
        next()

    return inject


def report_error(chat: Chat) -> Callable[[Exception, dict[str, Any]], None]:
    """Bolt's error handler: whatever escaped a listener is told to the person."""

    def handler(error: Exception, body: dict[str, Any]) -> None:
        tell_user(chat, body, error)

    return handler
