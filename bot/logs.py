"""Structured logs: one JSON object per line, emails masked, secrets never printed, and the
client's own words (name, phone, company, notes) never printed either (SPEC §9).

Code that handles a client's request names the client's values once (`client_data`); every
line logged meanwhile, exception messages and tracebacks included, has them replaced. That
also covers what a library echoes back, such as PostgreSQL's "Failing row contains (…)".
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from bot.domain.privacy import redact

# Field names that hold credentials. Not every "*_key": a dedupe or idempotency key is an id.
_SECRET_MARKERS = ("token", "secret", "password", "authorization", "signature", "credential")
_SECRET_SUFFIXES = ("api_key", "private_key", "encryption_key", "signing_key")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# uvicorn adds `color_message`, its message again with terminal colours: noise in JSON.
_DROPPED = {"color_message"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """Terminal colour codes removed: a JSON line is read by machines, not a terminal."""
    return _ANSI.sub("", text)


def _clean(key: str, value: Any) -> Any:
    name = key.lower()
    if any(marker in name for marker in _SECRET_MARKERS) or name.endswith(_SECRET_SUFFIXES):
        return "[redacted]"
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_clean(key, item) for item in value]
    if isinstance(value, dict):
        return {k: _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(strip_ansi(record.getMessage())),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _DROPPED and not key.startswith("_"):
                entry[key] = _clean(key, value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


TOKEN_LOGGING_LIBRARIES = ("requests_oauthlib", "oauthlib", "msal", "urllib3", "httplib2")
# Libraries whose INFO lines repeat what our own lines say better: APScheduler logs two
# lines per job run ("job ran" has the counts), alembic one per plugin it loads.
CHATTY_LIBRARIES = ("apscheduler", "alembic.runtime.plugins")
# Libraries that log request and response bodies (clients' names and notes in Slack
# messages and emails, result rows) at DEBUG; Twilio's client logs the SMS it sends at INFO.
BODY_LOGGING_LIBRARIES = (
    "frontdesk.bolt",
    "frontdesk.slack.sdk",
    "slack_bolt",
    "slack_sdk",
    "sqlalchemy",
    "googleapiclient",
    "postmarker",
    "httpx",
    "httpcore",
)
INFO_BODY_LOGGING_LIBRARIES = ("twilio.http_client",)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Our access line replaces uvicorn's, which would log without request ids.
    logging.getLogger("uvicorn.access").disabled = True
    # These libraries log whole token responses (refresh tokens included) at DEBUG.
    for name in TOKEN_LOGGING_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in BODY_LOGGING_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    for name in INFO_BODY_LOGGING_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
