"""`frontdesk demo`: a generated month, shifted to end now, that the report and the Home tab
read like a real one; the same seed gives the same month; the scheduler finds nothing in it
to re-send; and it never mixes into a database that holds real requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import cli
from bot.reports.kpis import compute_kpis
from bot.services.demo import DemoHistory
from storage.db import Database
from storage.kpi_queries import KpiQueries
from storage.models import BookingRequest
from storage.repositories import BookingRepository, EscalationRepository, RequestRepository
from storage.repositories.demo import DemoRepository
from tests.conftest import EXAMPLE_CONFIG

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # a Friday afternoon in New York


def _history(db: Database, config) -> DemoHistory:
    return DemoHistory(
        config,
        RequestRepository(db),
        EscalationRepository(db),
        BookingRepository(db),
        DemoRepository(db),
    )


def test_the_month_reads_like_a_real_one(migrated_db: Database, example_config) -> None:
    summary = _history(migrated_db, example_config).load(now=NOW, days=14, seed=7)
    zone = example_config.zone
    kpis = compute_kpis(
        KpiQueries(migrated_db), NOW - timedelta(days=14), NOW, now=NOW, sla_minutes=15, zone=zone
    )
    assert kpis.requests == summary.requests > 60
    assert kpis.in_progress == 0  # every request finished, as the processor finishes them
    assert set(kpis.by_route) == {"auto", "vip", "review", "error"}
    assert all(count > 0 for count in kpis.by_route.values()), kpis.by_route
    assert 0.05 < (kpis.rate or 0) < 0.3  # around the healthy band, as a tuned gate is
    assert all(week.requests for week in kpis.weeks)  # history in every week of the chart
    assert kpis.overall.to_claim.p50 and kpis.overall.sla_breaches > 0
    assert kpis.meeting("auto").no_show > 0 and kpis.meeting("auto").held > 0
    assert kpis.meeting("human").held > 0  # escalations booked by people, meetings held
    assert kpis.vip_conversion is not None
    assert summary.cancelled > 0 and summary.escalations == kpis.escalated
    # Nothing for the scheduler to post again: every escalation was "posted", every meeting
    # that ended was asked about.
    assert EscalationRepository(migrated_db).undelivered(NOW) == []
    due = BookingRepository(migrated_db).prompts_due(
        NOW, NOW - timedelta(days=60), stale_before=NOW
    )
    assert due == []


def test_the_same_seed_gives_the_same_month_once(migrated_db: Database, example_config, tmp_path):
    first = _history(migrated_db, example_config).load(now=NOW, days=7, seed=7)
    again = _history(migrated_db, example_config).load(now=NOW, days=7, seed=7)
    assert again.already_loaded and again.requests == 0  # nothing doubled

    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    from storage.migrate import upgrade

    upgrade(other_url)
    other = Database(other_url)
    try:
        twin = _history(other, example_config).load(now=NOW, days=7, seed=7)
        stored = RequestRepository(other).get("req_demo00003")
    finally:
        other.dispose()
    assert (twin.requests, twin.by_status, twin.outcomes) == (
        first.requests,
        first.by_status,
        first.outcomes,
    )
    original = RequestRepository(migrated_db).get("req_demo00003")
    assert stored is not None and original is not None
    assert (stored.email, stored.received_at, stored.status) == (
        original.email,
        original.received_at,
        original.status,
    )


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("FRONTDESK_CONFIG", raising=False)
    return url


def test_demo_command_loads_then_report_shows_it(cli_env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    loaded = runner.invoke(cli.main, ["demo", "--config", str(EXAMPLE_CONFIG), "--days", "7"])
    assert loaded.exit_code == 0, loaded.output
    assert "Loaded a demo history" in loaded.output
    chart = tmp_path / "kpis.png"
    report = runner.invoke(
        cli.main, ["report", "--config", str(EXAMPLE_CONFIG), "--png", str(chart), "--json"]
    )
    assert report.exit_code == 0, report.output
    assert chart.read_bytes().startswith(b"\x89PNG")
    again = runner.invoke(cli.main, ["demo", "--config", str(EXAMPLE_CONFIG)])
    assert again.exit_code == 0 and "already loaded" in again.output


def test_demo_refuses_a_database_with_real_requests(cli_env: str) -> None:
    from storage.migrate import upgrade

    upgrade(cli_env)
    db = Database(cli_env)
    try:
        RequestRepository(db).create(
            BookingRequest(
                idempotency_key="key:typeform-8d1f",
                body_sha256="",
                name="Dana Reyes",
                email="dana@northwind.example",
                timezone="America/Phoenix",
                duration_minutes=30,
            )
        )
    finally:
        db.dispose()
    runner = CliRunner()
    refused = runner.invoke(cli.main, ["demo", "--config", str(EXAMPLE_CONFIG)])
    assert refused.exit_code == 1
    assert "already holds 1 real request" in refused.output and "--force" in refused.output
    forced = runner.invoke(cli.main, ["demo", "--config", str(EXAMPLE_CONFIG), "--force"])
    assert forced.exit_code == 0, forced.output


def test_the_home_tab_shows_the_demo_month(migrated_db: Database, example_config) -> None:
    from bot.components import build_components
    from tests.conftest import make_settings

    _history(migrated_db, example_config).load(now=NOW, days=30, seed=7)
    components = build_components(
        make_settings(migrated_db.url), example_config, db=migrated_db, clock=lambda: NOW
    )
    week, month = components.dashboard.recent()
    assert 0 < week.kpis.requests < month.kpis.requests
    assert month.kpis.rate is not None and month.kpis.overall.to_claim.p50
