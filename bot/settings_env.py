"""Settings variables read as `Settings` reads them, without pydantic-settings: the
environment (names in any case) wins over `NAME_FILE` (bot/settings_files.py), and both
over the default. `frontdesk report` needs only DATABASE_URL and FRONTDESK_CONFIG: reading
them here spares it building the whole `Settings`, a twentieth of its start-up. With
FRONTDESK_SECRETS_DIR set, `Settings` itself is asked: that source has rules of its own.
tests/unit/test_settings_env.py holds the two to `Settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///./var/frontdesk.db"
SECRETS_DIR_VARIABLE = "FRONTDESK_SECRETS_DIR"
FILE_SUFFIX = "_FILE"
BOTH_SET = "{name} and {name}_FILE are both set: keep one"
UNREADABLE = "{variable}={path} cannot be read: {reason}"


class SettingsFileError(ValueError):
    """A secret file named in the environment that cannot be used; says which and why."""


def file_variable(name: str, environ: Mapping[str, str]) -> str | None:
    """The value `NAME_FILE` gives `name` (its file's content, stripped), or None when it
    is not set; `environ` has upper-case keys. Both set is refused.
    """
    variable = name.upper() + FILE_SUFFIX
    path = environ.get(variable)
    if not path:
        return None
    if environ.get(name.upper()) is not None:
        raise SettingsFileError(BOTH_SET.format(name=name.upper()))
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SettingsFileError(
            UNREADABLE.format(variable=variable, path=path, reason=reason)
        ) from None


@dataclass(frozen=True)
class ReportSettings:
    """What `frontdesk report` reads of the settings."""

    database_url: str
    frontdesk_config: str | None


def report_settings() -> ReportSettings:
    if os.environ.get(SECRETS_DIR_VARIABLE):
        from bot.settings import Settings

        settings = Settings()
        return ReportSettings(settings.database_url, settings.frontdesk_config)
    # As pydantic-settings matches names without case: the last spelling listed wins.
    lower = {key.lower(): value for key, value in os.environ.items()}
    upper = {key.upper(): value for key, value in os.environ.items()}

    def value(name: str) -> str | None:
        # The file is read (and both set refused) even when the variable wins, as Settings does.
        return lower.get(name, file_variable(name, upper))

    database_url = value("database_url")
    return ReportSettings(
        database_url=DEFAULT_DATABASE_URL if database_url is None else database_url,
        frontdesk_config=value("frontdesk_config"),
    )
