"""AWS Lambda entry points (SPEC §13), for deploy/lambda/template.yaml:

* `http_handler(event, context)`: API Gateway HTTP API (payload 2.0) and Function URL
  events, served by the same FastAPI app as `frontdesk serve`, through Mangum. Slack
  listeners finish their work before the response (handlers/slack_runtime.py).
* `tick_handler(event, context)`: an EventBridge schedule; one tick of every job of
  `frontdesk worker` (reminders, SLA re-pings, outcome prompts, the weekly digest,
  recovery of unfinished requests, upkeep). Two ticks may overlap (a slow tick, an
  EventBridge retry): every job claims its work in the database first, as on two workers.
* `migrate_handler(event, context)`: `frontdesk db upgrade`, invoked once per deploy.

Each execution environment builds the app once, on its first invocation, and keeps it
(and one warm database connection) for the invocations after. Settings come from the
environment (or files, bot/settings_files.py); the template fills the environment from
Secrets Manager.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from bot.app import build_slack_app, create_app
from bot.aws_secrets import load_secrets
from bot.components import Components, build_components
from bot.config import ConfigError, load_config
from bot.domain.config import Config
from bot.logs import configure_logging
from bot.scheduler import Jobs
from bot.settings import Settings
from integrations.bundle import mixed_mode_problems

log = logging.getLogger("frontdesk.lambda")

# A tick stops taking new work this long before the function's timeout, so the item in
# progress finishes and nothing is left claimed by a killed invocation.
STOP_MARGIN_SECONDS = 10.0
# EventBridge's finest rate: the interval the jobs are told they run at.
TICK_SECONDS = 60.0
# Set by Lambda: "on-demand", "provisioned-concurrency" or "snap-start".
INITIALIZATION_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
PROVISIONED = "provisioned-concurrency"

NO_CONFIG = "FRONTDESK_CONFIG is not set: the Lambda functions need the path of the TOML config"
NO_WEBHOOK_SECRET = "FRONTDESK_WEBHOOK_SECRET is not set: the intake webhook always checks it"
SQLITE_ON_LAMBDA = (
    "DATABASE_URL is SQLite, which on Lambda lives in one instance's /tmp and is lost with "
    "it: use PostgreSQL (postgresql+psycopg://…)"
)


class LambdaStartError(RuntimeError):
    """Settings Frontdesk cannot run with on Lambda; the message says which."""


class LambdaRuntime:
    """The app of one execution environment: HTTP through Mangum, and the scheduler's jobs."""

    def __init__(self, components: Components) -> None:
        from mangum import Mangum

        self.components = components
        settings = components.settings
        slack_app = build_slack_app(components) if settings.slack_configured else None
        # Recovery is the tick's job here; Mangum's lifespan would run at every request.
        self.app = create_app(components, recover_on_start=False, slack_app=slack_app)
        self.adapter = Mangum(self.app, lifespan="off")
        modes = components.integrations.modes()
        log.info(
            "frontdesk starting on AWS Lambda",
            extra={
                "database": components.db.dialect,
                "services": modes,
                "sandbox": sorted(k for k, v in modes.items() if v == "sandbox"),
                "slack_work": "before the response" if settings.on_lambda else "after it",
            },
        )
        for problem in mixed_mode_problems(components.config, components.integrations):
            log.warning("real and sandboxed services do not add up", extra={"problem": problem})

    @classmethod
    def from_settings(cls, settings: Settings, config: Config) -> LambdaRuntime:
        if settings.frontdesk_webhook_secret is None:
            raise LambdaStartError(NO_WEBHOOK_SECRET)
        if settings.database_url.startswith("sqlite"):
            raise LambdaStartError(SQLITE_ON_LAMBDA)
        return cls(build_components(settings, config))

    @classmethod
    def from_environment(cls) -> LambdaRuntime:
        configure_logging(os.environ.get("FRONTDESK_LOG_LEVEL", "INFO"))
        load_secrets()
        settings = Settings()
        if not settings.frontdesk_config:
            raise LambdaStartError(NO_CONFIG)
        try:
            config = load_config(settings.frontdesk_config)
        except ConfigError as exc:
            raise LambdaStartError(f"invalid configuration\n{exc}") from None
        return cls.from_settings(settings, config)

    def http(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self.adapter(event, context)

    def tick(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """Every job once, in the order `frontdesk worker` plans them; a failing job is
        logged and the others still run (as on a worker).
        """
        jobs = Jobs(self.components, tick_seconds=TICK_SECONDS)
        counts: dict[str, dict[str, int]] = {}
        timer = _stop_before_timeout(jobs, context)
        try:
            for name, _interval, job in jobs.plan():
                jobs.run(name, functools.partial(_counted, counts, name, job))
        finally:
            if timer is not None:
                timer.cancel()
        return {
            "scheduled_at": event.get("time"),
            "completed": sorted(counts),
            "counts": {name: {k: v for k, v in c.items() if v} for name, c in counts.items()},
        }

    def close(self) -> None:
        self.components.db.dispose()


def _counted(
    counts: dict[str, dict[str, int]], name: str, job: Callable[[], Mapping[str, int]]
) -> Mapping[str, int]:
    result = dict(job())
    counts[name] = result
    return result


def _stop_before_timeout(jobs: Jobs, context: Any) -> threading.Timer | None:
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return None
    seconds = max(0.0, remaining_ms() / 1000 - STOP_MARGIN_SECONDS)
    timer = threading.Timer(seconds, jobs.stop)
    timer.daemon = True
    timer.start()
    return timer


_runtime: LambdaRuntime | None = None
_runtime_lock = threading.Lock()


def runtime() -> LambdaRuntime:
    """This environment's app, built on the first invocation from the environment."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = LambdaRuntime.from_environment()
        return _runtime


def reset() -> None:
    """Forget this environment's app (tests start each from a fresh environment)."""
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.close()
        _runtime = None


def http_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return runtime().http(event, context)


def tick_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return runtime().tick(event, context)


def build_at_init() -> bool:
    """Whether to build the app while the module is imported: in an environment Lambda
    starts ahead of traffic (provisioned concurrency), so that its first request is warm.
    On demand, the first invocation builds it (the same wait, with the error in that
    invocation's answer and log when the settings are wrong).
    """
    return os.environ.get(INITIALIZATION_TYPE) == PROVISIONED


def migrate_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """`frontdesk db upgrade` for deployments with no machine inside the VPC to run it."""
    from storage.migrate import upgrade

    configure_logging(os.environ.get("FRONTDESK_LOG_LEVEL", "INFO"))
    load_secrets()
    upgrade(Settings().database_url)
    log.info("database is at the latest schema")
    return {"status": "upgraded"}


if build_at_init():
    runtime()
