"""What a newcomer meets first: the landing page at GET /, and the shipped example request
whose `submission_id` shows an idempotent replay (README, "Try it")."""

from __future__ import annotations

import json
import re

import pytest

from bot.domain.relative_time import resolve_relative_start
from tests.conftest import ROOT, post_signed

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_landing_page_links_booking_sandbox_docs_and_health(make_app):
    client, _ = make_app()
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    links = set(re.findall(r'href="([^"]+)"', page.text))
    assert {"/book", "/sandbox", "/docs", "/healthz"} <= links
    assert "sandbox mode" in page.text  # the example config runs every service sandboxed
    for target in ("/sandbox", "/docs", "/healthz"):
        assert client.get(target).status_code == 200, target


@SQLITE_ONLY
def test_the_replay_example_is_answered_once_then_replayed(make_app):
    client, _ = make_app()
    payload = json.loads((ROOT / "examples" / "requests" / "replay.json").read_text())
    assert payload["submission_id"]
    payload["requested_start"] = resolve_relative_start(
        payload["requested_start"], payload["timezone"]
    )
    first = post_signed(client, payload)
    second = post_signed(client, payload)
    assert first.status_code == second.status_code == 200, first.text
    assert "Idempotent-Replay" not in first.headers
    assert second.headers["Idempotent-Replay"] == "true"
    assert second.json() == first.json()
