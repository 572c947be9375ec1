"""The sandbox page in a real browser (Chromium through Playwright): requests submitted to
a running server in sandbox mode, one request's timeline opened, its Slack message drawn as
Slack draws it (header, fields, buttons, the requested time in the viewer's own zone, names
for mentions, the SLA re-ping as a thread reply, the claim), and screenshots at a phone's
and a laptop's width (kept in the test's tmp dir).

Skipped, with the reason, when Playwright or Chromium (/usr/bin/chromium) is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.components import Components, build_components
from bot.config import load_config
from bot.domain.relative_time import resolve_relative_start
from bot.domain.signing import signed_headers
from bot.messages.slack_render import format_slack_date
from storage.db import Database
from storage.migrate import upgrade
from tests.browser.conftest import LiveServer
from tests.conftest import EXAMPLE_CONFIG, WEBHOOK_SECRET, make_settings

VIEWER_ZONE = "Asia/Tokyo"


class ShiftedClock:
    """The real time (requests are stamped with it), moved forward to let the SLA run out."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


VIP = {
    "submission_id": "browser-vip",
    "name": "Dana Reyes",
    "email": "dana@majorclient.com",
    "company": "Major Client Inc",
    "notes": "Renewal talk <img src=x onerror=alert(1)> *not markup*",
    "timezone": "America/Phoenix",
    "requested_start": resolve_relative_start("+4wd 14:00", "America/Phoenix"),
}
AUTO = {
    "submission_id": "browser-auto",
    "name": "Jonas Okafor",
    "email": "jonas@northwind.example",
    "timezone": "America/Phoenix",
    "requested_start": resolve_relative_start("+3wd 08:00", "America/Phoenix"),
    "rep": "alice@ourco.example",
}


def _in_viewer_zone(local_start: str) -> str:
    """What Slack shows for `{date_short_pretty} {time}` in Tokyo (14:00 in Phoenix is
    06:00 the next day there)."""
    timestamp = int(datetime.fromisoformat(local_start).timestamp())
    return format_slack_date(
        timestamp, "{date_short_pretty} {time}", ZoneInfo(VIEWER_ZONE), datetime.now(UTC)
    )


@dataclass
class Live:
    url: str
    components: Components
    clock: ShiftedClock


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    """The real app served by uvicorn on 127.0.0.1, every service in sandbox mode."""
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    upgrade(url)
    db = Database(url)
    clock = ShiftedClock()
    components = build_components(
        make_settings(url), load_config(EXAMPLE_CONFIG), db=db, clock=clock
    )
    try:
        with LiveServer(components) as server:
            yield Live(server.url, components, clock)
    finally:
        db.dispose()


def _submit(live: Live, payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    headers = {**signed_headers(WEBHOOK_SECRET, body), "Content-Type": "application/json"}
    response = httpx.post(f"{live.url}/webhooks/booking", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _story(live: Live) -> tuple[str, str]:
    """A VIP request left unclaimed past the SLA (re-pinged in its thread), then claimed by
    its owner; and a request booked automatically."""
    vip = _submit(live, VIP)
    auto = _submit(live, AUTO)
    assert (vip["status"], auto["status"]) == ("escalated_vip", "booked_auto")
    live.clock.offset = timedelta(minutes=20)
    assert live.components.sla.tick()["pinged"] == 1
    escalation = live.components.escalations.get_by_request(vip["request_id"])
    assert escalation is not None and escalation.assignee
    live.components.triage.claim(vip["request_id"], escalation.assignee)
    return vip["request_id"], auto["request_id"]


def test_one_requests_timeline_reads_like_slack(live: Live, chromium: Any, tmp_path: Path) -> None:
    vip_id, _ = _story(live)
    context = chromium.new_context(timezone_id=VIEWER_ZONE, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live.url}/sandbox?request={vip_id}")

    (article,) = page.locator("article.request").all()
    header = article.locator("header").inner_text()
    assert "Dana Reyes" in header and vip_id in header
    assert "VIP: handed to a person · claimed by @olivia" in header

    titles = article.locator(".entry-title").all_inner_texts()
    assert titles[:2] == ["Request received", "The gate sent it to the VIP account's owner"]
    assert "Claimed by @olivia" in titles and "Outcome: VIP: handed to a person" in titles
    assert titles.index("Claimed by @olivia") > titles.index("Outcome: VIP: handed to a person")
    gate = article.locator("li.kind-gate").inner_text()
    assert "VIP account majorclient.com" in gate and "vip_domain:majorclient.com" in gate

    # The channel hears of it; the owner gets the ticket in a DM, buttons and all.
    notice = article.locator(".slack", has_text="#escalations").first.inner_text()
    assert "VIP request from Dana Reyes (Major Client Inc) — assigned to @olivia" in notice
    ticket = article.locator(".slack", has_text="Direct message to @olivia").first
    text = ticket.locator(".slack-message").first.inner_text()
    assert "VIP request" in text and "Client\nDana Reyes" in text
    for button in ("Claim", "Book", "Resolve"):
        assert ticket.get_by_role("button", name=button).first.is_visible()
    assert "Reassign to…" in text
    # Slack's <!date^…> in the viewer's zone (Tokyo), its fallback kept as the title.
    requested = ticket.locator("time.sk-date").first
    assert requested.inner_text() == _in_viewer_zone(VIP["requested_start"])
    assert requested.inner_text().endswith("6:00 AM")
    assert "Phoenix" in (requested.get_attribute("title") or "")
    assert "@olivia" in article.inner_text()  # <@U0OLIVIA> by name, not by id
    # The SLA re-ping is a reply in the escalation's thread, mentioning the ops group.
    thread = ticket.locator(".slack-thread")
    assert "1 reply" in thread.inner_text() and "@ops" in thread.inner_text()
    # The client's notes are text, never markup.
    assert page.locator("img[onerror]").count() == 0
    assert "<img src=x onerror=alert(1)>" in article.locator("li.kind-received").inner_text()

    raw = article.locator("details.raw").first
    assert not raw.locator("pre").is_visible()
    raw.locator("summary").click()
    assert "chat.postMessage" in raw.locator("pre").inner_text()

    page.screenshot(path=str(tmp_path / "timeline-1280.png"), full_page=True)
    phone = chromium.new_context(timezone_id=VIEWER_ZONE, viewport={"width": 375, "height": 812})
    small = phone.new_page()
    small.goto(f"{live.url}/sandbox?request={vip_id}")
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the page scrolls sideways on a phone"
    small.screenshot(path=str(tmp_path / "timeline-375.png"), full_page=True)
    assert (tmp_path / "timeline-375.png").stat().st_size > 10_000
    context.close()
    phone.close()


def test_filters_by_service_and_draws_the_email(live: Live, chromium: Any) -> None:
    _, auto_id = _story(live)
    page = chromium.new_page()
    page.goto(f"{live.url}/sandbox")
    assert page.locator("article.request").count() == 2
    page.select_option("select[name=service]", "email")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**service=email**")
    (article,) = page.locator("article.request").all()
    assert article.get_attribute("data-request-id") == auto_id
    assert "Booked automatically" in article.locator("header").inner_text()
    email = article.locator(".email").inner_text()
    assert "Confirmed: your meeting" in email and "To jonas@northwind.example" in email
    assert "invite.ics" in email and "with alice@ourco.example" in email
    assert article.locator(".email a[href^='https://meet.sandbox.invalid/']").count() == 1
    assert article.locator(".slack").count() == 0  # only the email among the messages
