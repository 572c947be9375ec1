"""The Bolt app: built by a factory, one `register` per surface, every listener handed its
services and the interaction's details by the middleware of `handlers/slack_context.py`.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from handlers import actions, commands, home, manage_slack, outcomes, views
from handlers.slack_context import SlackServices, context_middleware, report_error
from handlers.slack_runtime import listener_executor, use_lambda_lazy_listeners

LAZY_WORKERS = 3


def create_app(
    services: SlackServices, client: WebClient, *, signing_secret: str, on_lambda: bool = False
) -> App:
    """The Bolt app for /slack/events, posting through `client` (tests point it at a fake
    Slack).
    """
    if not signing_secret:
        raise ValueError("SLACK_SIGNING_SECRET is required for the Slack app")
    bolt_log = logging.getLogger("frontdesk.bolt")
    if not any(isinstance(f, _ExpectedClientWarning) for f in bolt_log.filters):
        bolt_log.addFilter(_ExpectedClientWarning())
    app = App(
        client=client,
        signing_secret=signing_secret,
        # auth.test at build time would tie start-up to Slack being reachable; Bolt asks
        # it once, on the first request, instead.
        token_verification_enabled=False,
        # The response goes once the listener returns: every listener acks first and
        # hands slow work to `defer`, so this is well inside Slack's 3 s, and what the ack
        # listener stored (a Resolve's close) is in the database before any later work.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
        logger=bolt_log,
        # Work after the ack shares the process's CPU with the acks Slack is timing: a few
        # threads keep a burst of clicks from starving the acks (the work just queues).
        # On AWS Lambda it runs before the response instead (handlers/slack_runtime.py).
        listener_executor=listener_executor(on_lambda, LAZY_WORKERS),
    )
    if on_lambda:
        use_lambda_lazy_listeners(app, bolt_log, signing_secret)
    app.use(context_middleware(app, services))
    app.error(report_error(services.chat))
    for module in (actions, views, commands, home, outcomes, manage_slack):
        module.register(app)
    return app


class _ExpectedClientWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused whenever a client is passed, which is how
    every Frontdesk app is built (the client carries the token and our retry handlers).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()
