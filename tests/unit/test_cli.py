"""The `frontdesk` command line (SPEC §1) and the relative dates `frontdesk submit` fills in."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from freezegun import freeze_time
from sqlalchemy import create_engine, inspect

from bot import cli
from bot.domain.relative_time import resolve_relative_start
from bot.domain.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests.conftest import EXAMPLE_CONFIG

SECRET = "cli-test-secret"
CREDENTIAL_VARIABLES = (
    "FRONTDESK_CONFIG",
    "FRONTDESK_WEBHOOK_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET",
    "MS_TENANT_ID",
    "MS_CLIENT_ID",
    "MS_CLIENT_SECRET",
    "POSTMARK_SERVER_TOKEN",
    "POSTMARK_FROM",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "HUBSPOT_ACCESS_TOKEN",
    "SALESFORCE_INSTANCE_URL",
    "SALESFORCE_CLIENT_ID",
    "SALESFORCE_USERNAME",
    "SALESFORCE_PRIVATE_KEY_FILE",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: no credentials, a throw-away SQLite database."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    # The CLI's own logging setup would replace pytest's handlers on the root logger.
    monkeypatch.setattr(cli, "configure_logging", lambda level="INFO": None)
    return monkeypatch


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli.main, list(args))


# Commands ---------------------------------------------------------------------------------


def test_help_lists_every_command(env: pytest.MonkeyPatch) -> None:
    result = _run("--help")
    assert result.exit_code == 0
    commands = result.output.split("Commands:", 1)[1]
    listed = {line.split()[0] for line in commands.splitlines() if line.strip()}
    assert {"serve", "worker", "db", "check", "submit", "report", "backtest"} <= listed


def test_serve_help_lists_its_options(env: pytest.MonkeyPatch) -> None:
    result = _run("serve", "--help")
    assert result.exit_code == 0
    for option in ("--config", "--host", "--port", "--no-scheduler"):
        assert option in result.output


def test_db_upgrade_creates_the_tables(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'fresh.db'}"
    env.setenv("DATABASE_URL", url)
    result = _run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "latest schema" in result.output
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"booking_request", "decision", "escalation", "booking", "outbox"} <= tables
    assert "alembic_version" in tables


def test_check_example_config_passes_in_sandbox(env: pytest.MonkeyPatch) -> None:
    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    result = _run("check", "--config", str(EXAMPLE_CONFIG))
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.strip()]
    assert all(line.startswith("ok ") for line in rows), result.output
    subjects = {line.split()[1] for line in rows}
    assert {"config", "database", "webhook", "email", "slack"} <= subjects
    assert "4 reps, 2 VIP domains" in result.output
    sandbox_rows = [line for line in rows if "sandbox mode" in line]
    assert len(sandbox_rows) >= 3  # calendars, email and Slack


def test_check_reads_config_from_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    env.setenv("FRONTDESK_CONFIG", str(EXAMPLE_CONFIG))
    assert _run("check").exit_code == 0


def test_check_broken_config_names_file_key_and_reason(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    broken = tmp_path / "broken.toml"
    broken.write_text(
        EXAMPLE_CONFIG.read_text().replace('"Europe/Berlin"', '"Europe/Berln"'), encoding="utf-8"
    )
    result = _run("check", "--config", str(broken))
    assert result.exit_code != 0
    assert f"{broken}: reps[1].timezone: unknown IANA time zone 'Europe/Berln'" in result.output


def test_check_without_webhook_secret_fails(env: pytest.MonkeyPatch) -> None:
    result = _run("check", "--config", str(EXAMPLE_CONFIG))
    assert result.exit_code != 0
    assert "FAIL" in result.output
    assert "FRONTDESK_WEBHOOK_SECRET is not set" in result.output


def test_check_refuses_credentials_it_cannot_use(env: pytest.MonkeyPatch) -> None:
    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    env.setenv("SLACK_BOT_TOKEN", "xoxb-not-a-real-token")
    result = _run("check", "--config", str(EXAMPLE_CONFIG))
    assert result.exit_code != 0
    assert "xoxb-not-a-real-token" not in result.output


def test_serve_without_config_is_a_usage_error(env: pytest.MonkeyPatch) -> None:
    import uvicorn

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("serve must not start without a config")

    env.setattr(uvicorn, "run", never)
    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    result = _run("serve")
    assert result.exit_code == 2
    assert "no config file" in result.output
    assert "--config" in result.output


def test_serve_with_broken_config_refuses_to_start(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("serve must not start with a broken config")

    env.setattr(uvicorn, "run", never)
    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    broken = tmp_path / "broken.toml"
    broken.write_text(EXAMPLE_CONFIG.read_text().replace("sla_minutes = 15", "sla_minutes = 0"))
    result = _run("serve", "--config", str(broken))
    assert result.exit_code == 1
    assert f"{broken}: slack.sla_minutes" in result.output


# Relative dates ---------------------------------------------------------------------------

FRIDAY = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("text", "zone", "today", "expected"),
    [
        ("+3d 10:00", "America/New_York", FRIDAY, "2026-11-23T10:00:00-05:00"),
        ("+0d 09:30", "America/New_York", FRIDAY, "2026-11-20T09:30:00-05:00"),
        # Weekdays skip the weekend: Friday + 1 weekday is Monday, + 2 is Tuesday.
        ("+1wd 10:00", "America/New_York", FRIDAY, "2026-11-23T10:00:00-05:00"),
        ("+2wd 10:00", "America/New_York", FRIDAY, "2026-11-24T10:00:00-05:00"),
        ("+6wd 10:00", "America/New_York", FRIDAY, "2026-11-30T10:00:00-05:00"),
        ("+1wd 10:00", "America/New_York", date(2026, 11, 21), "2026-11-23T10:00:00-05:00"),
        # The offset is the zone's on the target day (US DST starts 2027-03-14).
        ("+3d 10:00", "America/New_York", date(2027, 3, 12), "2027-03-15T10:00:00-04:00"),
        ("+2d 14:00", "America/Phoenix", date(2027, 7, 1), "2027-07-03T14:00:00-07:00"),
        ("+1d 10:00", "Asia/Kolkata", FRIDAY, "2026-11-21T10:00:00+05:30"),
        ("+3d 10:00", "Australia/Sydney", date(2026, 10, 2), "2026-10-05T10:00:00+11:00"),
        ("  +3d 10:00  ", "Europe/Berlin", FRIDAY, "2026-11-23T10:00:00+01:00"),
    ],
)
def test_resolve_relative_start(text: str, zone: str, today: date, expected: str) -> None:
    assert resolve_relative_start(text, zone, today=today) == expected


@pytest.mark.parametrize(
    "text",
    ["2026-12-01T14:00:00-07:00", "2026-12-01T14:00:00", "tomorrow", "+3x 10:00", ""],
)
def test_non_relative_text_is_unchanged(text: str) -> None:
    assert resolve_relative_start(text, "America/New_York", today=FRIDAY) == text


@freeze_time("2026-11-20 20:00:00")  # Fri 20:00 UTC is already Sat 01:30 in Kolkata
def test_relative_start_defaults_to_today_in_the_zone() -> None:
    assert resolve_relative_start("+3d 10:00", "Asia/Kolkata") == "2026-11-24T10:00:00+05:30"
    assert resolve_relative_start("+3d 10:00", "America/New_York") == ("2026-11-23T10:00:00-05:00")
    # From Saturday in Kolkata the next weekday is Monday; from Friday in New York too.
    assert resolve_relative_start("+1wd 10:00", "Asia/Kolkata") == "2026-11-23T10:00:00+05:30"
    assert resolve_relative_start("+1wd 10:00", "America/New_York") == ("2026-11-23T10:00:00-05:00")


# Submit -----------------------------------------------------------------------------------


class _Intake(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        reply = json.dumps({"request_id": "req_test", "status": "booked_auto"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def intake_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Handler", (_Intake,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_submit_signs_and_resolves_relative_dates(
    env: pytest.MonkeyPatch,
    tmp_path: Path,
    intake_server: tuple[str, list[dict[str, Any]]],
) -> None:
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.delenv(proxy, raising=False)
    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    url, received = intake_server
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps(
            {
                "name": "Dana Reyes",
                "email": "dana@example.org",
                "timezone": "Asia/Kolkata",
                "requested_start": "+3d 10:00",
            }
        )
    )
    before = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    result = _run("submit", str(request), "--url", url + "/")
    after = datetime.now(ZoneInfo("Asia/Kolkata")).date()
    assert result.exit_code == 0, result.output
    assert "HTTP 200" in result.output
    assert '"status": "booked_auto"' in result.output

    (posted,) = received
    assert posted["path"] == "/webhooks/booking"
    headers = {key.lower(): value for key, value in posted["headers"].items()}
    assert headers["content-type"] == "application/json"
    verify(
        SECRET,
        headers[TIMESTAMP_HEADER.lower()],
        headers[SIGNATURE_HEADER.lower()],
        posted["body"],
    )

    payload = json.loads(posted["body"])
    start = datetime.fromisoformat(payload["requested_start"])
    assert start.date() in {before + timedelta(days=3), after + timedelta(days=3)}
    assert (start.hour, start.minute) == (10, 0)
    assert start.utcoffset() == timedelta(hours=5, minutes=30)
    assert payload["submission_id"].startswith("cli-")
    assert payload["name"] == "Dana Reyes"


def test_submit_example_request_resolves_weekdays(
    env: pytest.MonkeyPatch, intake_server: tuple[str, list[dict[str, Any]]]
) -> None:
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.delenv(proxy, raising=False)
    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    url, received = intake_server
    example = EXAMPLE_CONFIG.parent / "requests" / "booked_auto.json"
    original = json.loads(example.read_text())
    assert original["requested_start"] == "+2wd 08:00"
    result = _run("submit", str(example), "--url", url)
    assert result.exit_code == 0, result.output
    payload = json.loads(received[0]["body"])
    start = datetime.fromisoformat(payload["requested_start"])
    assert start.weekday() < 5
    assert (start.hour, start.minute) == (8, 0)
    assert start.utcoffset() == timedelta(hours=-7)  # America/Phoenix, all year
    assert {k: v for k, v in payload.items() if k not in ("requested_start", "submission_id")} == {
        k: v for k, v in original.items() if k != "requested_start"
    }


def test_submit_without_secret_fails(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text("{}")
    result = _run("submit", str(request), "--url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "FRONTDESK_WEBHOOK_SECRET is not set" in result.output


def test_serve_reports_a_busy_port_before_migrating(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run("serve", "--config", str(EXAMPLE_CONFIG), "--port", str(port))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "--port" in result.output
    assert not (tmp_path / "cli.db").exists()  # refused before any migration ran


def test_make_run_passes_port_and_host_to_serve() -> None:
    import shutil
    import subprocess

    from tests.conftest import ROOT

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(
        ["make", "-n", "--always-make", "run", "PORT=3300", "HOST=0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (serve,) = [line for line in dry.splitlines() if "frontdesk serve" in line]
    assert "--host 0.0.0.0 --port 3300" in serve


# serve: mixed real/sandbox mode and connection limits -------------------------------------

POSTMARK = {"POSTMARK_SERVER_TOKEN": "pm-server-token", "POSTMARK_FROM": "desk@ourco.example"}
GOOGLE = {
    "GOOGLE_CLIENT_ID": "client.apps.googleusercontent.com",
    "GOOGLE_CLIENT_SECRET": "google-secret",
    "FRONTDESK_ENCRYPTION_KEY": "x" * 43 + "=",
}
TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+1602"}
SLACK = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "slack-secret"}


def _serve(env: pytest.MonkeyPatch, variables: dict[str, str]) -> tuple[Result, list[Any]]:
    import uvicorn

    started: list[Any] = []
    env.setattr(uvicorn, "run", lambda app, **options: started.append(options))
    env.delenv("FRONTDESK_ALLOW_MIXED", raising=False)
    env.setenv("FRONTDESK_WEBHOOK_SECRET", SECRET)
    for name, value in variables.items():
        env.setenv(name, value)
    return _run("serve", "--config", str(EXAMPLE_CONFIG), "--no-scheduler"), started


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        (POSTMARK, "GOOGLE_CLIENT_ID"),  # real email, sandboxed calendars: fake confirmations
        ({**GOOGLE, **SLACK}, "POSTMARK_SERVER_TOKEN"),  # real calendar, sandboxed email
        ({**GOOGLE, **POSTMARK}, "SLACK_BOT_TOKEN"),  # escalations would reach nobody
    ],
)
def test_serve_refuses_mixed_real_and_sandboxed_services(
    env: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    from cryptography.fernet import Fernet

    env.setenv("FRONTDESK_ENCRYPTION_KEY", Fernet.generate_key().decode())
    variables = {k: v for k, v in variables.items() if k != "FRONTDESK_ENCRYPTION_KEY"}
    result, started = _serve(env, variables)
    assert result.exit_code == 1, result.output
    assert started == []
    assert "FRONTDESK_ALLOW_MIXED=1" in result.output
    assert named in result.output


def test_serve_starts_mixed_when_told_it_is_deliberate(env: pytest.MonkeyPatch) -> None:
    result, started = _serve(env, {**POSTMARK, "FRONTDESK_ALLOW_MIXED": "1"})
    assert result.exit_code == 0, result.output
    assert len(started) == 1


@pytest.mark.parametrize("variables", [{}, TWILIO, SLACK], ids=["sandbox", "sms", "slack"])
def test_serve_is_not_mixed_with_only_optional_or_chat_services_real(
    env: pytest.MonkeyPatch, variables: dict[str, str]
) -> None:
    result, started = _serve(env, variables)
    assert result.exit_code == 0, result.output
    assert len(started) == 1


def test_serve_bounds_connections(env: pytest.MonkeyPatch) -> None:
    env.setenv("FRONTDESK_KEEP_ALIVE_SECONDS", "7")
    env.setenv("FRONTDESK_HEADER_TIMEOUT_SECONDS", "4")
    env.setenv("FRONTDESK_MAX_CONCURRENCY", "50")
    result, started = _serve(env, {})
    assert result.exit_code == 0, result.output
    (options,) = started
    assert options["timeout_keep_alive"] == 7
    assert options["limit_concurrency"] == 50
    assert options["h11_max_incomplete_event_size"] == 16 * 1024
    assert options["http"].head_timeout_seconds == 4
