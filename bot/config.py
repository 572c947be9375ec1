"""Reading the TOML configuration (SPEC §2): the file, parsed and validated into
`bot.domain.config.Config`. Errors name the file, the key and the reason, and the process
refuses to start on any.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.domain.config import Config, DuplicateKeyError


class ConfigError(Exception):
    """A configuration problem a person can fix: file, key and reason."""


def _dotted(loc: tuple[Any, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def parse_config(data: dict[str, Any], source: str = "<config>") -> Config:
    """Validate already-parsed TOML; raise ConfigError listing every problem."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, DuplicateKeyError):
                loc = cause.loc
            message = str(cause) if cause is not None else error["msg"]
            problems.append(f"{source}: {_dotted(loc)}: {message}")
        raise ConfigError("\n".join(problems)) from None


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))
