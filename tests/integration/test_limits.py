"""What one request may cost (issue: hardening): bodies are counted while they stream in on
every POST route, a body that never finishes is cut off, and Slack's endpoint checks the
signature before Bolt parses anything.

The body tests drive the real app as an ASGI server would, with a client that would send
forever: they count how much of the body the app pulled before it answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.components import build_components
from bot.domain.config import Config
from handlers.slack_events import MAX_SLACK_BODY_BYTES
from storage.db import Database
from testkit.slack_payloads import BOT_TOKEN, FORM, JSON, SIGNING_SECRET, slack_headers
from tests.conftest import make_settings

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
KIB = 1024
CHUNK = b"x" * KIB
REAL_SLACK_AND_TWILIO = {
    "slack_bot_token": BOT_TOKEN,
    "slack_signing_secret": SIGNING_SECRET,
    "slack_api_url": "http://127.0.0.1:9/api/",  # never called: nothing gets that far
    "twilio_account_sid": "AC" + "0" * 32,
    "twilio_auth_token": "twilio-token",
    "twilio_from": "+16025550100",
}


@pytest.fixture
def app(migrated_db: Database, example_config: Config) -> Iterator[FastAPI]:
    settings = make_settings(
        migrated_db.url,
        frontdesk_body_timeout_seconds=0.2,
        frontdesk_allow_mixed=True,
        **REAL_SLACK_AND_TWILIO,
    )
    yield create_app(build_components(settings, example_config, db=migrated_db))


class EndlessClient:
    """An ASGI `receive` that sends 1 KiB chunks "forever" (4 MiB, so an app that reads it
    all still ends), or (`stall`) sends nothing for far too long.
    """

    def __init__(self, *, stall: bool = False) -> None:
        self.pulled = 0
        self.stall = stall

    async def receive(self) -> dict[str, Any]:
        if self.stall:  # far past the app's 0.2 s body deadline; then an empty body
            await asyncio.sleep(5)
            return {"type": "http.request", "body": b"", "more_body": False}
        self.pulled += 1
        await asyncio.sleep(0)
        return {"type": "http.request", "body": CHUNK, "more_body": self.pulled < 4 * KIB}


def _call(app: FastAPI, path: str, client: EndlessClient, headers: list[tuple[bytes, bytes]]):
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, client.receive, send))
    start = next(message for message in sent if message["type"] == "http.response.start")
    return start["status"]


CHUNKED = [(b"transfer-encoding", b"chunked"), (b"content-type", FORM.encode())]


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/slack/events", MAX_SLACK_BODY_BYTES),
        ("/webhooks/twilio/inbound", 64 * KIB),
        ("/webhooks/twilio/status", 64 * KIB),
        ("/webhooks/booking", 64 * KIB),
    ],
)
def test_an_endless_body_is_refused_at_the_limit_not_read_to_the_end(app, path, limit):
    client = EndlessClient()
    assert _call(app, path, client, CHUNKED) == 413
    # Once read whole before the size check: a 1,000 MB post took 2 GB of memory.
    assert client.pulled <= limit // KIB + 1


@SQLITE_ONLY
@pytest.mark.parametrize("path", ["/slack/events", "/webhooks/twilio/inbound", "/webhooks/booking"])
def test_a_declared_length_over_the_limit_is_refused_before_reading(app, path):
    client = EndlessClient()
    declared = [(b"content-length", str(2 * MAX_SLACK_BODY_BYTES).encode())]
    assert _call(app, path, client, declared) == 413
    assert client.pulled == 0


@SQLITE_ONLY
@pytest.mark.parametrize("path", ["/slack/events", "/webhooks/booking"])
def test_a_body_that_never_arrives_is_cut_off(app, path):
    assert _call(app, path, EndlessClient(stall=True), CHUNKED) == 408


# -- /slack/events checks the signature before Bolt parses --------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{not json", JSON), (b"payload=%7Bnot-json", FORM), (b"payload=%5B%5D", FORM)],
)
def test_a_malformed_slack_body_is_a_4xx_without_a_traceback(app, caplog, body, content_type):
    client = TestClient(app, raise_server_exceptions=False)
    caplog.set_level(logging.DEBUG)
    unsigned = client.post("/slack/events", content=body, headers={"Content-Type": content_type})
    assert unsigned.status_code == 401
    signed = client.post("/slack/events", content=body, headers=slack_headers(body, content_type))
    assert signed.status_code == 400
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []
