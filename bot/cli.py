"""The `frontdesk` command line (SPEC §1)."""

from __future__ import annotations

import json
import logging
import secrets
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from bot.config import Config, ConfigError, SlackConfig, load_config
from bot.logs import configure_logging
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.app import Components

log = logging.getLogger("frontdesk")

CONFIG_HELP = "TOML config file (default: $FRONTDESK_CONFIG)."
DEFAULT_SLA_MINUTES: int = SlackConfig.model_fields["sla_minutes"].default
NO_CONFIG_NOTE = (
    "no config given (--config or FRONTDESK_CONFIG): days and weeks are UTC, "
    f"and the SLA is {DEFAULT_SLA_MINUTES} minutes"
)


def _settings() -> Settings:
    return Settings()


def _config(settings: Settings, path: str | None) -> Config:
    chosen = path or settings.frontdesk_config
    if not chosen:
        raise click.UsageError("no config file: pass --config PATH or set FRONTDESK_CONFIG")
    try:
        return load_config(chosen)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration\n{exc}") from None


def _components(settings: Settings, config: Config) -> Components:
    """What `serve` and `worker` run on; SQLite is migrated here (one node, no deploy step)."""
    from bot.app import build_components
    from bot.services import UnavailableIntegrationError
    from storage.migrate import upgrade

    if settings.database_url.startswith("sqlite"):
        upgrade(settings.database_url)
    try:
        return build_components(settings, config)
    except UnavailableIntegrationError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Frontdesk: human-in-the-loop appointment scheduling for Slack."""


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Leave background jobs to `frontdesk worker`.")
def serve(config_path: str | None, host: str, port: int, no_scheduler: bool) -> None:
    """Serve the HTTP API (webhooks, Slack, sandbox) and, unless told not to, the jobs."""
    import uvicorn

    from bot.app import create_app
    from bot.scheduler import build_scheduler
    from bot.services import UnavailableIntegrationError, refuse_mixed_mode
    from bot.serving import uvicorn_options

    settings = _settings()
    configure_logging(settings.frontdesk_log_level)
    config = _config(settings, config_path)
    if settings.frontdesk_webhook_secret is None:
        raise click.ClickException(
            "FRONTDESK_WEBHOOK_SECRET is not set; the intake webhook always checks signatures"
        )
    components = _components(settings, config)
    try:
        refuse_mixed_mode(settings, config, components.integrations)
    except UnavailableIntegrationError as exc:
        raise click.ClickException(str(exc)) from None
    scheduler = None if no_scheduler else build_scheduler(components)
    # The app starts and stops the scheduler: on SIGTERM uvicorn finishes the open requests,
    # runs the app's shutdown (the scheduler's included), then re-raises the signal.
    app = create_app(components, scheduler=scheduler)
    uvicorn.run(app, host=host, port=port, **uvicorn_options(settings))


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    help="Serve GET /metrics on this port (the worker's reminder and error counters).",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address for --metrics-port (0.0.0.0 for a scraper on another host).",
)
def worker(config_path: str | None, metrics_port: int | None, metrics_host: str) -> None:
    """Run only the background jobs (for deployments with several `serve --no-scheduler`)."""
    from bot.scheduler import build_scheduler

    settings = _settings()
    configure_logging(settings.frontdesk_log_level)
    components = _components(settings, _config(settings, config_path))
    log.info("worker starting", extra={"services": components.integrations.modes()})
    if metrics_port is not None:
        # The worker sends reminders and re-pings: its counters exist only in this process.
        from bot.metrics import build_registry
        from handlers.worker_metrics import serve_metrics

        serve_metrics(settings, build_registry(components.db), metrics_host, metrics_port)
        log.info(
            "metrics served",
            extra={"host": metrics_host, "port": metrics_port, "path": "/metrics"},
        )
    build_scheduler(components).run_until_signalled()


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to head."""
    from storage.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo("database is at the latest schema")


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
def check(config_path: str | None) -> None:
    """Validate the config and probe every integration; exit non-zero on any problem."""
    from bot.checks import run_checks

    settings = _settings()
    config = _config(settings, config_path)
    rows = run_checks(settings, config)
    width = max(len(row.subject) for row in rows)
    for row in rows:
        mark = "ok " if row.ok else "FAIL"
        click.echo(f"{mark}  {row.subject.ljust(width)}  {row.detail}")
    if not all(row.ok for row in rows):
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--url",
    default="http://127.0.0.1:3000",
    show_default=True,
    help="Base URL of a running Frontdesk.",
)
def submit(file: str, url: str) -> None:
    """Sign a JSON request with FRONTDESK_WEBHOOK_SECRET and post it to the intake webhook."""
    import httpx

    from bot.relative_time import resolve_relative_start
    from bot.signing import signed_headers

    settings = _settings()
    if settings.frontdesk_webhook_secret is None:
        raise click.ClickException("FRONTDESK_WEBHOOK_SECRET is not set")
    payload: dict[str, Any] = json.loads(Path(file).read_text(encoding="utf-8"))
    if isinstance(payload.get("requested_start"), str) and payload.get("timezone"):
        payload["requested_start"] = resolve_relative_start(
            payload["requested_start"], payload["timezone"]
        )
    payload.setdefault("submission_id", f"cli-{secrets.token_hex(6)}")
    body = json.dumps(payload).encode()
    headers = signed_headers(settings.frontdesk_webhook_secret.get_secret_value(), body)
    headers["Content-Type"] = "application/json"
    try:
        response = httpx.post(
            url.rstrip("/") + "/webhooks/booking", content=body, headers=headers, timeout=60
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"could not reach {url}: {exc}") from None
    replay = " (replay)" if response.headers.get("Idempotent-Replay") == "true" else ""
    click.echo(f"HTTP {response.status_code}{replay}")
    click.echo(json.dumps(response.json(), indent=2))
    if response.status_code >= 400:
        sys.exit(1)


