"""The application factory: the HTTP app (FastAPI) and the Slack app (Bolt) over one
process's components (`bot/components.py`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from slack_bolt import App
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from bot.components import Components
from bot.metrics import build_registry
from bot.services.home import HomeTab
from handlers import (
    booking_page,
    errors,
    health,
    landing,
    manage,
    metrics,
    oauth,
    sandbox,
    slack_events,
    sms_webhooks,
    webhooks,
)
from handlers.access_log import AccessLogMiddleware
from handlers.limits import BodyLimitMiddleware
from handlers.ops_auth import OpsAuthMiddleware
from handlers.slack_app import create_app as create_bolt_app
from handlers.slack_context import SlackServices
from integrations.bundle import mixed_mode_problems
from integrations.slack import build_slack_client

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

log = logging.getLogger("frontdesk")


def build_slack_app(components: Components, client: WebClient | None = None) -> App:
    """The Bolt app on the same WebClient the rest of Frontdesk posts with."""
    services = SlackServices(
        config=components.config,
        triage=components.triage,
        availability=components.availability_lookup,
        chat=components.integrations.chat,
        interactions=components.interactions,
        connections=components.connections,
        outcomes=components.outcomes,
        dashboard=components.dashboard,
        home=HomeTab(
            components.dashboard,
            components.escalations,
            components.requests,
            components.integrations.chat,
        ),
        booking_changes=components.booking_changes,
    )
    client = client or components.integrations.slack_client
    if client is None:
        client = build_slack_client(components.settings)
    secret = components.settings.slack_signing_secret
    return create_bolt_app(
        services,
        client,
        signing_secret=secret.get_secret_value() if secret else "",
        on_lambda=components.settings.on_lambda,
    )


def create_app(
    components: Components,
    *,
    recover_on_start: bool = True,
    slack_app: App | None = None,
    scheduler: Scheduler | None = None,
) -> FastAPI:
    """The HTTP app. With Slack credentials, /slack/events serves the Bolt app. A
    `scheduler` runs for as long as the app is served, and stops inside the server's own
    graceful shutdown (uvicorn handles SIGTERM; code after `uvicorn.run` may never run).
    """

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        modes = components.integrations.modes()
        log.info(
            "frontdesk starting",
            extra={
                "database": components.db.dialect,
                "services": modes,
                "sandbox": sorted(k for k, v in modes.items() if v == "sandbox"),
            },
        )
        for problem in mixed_mode_problems(components.config, components.integrations):
            log.warning("real and sandboxed services do not add up", extra={"problem": problem})
        if recover_on_start:
            recovered = await run_in_threadpool(components.processor.recover)
            if recovered:
                log.warning("finished requests left over by a crash", extra={"count": recovered})
        if scheduler is not None:
            scheduler.start()
        yield
        log.info("frontdesk stopping")
        if scheduler is not None:
            await run_in_threadpool(scheduler.shutdown)

    app = FastAPI(
        title="Frontdesk",
        version="0.1.0",
        summary="Human-in-the-loop appointment scheduling",
        lifespan=lifespan,
    )
    app.state.components = components
    if slack_app is None and components.settings.slack_configured:
        slack_app = build_slack_app(components)
    app.state.slack_app = slack_app
    # One registry for the app's life, as the worker's metrics server has; each scrape
    # still reads the database afresh through its collector.
    app.state.metrics_registry = build_registry(components.db)
    settings = components.settings
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.frontdesk_max_body_bytes,
        limits={
            "/slack/events": slack_events.MAX_SLACK_BODY_BYTES,
            "/webhooks/twilio/status": sms_webhooks.MAX_TWILIO_BODY_BYTES,
            "/webhooks/twilio/inbound": sms_webhooks.MAX_TWILIO_BODY_BYTES,
        },
        timeout_seconds=settings.frontdesk_body_timeout_seconds,
    )
    app.add_middleware(OpsAuthMiddleware, settings=settings)
    app.add_middleware(AccessLogMiddleware)
    errors.register(app)
    for module in (
        landing,
        health,
        metrics,
        webhooks,
        sandbox,
        oauth,
        slack_events,
        sms_webhooks,
        booking_page,
        manage,
    ):
        app.include_router(module.router)
    return app
