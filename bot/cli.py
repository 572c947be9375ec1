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

# Each command imports what it uses, inside it: `frontdesk --help` needs click alone, and
# `report` neither the ORM, nor the integrations, nor the config's validators when no
# config is given.
if TYPE_CHECKING:
    from bot.components import Components
    from bot.domain.config import Config
    from bot.services.demo import DemoSummary
    from bot.settings import Settings
    from bot.settings_env import ReportSettings
    from integrations.bundle import Integrations
    from storage.repositories import (
        BookingRepository,
        ConnectionRepository,
        OutboxRepository,
    )

log = logging.getLogger("frontdesk")

CONFIG_HELP = "TOML config file (default: $FRONTDESK_CONFIG)."
NO_CONFIG_NOTE = (
    "no config given (--config or FRONTDESK_CONFIG): days and weeks are UTC, "
    "and the SLA is {sla} minutes"
)


def configure_logging(level: str) -> None:
    from bot import logs

    logs.configure_logging(level)


def _default_sla_minutes() -> int:
    from bot.domain.config import SlackConfig

    default: int = SlackConfig.model_fields["sla_minutes"].default
    return default


def _settings() -> Settings:
    from bot.settings import Settings
    from bot.settings_env import SettingsFileError

    try:
        return Settings()
    except SettingsFileError as exc:
        raise click.ClickException(str(exc)) from None


def _report_settings() -> ReportSettings:
    """DATABASE_URL and FRONTDESK_CONFIG, as `Settings` reads them, without building it."""
    from bot.settings_env import SettingsFileError, report_settings

    try:
        return report_settings()
    except SettingsFileError as exc:
        raise click.ClickException(str(exc)) from None


def _config(settings: Settings, path: str | None) -> Config:
    return _load_config(path or settings.frontdesk_config)


def _load_config(chosen: str | None) -> Config:
    from bot.config import ConfigError, load_config

    if not chosen:
        raise click.UsageError("no config file: pass --config PATH or set FRONTDESK_CONFIG")
    try:
        return load_config(chosen)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration\n{exc}") from None


def _components(settings: Settings, config: Config) -> Components:
    """What `serve` and `worker` run on; SQLite is migrated here (one node, no deploy step)."""
    from bot.components import build_components
    from bot.providers import UnavailableIntegrationError
    from storage.migrate import upgrade

    if settings.database_url.startswith("sqlite"):
        upgrade(settings.database_url)
    try:
        return build_components(settings, config)
    except UnavailableIntegrationError as exc:
        raise click.ClickException(str(exc)) from None


PORT_BUSY = (
    "cannot listen on {host}:{port}: {reason}. Is another Frontdesk running? "
    "Choose another port: `frontdesk serve --port 3300` or `make run PORT=3300`"
)


def _refuse_busy_port(host: str, port: int) -> None:
    """Say a busy port plainly, before migrations run and services start: uvicorn would only
    find out after them, with a bare Errno 98."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As uvicorn binds: a port in TIME_WAIT after a restart is not busy.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            message = PORT_BUSY.format(host=host, port=port, reason=reason)
            raise click.ClickException(message) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Frontdesk: human-in-the-loop appointment scheduling for Slack."""


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=3000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Leave background jobs to `frontdesk worker`.")
@click.option(
    "--proxy-headers/--no-proxy-headers",
    default=True,
    show_default=True,
    help="Take the client's address and scheme from X-Forwarded-For and X-Forwarded-Proto "
    "when the connection comes from --forwarded-allow-ips.",
)
@click.option(
    "--forwarded-allow-ips",
    envvar="FORWARDED_ALLOW_IPS",
    default="127.0.0.1",
    show_default=True,
    help="The reverse proxies to trust: addresses or networks, comma-separated, or '*'.",
)
def serve(
    config_path: str | None,
    host: str,
    port: int,
    no_scheduler: bool,
    proxy_headers: bool,
    forwarded_allow_ips: str,
) -> None:
    """Serve the HTTP API (webhooks, Slack, sandbox) and, unless told not to, the jobs."""
    import uvicorn

    from bot.app import create_app
    from bot.providers import UnavailableIntegrationError, refuse_mixed_mode
    from bot.scheduler import build_scheduler
    from bot.serving import uvicorn_options

    settings = _settings()
    configure_logging(settings.frontdesk_log_level)
    config = _config(settings, config_path)
    if settings.frontdesk_webhook_secret is None:
        raise click.ClickException(
            "FRONTDESK_WEBHOOK_SECRET is not set; the intake webhook always checks signatures"
        )
    _refuse_busy_port(host, port)
    components = _components(settings, config)
    try:
        refuse_mixed_mode(settings, config, components.integrations)
    except UnavailableIntegrationError as exc:
        raise click.ClickException(str(exc)) from None
    scheduler = None if no_scheduler else build_scheduler(components)
    # The app starts and stops the scheduler: on SIGTERM uvicorn finishes the open requests,
    # runs the app's shutdown (the scheduler's included), then re-raises the signal.
    app = create_app(components, scheduler=scheduler)
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
        **uvicorn_options(settings),
    )


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
    from bot.providers import build_integrations
    from bot.reports.checks import run_checks

    settings = _settings()
    config = _config(settings, config_path)

    def integrations(
        outbox: OutboxRepository, bookings: BookingRepository, connections: ConnectionRepository
    ) -> Integrations:
        return build_integrations(
            settings, config, outbox=outbox, bookings=bookings, connections=connections
        )

    from bot.reports.checks import render_rows

    rows = run_checks(settings, config, integrations)
    click.echo(render_rows(rows))
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

    from bot.domain.relative_time import resolve_relative_start
    from bot.domain.signing import signed_headers

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
    from bot.reports.kpis import local_day_start

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
    from bot.reports.crm import crm_json, crm_lines
    from bot.reports.kpis import as_json as kpis_json
    from bot.reports.kpis import compute_kpis
    from bot.reports.report import render_text
    from storage.crm_kpi_queries import CrmKpiQueries
    from storage.db import Database
    from storage.kpi_queries import KpiQueries

    settings = _report_settings()
    if config_path or settings.frontdesk_config:
        config = _load_config(config_path or settings.frontdesk_config)
        zone, sla_minutes = config.zone, config.slack.sla_minutes
    else:
        zone, sla_minutes = ZoneInfo("UTC"), _default_sla_minutes()
        click.echo(NO_CONFIG_NOTE.format(sla=sla_minutes), err=True)
    now = datetime.now(UTC)
    start, end = report_period(since, until, zone, now)
    db = Database(settings.database_url)
    try:
        kpis = compute_kpis(KpiQueries(db), start, end, now=now, sla_minutes=sla_minutes, zone=zone)
        crm = crm_json(CrmKpiQueries(db), start, end)  # CRM tickets and deal conversion
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps(kpis_json(kpis) | crm, indent=2))
    else:
        click.echo("\n".join([render_text(kpis, zone), *crm_lines(crm)]))
    if png_path is not None:
        from bot.reports.chart import render_png

        render_png(kpis, png_path, zone)
        click.echo(f"chart written to {png_path}", err=as_json)


