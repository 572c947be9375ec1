"""`frontdesk check` against real clients and our fakes (SPEC §1, issue #4): one row per rep
and probe, and a non-zero exit when any rep's token, scopes or calendars are not right."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet

from bot import cli
from integrations.google_oauth import EVENTS_SCOPE, FREEBUSY_SCOPE
from storage.crypto import TokenCipher
from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import ConnectionRepository
from testkit.fakes.google import FakeGoogle
from testkit.fakes.postmark import FAKE_SERVER_TOKEN, FakePostmark
from testkit.fakes.slack import FAKE_TOKEN, FakeSlack
from testkit.fakes.twilio import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FAKE_FROM, FakeTwilio
from tests.unit.test_cli import CREDENTIAL_VARIABLES

ALICE, CAROL = "alice@ourco.example", "carol@ourco.example"
ROOM = "room-2@resource.calendar.google.com"
KEY = Fernet.generate_key().decode()
HOURS = '{ mon = "09:00-17:00", tue = "09:00-17:00" }'
CONFIG = f"""
timezone = "America/New_York"

[slack]
escalation_channel = "C0ESCALATE"

[[reps]]
email = "{ALICE}"
timezone = "America/New_York"
working_hours = {HOURS}
provider = "google"
booking_calendar = "{ALICE}"
calendars = ["{ALICE}", "{ROOM}"]

