"""Settings from files (bot/settings_files.py): `NAME_FILE` variables and a secrets
directory, as Docker, Kubernetes and systemd hand secrets over; and the pool sizes chosen
for a server and for AWS Lambda.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import cli
from bot.settings import Settings
from bot.settings_files import SettingsFileError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_BOT_TOKEN_FILE",
        "SLACK_SIGNING_SECRET",
        "DATABASE_URL",
        "DATABASE_URL_FILE",
        "FRONTDESK_SECRETS_DIR",
        "FRONTDESK_DB_POOL_SIZE",
        "FRONTDESK_DB_MAX_OVERFLOW",
        "AWS_LAMBDA_FUNCTION_NAME",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_file_variable_gives_the_value_without_its_trailing_newline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "slack_bot_token"
    secret.write_text("xoxb-from-a-file\n")
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(secret))
    token = Settings().slack_bot_token
    assert token is not None
    assert token.get_secret_value() == "xoxb-from-a-file"


def test_a_plain_field_can_come_from_a_file_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tmp_path / "database_url"
    url.write_text("postgresql+psycopg://frontdesk:pw@db/frontdesk")
    monkeypatch.setenv("DATABASE_URL_FILE", str(url))
    assert Settings().database_url == "postgresql+psycopg://frontdesk:pw@db/frontdesk"


def test_the_variable_and_its_file_both_set_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "token"
    secret.write_text("xoxb-file")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-env")
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(secret))
    with pytest.raises(SettingsFileError, match="SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE"):
        Settings()


def test_a_missing_file_is_named_with_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(SettingsFileError, match=r"SLACK_BOT_TOKEN_FILE=.*absent.*No such file"):
        Settings()


def test_the_cli_reports_a_bad_secret_file_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN_FILE", str(tmp_path / "absent"))
    result = CliRunner().invoke(cli.main, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "SLACK_BOT_TOKEN_FILE" in result.output
    assert "Traceback" not in result.output


def test_a_secrets_directory_holds_files_named_after_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "SLACK_BOT_TOKEN").write_text("xoxb-from-dir\n")
    (tmp_path / "slack_signing_secret").write_text("signing-from-dir")
    monkeypatch.setenv("FRONTDESK_SECRETS_DIR", str(tmp_path))
    settings = Settings()
    assert settings.slack_configured
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-from-dir"


def test_the_environment_wins_over_the_secrets_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "SLACK_BOT_TOKEN").write_text("xoxb-from-dir")
    monkeypatch.setenv("FRONTDESK_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    token = Settings().slack_bot_token
    assert token is not None
    assert token.get_secret_value() == "xoxb-from-env"


def test_a_secrets_directory_that_is_not_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(SettingsFileError, match="is not a directory"):
        Settings()


def test_pool_sizes_for_a_server_for_lambda_and_as_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().db_pool() == (10, 20)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "frontdesk-http")
    assert Settings().on_lambda
    assert Settings().db_pool() == (1, 2)
    monkeypatch.setenv("FRONTDESK_DB_POOL_SIZE", "0")
    assert Settings().db_pool() == (0, 2)


def test_a_pool_size_of_zero_means_no_pool() -> None:
    from sqlalchemy.pool import NullPool, QueuePool

    from storage.db import Database

    url = "postgresql+psycopg://frontdesk@127.0.0.1:1/unused"  # create_engine never connects
    assert isinstance(Database(url, pool=(0, 0)).engine.pool, NullPool)
    pooled = Database(url, pool=(1, 2)).engine.pool
    assert isinstance(pooled, QueuePool)
    assert pooled.size() == 1