def _day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date like 2026-11-01", param_hint=option
        ) from None


def report_period(
    since: str | None, until: str | None, zone: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end) for `frontdesk report`: whole days in the business zone, --until
    included; by default the last 30 days up to now.
    """
    from bot.kpis import local_day_start

    end = local_day_start(_day("--until", until) + timedelta(days=1), zone) if until else now
    start = local_day_start(_day("--since", since), zone) if since else end - timedelta(days=30)
    if start >= end:
        raise click.BadParameter("--since must be on or before --until", param_hint="--since")
    return start.astimezone(UTC), end.astimezone(UTC)


@main.command()
@click.option("--since", help="First day (YYYY-MM-DD, business zone); default: 30 days ago.")
@click.option("--until", help="Last day, included (YYYY-MM-DD); default: up to now.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option(
    "--png",
    "png_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also draw a chart: weekly intervention rate and time to resolution.",
)
def report(
    since: str | None,
    until: str | None,
    config_path: str | None,
    as_json: bool,
    png_path: Path | None,
) -> None:
    """KPIs: intervention rate and its verdict, time to claim and to resolution, no-shows,
    VIP conversion, SLA breaches. Periods are cohorts of requests by when they arrived.
    """
    from bot.kpis import as_json as kpis_json
    from bot.kpis import compute_kpis
    from bot.report import render_text
    from storage.db import Database
    from storage.kpi_queries import KpiQueries

    settings = _settings()
    if config_path or settings.frontdesk_config:
        config = _config(settings, config_path)
        zone, sla_minutes = config.zone, config.slack.sla_minutes
    else:
        zone, sla_minutes = ZoneInfo("UTC"), DEFAULT_SLA_MINUTES
        click.echo(NO_CONFIG_NOTE, err=True)
    now = datetime.now(UTC)
    start, end = report_period(since, until, zone, now)
    db = Database(settings.database_url)
    try:
        kpis = compute_kpis(KpiQueries(db), start, end, now=now, sla_minutes=sla_minutes, zone=zone)
    finally:
        db.dispose()
    click.echo(json.dumps(kpis_json(kpis), indent=2) if as_json else render_text(kpis, zone))
    if png_path is not None:
        from bot.report_chart import render_png

        render_png(kpis, png_path, zone)
        click.echo(f"chart written to {png_path}", err=as_json)


@main.command()
@click.argument("requests_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option(
    "--against",
    type=click.Path(exists=True, dir_okay=False),
    help="A second config: list the requests whose route would change.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def backtest(
    requests_file: Path, config_path: str | None, against: str | None, as_json: bool
) -> None:
    """Replay the gate over historical requests (JSONL) without booking anything."""
    from bot.backtest import backtest as run_backtest
    from bot.backtest import render, render_changes

    settings = _settings()
    rules = _config(settings, config_path).gate_rules
    other = _config(settings, against).gate_rules if against else None
    result = run_backtest(requests_file, rules, other)
    if as_json:
        click.echo(json.dumps(result.as_json(), indent=2))
        return
    click.echo(render(result))
    if other is not None:
        click.echo("")
        click.echo(render_changes(result))


if __name__ == "__main__":
    main()
