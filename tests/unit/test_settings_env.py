"""`frontdesk report` reads DATABASE_URL and FRONTDESK_CONFIG without building `Settings`
(bot/settings_env.py): the same values from the same places, and the same refusals.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import cli
from bot.settings import Settings
from bot.settings_env import DEFAULT_DATABASE_URL, report_settings
from bot.settings_files import SettingsFileError

NAMES = ("DATABASE_URL", "FRONTDESK_CONFIG", "FRONTDESK_SECRETS_DIR")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper() in NAMES or key.upper().removesuffix("_FILE") in NAMES:
            monkeypatch.delenv(key)


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# Variables to set, "{tmp}" standing for a folder holding the files `FILES` lists.
FILES = {"url": "postgresql+psycopg://db/x\n", "config": " b.toml ", "DATABASE_URL": "sqlite:///d"}
SETUPS = {
    "nothing set": {},
    "variables": {"DATABASE_URL": "sqlite:///x.db", "FRONTDESK_CONFIG": "a.toml"},
    "lower-case names": {"database_url": "sqlite:///lower.db"},
    "empty values": {"DATABASE_URL": "", "FRONTDESK_CONFIG": ""},
    "files": {"DATABASE_URL_FILE": "{tmp}/url", "frontdesk_config_file": "{tmp}/config"},
    "a secrets directory": {"FRONTDESK_SECRETS_DIR": "{tmp}", "FRONTDESK_CONFIG": "c.toml"},
}


@pytest.mark.parametrize("setup", SETUPS)
def test_the_same_values_as_settings(
    setup: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, text in FILES.items():
        _file(tmp_path, name, text)
    for name, value in SETUPS[setup].items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    full, light = Settings(), report_settings()
    assert (light.database_url, light.frontdesk_config) == (
        full.database_url,
        full.frontdesk_config,
    )
    if setup == "nothing set":
        assert (light.database_url, light.frontdesk_config) == (DEFAULT_DATABASE_URL, None)


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"DATABASE_URL": "sqlite:///x.db", "DATABASE_URL_FILE": "{tmp}/url"}, "both set"),
        ({"FRONTDESK_CONFIG_FILE": "{tmp}/absent"}, "FRONTDESK_CONFIG_FILE=.*absent.*No such"),
        ({"FRONTDESK_SECRETS_DIR": "{tmp}/nowhere"}, "is not a directory"),
    ],
)
def test_the_same_refusals_as_settings(
    environment: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _file(tmp_path, "url", "sqlite:///file.db")
    for name, value in environment.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    with pytest.raises(SettingsFileError, match=message) as full:
        Settings()
    with pytest.raises(SettingsFileError, match=message) as light:
        report_settings()
    assert str(light.value) == str(full.value)
    result = CliRunner().invoke(cli.main, ["report"])
    assert result.exit_code == 1
    assert str(full.value) in result.output
    assert "Traceback" not in result.output