[[reps]]
email = "{CAROL}"
timezone = "Europe/Berlin"
working_hours = {HOURS}
provider = "google"
booking_calendar = "{CAROL}"
calendars = ["{CAROL}"]
"""


@pytest.fixture
def fakes() -> Iterator[tuple[FakeGoogle, FakeSlack, FakePostmark]]:
    with (
        FakeGoogle(calendars=[ALICE, ROOM, CAROL]) as google,
        FakeSlack() as slack,
        FakePostmark() as postmark,
    ):
        yield google, slack, postmark


@pytest.fixture
def run_check(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fakes: tuple[FakeGoogle, FakeSlack, FakePostmark],
):
    google, slack, postmark = fakes
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'check.db'}"
    upgrade(url)
    config = tmp_path / "frontdesk.toml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {
        "DATABASE_URL": url,
        "FRONTDESK_WEBHOOK_SECRET": "check-secret",
        "FRONTDESK_ENCRYPTION_KEY": KEY,
        "SLACK_BOT_TOKEN": FAKE_TOKEN,
        "SLACK_SIGNING_SECRET": "check-signing-secret",
        "SLACK_API_URL": slack.url,
        "POSTMARK_SERVER_TOKEN": FAKE_SERVER_TOKEN,
        "POSTMARK_FROM": "bookings@ourco.example",
        "POSTMARK_API_URL": postmark.url,
        **{name.upper(): value for name, value in google.settings().items()},
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli, "configure_logging", lambda level="INFO": None)
    db = Database(url)
    connections = ConnectionRepository(db, TokenCipher(KEY))

    def connect(rep: str, scopes: tuple[str, ...] = (EVENTS_SCOPE, FREEBUSY_SCOPE)) -> str:
        token = google.issue_refresh_token(scopes)
        connections.save_connected(rep, "google", refresh_token=token, scopes=list(scopes))
        return token

    def run() -> Result:
        return CliRunner().invoke(cli.main, ["check", "--config", str(config)])

    yield connect, run
    db.dispose()


def rows(result: Result) -> dict[str, str]:
    """'ok  google:token alice@…  detail' lines, keyed by subject, valued by the whole line."""
    found = {}
    for line in result.output.splitlines():
        mark, _, rest = line.partition("  ")
        if mark.strip() in ("ok", "FAIL"):
            subject = rest.strip().split("  ")[0].strip()
            found[subject] = line
    return found


def test_everything_connected_passes_with_a_row_per_rep_and_probe(run_check, fakes) -> None:
    connect, run = run_check
    connect(ALICE)
    connect(CAROL)

    result = run()

    assert result.exit_code == 0, result.output
    found = rows(result)
    assert found["slack:token"].startswith("ok ")
    assert found["postmark:token"].startswith("ok ")
    for subject in (f"google:token {ALICE}", f"google:token {CAROL}", f"google:calendar {ROOM}"):
        assert found[subject].startswith("ok "), result.output


def test_a_revoked_rep_and_a_missing_calendar_fail_the_check(run_check, fakes) -> None:
    google, _, _ = fakes
    connect, run = run_check
    connect(ALICE)
    google.revoke(connect(CAROL))
    google.calendars.discard(ROOM)

    result = run()

    assert result.exit_code == 1, result.output
    found = rows(result)
    assert found[f"google:token {ALICE}"].startswith("ok ")
    assert found[f"google:token {CAROL}"].startswith("FAIL")
    assert (
        "invalid_grant" in found[f"google:token {CAROL}"]
        or "reconnect" in found[f"google:token {CAROL}"]
    )
    assert found[f"google:calendar {ROOM}"].startswith("FAIL")
    assert "1//fake-refresh" not in result.output  # tokens never printed


def test_a_rep_who_never_connected_fails_with_the_link_to_connect(run_check) -> None:
    connect, run = run_check
    connect(ALICE)

    result = run()

    assert result.exit_code == 1
    assert f"/oauth/google/start?rep={CAROL}" in rows(result)[f"google:token {CAROL}"]


def test_an_unmigrated_database_is_reported_not_a_crash(run_check, tmp_path, monkeypatch) -> None:
    _, run = run_check
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")

    result = run()

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert rows(result)["calendars"].startswith("FAIL")
    assert "frontdesk db upgrade" in result.output


def test_real_calendars_with_sandboxed_email_fail_the_check(run_check, monkeypatch) -> None:
    connect, run = run_check
    connect(ALICE)
    connect(CAROL)
    monkeypatch.delenv("POSTMARK_SERVER_TOKEN")
    monkeypatch.delenv("POSTMARK_FROM")

    result = run()

    assert result.exit_code == 1
    assert "clients would never be confirmed" in rows(result)["integrations"]


def test_twilio_credentials_and_sender_are_probed(run_check, monkeypatch) -> None:
    connect, run = run_check
    connect(ALICE)
    connect(CAROL)
    with FakeTwilio() as twilio:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", FAKE_ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", FAKE_AUTH_TOKEN)
        monkeypatch.setenv("TWILIO_FROM", FAKE_FROM)
        monkeypatch.setenv("TWILIO_API_URL", twilio.url)
        local = run()  # FRONTDESK_PUBLIC_URL left at its default, http://127.0.0.1:3000
        monkeypatch.setenv("FRONTDESK_PUBLIC_URL", "frontdesk.ourco.example")
        relative = run()
        monkeypatch.setenv("FRONTDESK_PUBLIC_URL", "https://frontdesk.ourco.example")
        passing = run()
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-rotated-token")
        failing = run()

    assert passing.exit_code == 0, passing.output
    assert rows(passing)["twilio:credentials"].startswith("ok ")
    assert rows(passing)[f"twilio:sender {FAKE_FROM}"].startswith("ok ")
    assert rows(passing)["twilio:status_callback"].startswith("ok ")
    assert failing.exit_code == 1
    assert rows(failing)["twilio:credentials"].startswith("FAIL")
    assert local.exit_code == 1
    assert "Twilio cannot reach" in rows(local)["twilio:status_callback"]
    assert relative.exit_code == 1
    assert "not an absolute URL" in rows(relative)["twilio:status_callback"]
    assert "TWILIO_AUTH_TOKEN" in rows(failing)["twilio:credentials"]


def test_a_deliberate_mix_is_reported_but_passes(run_check, monkeypatch) -> None:
    connect, run = run_check
    connect(ALICE)
    connect(CAROL)
    monkeypatch.delenv("POSTMARK_SERVER_TOKEN")
    monkeypatch.delenv("POSTMARK_FROM")
    monkeypatch.setenv("FRONTDESK_ALLOW_MIXED", "1")

    result = run()

    row = rows(result)["integrations"]
    assert row.startswith("ok"), result.output
    assert "clients would never be confirmed" in row
    assert "FRONTDESK_ALLOW_MIXED=1" in row
