"""Settings read from files, for containers and orchestrators that hand secrets over as
files rather than environment variables (Docker and Kubernetes secrets, systemd
credentials):

* `NAME_FILE=/run/secrets/slack_bot_token`: the value of `NAME` is that file's content
  (the convention of the official PostgreSQL image); setting both is refused.
* `FRONTDESK_SECRETS_DIR=/run/secrets`: any variable may be a file of its name in that
  directory (`SLACK_BOT_TOKEN` or `slack_bot_token`), pydantic-settings' own secrets source.

Surrounding whitespace (the trailing newline an editor adds) is not part of a value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SecretsSettingsSource

from bot.settings_env import SECRETS_DIR_VARIABLE, SettingsFileError, file_variable

__all__ = ["SettingsFileError", "file_sources"]

NOT_A_DIRECTORY = "FRONTDESK_SECRETS_DIR={path} is not a directory"


class FileVariablesSource(PydanticBaseSettingsSource):
    """`NAME_FILE` variables: each names the file holding the value of `NAME`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ reads every field at once.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environ = {key.upper(): value for key, value in os.environ.items()}
        values: dict[str, Any] = {}
        for name in self.settings_cls.model_fields:
            value = file_variable(name, environ)
            if value is not None:
                values[name] = value
        return values


def file_sources(settings_cls: type[BaseSettings]) -> list[PydanticBaseSettingsSource]:
    """The file sources in order of precedence: `NAME_FILE`, then the secrets directory."""
    sources: list[PydanticBaseSettingsSource] = [FileVariablesSource(settings_cls)]
    directory = os.environ.get(SECRETS_DIR_VARIABLE)
    if directory:
        if not Path(directory).is_dir():
            raise SettingsFileError(NOT_A_DIRECTORY.format(path=directory))
        sources.append(SecretsSettingsSource(settings_cls, secrets_dir=directory))
    return sources