DEMO_ALREADY_LOADED = "The demo history is already loaded; nothing was added."
DEMO_NEXT_STEPS = (
    "Look at it: `frontdesk report --config CONFIG --png kpis.png`, the Slack Home tab, "
    "or http://127.0.0.1:3000/ with `make run`."
)
DEMO_REFUSED = (
    "this database already holds {count} real request(s): the demo history would mix with "
    "them and skew every KPI. Use a fresh database (DATABASE_URL), or --force"
)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help=CONFIG_HELP)
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 366))
@click.option("--seed", default=2026, show_default=True, help="The same seed, the same month.")
@click.option("--force", is_flag=True, help="Load even beside real requests.")
def demo(config_path: str | None, days: int, seed: int, force: bool) -> None:
    """Load a realistic recent month (generated, ending now) into the database, so the Home
    tab, `frontdesk report` and its chart have something to show on the first day.
    """
    from bot.services.demo import DemoHistory
    from storage.db import Database
    from storage.migrate import upgrade
    from storage.repositories import BookingRepository, EscalationRepository, RequestRepository
    from storage.repositories.demo import DemoRepository

    settings = _settings()
    config = _config(settings, config_path)
    if settings.database_url.startswith("sqlite"):
        upgrade(settings.database_url)
    db = Database(settings.database_url)
    try:
        history = DemoHistory(
            config,
            RequestRepository(db),
            EscalationRepository(db),
            BookingRepository(db),
            DemoRepository(db),
        )
        real = history.real_requests()
        if real and not force:
            raise click.ClickException(DEMO_REFUSED.format(count=real))
        summary = history.load(now=datetime.now(UTC), days=days, seed=seed)
    finally:
        db.dispose()
    click.echo("\n".join(_demo_lines(summary, config.zone)))


def _demo_lines(summary: DemoSummary, zone: ZoneInfo) -> list[str]:
    if summary.already_loaded and not summary.requests:
        return [DEMO_ALREADY_LOADED]
    since, until = (
        at.astimezone(zone).strftime("%Y-%m-%d") for at in (summary.since, summary.until)
    )
    statuses = ", ".join(f"{status} {count}" for status, count in summary.by_status.most_common())
    outcomes = ", ".join(f"{name} {count}" for name, count in summary.outcomes.most_common())
    return [
        f"Loaded a demo history from {since} to {until} ({zone.key}):",
        f"  {summary.requests} requests: {statuses}",
        f"  {summary.escalations} escalations, {summary.still_open} still open",
        f"  {summary.bookings} bookings, {summary.cancelled} cancelled; "
        f"meetings: {outcomes or 'none ended yet'}",
        DEMO_NEXT_STEPS,
    ]


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
    from bot.reports.backtest import backtest as run_backtest
    from bot.reports.backtest import render, render_changes

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
