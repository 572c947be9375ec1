"""The real app with Google, Postmark, Slack and Twilio as real clients against our fakes,
for the manage link's tests (SPEC §11): book through the intake webhook, then follow the
link in the confirmation email as a browser would.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from icalendar import Calendar

from bot.app import create_app
from bot.components import Components, build_components
from bot.config import load_config
from bot.providers import build_integrations
from integrations.slack import SlackChat
from storage.crypto import TokenCipher
from storage.db import Database
from storage.repositories import BookingRepository, ConnectionRepository, OutboxRepository
from testkit.fakes.google import FakeGoogle
from testkit.fakes.postmark import FakePostmark
from testkit.fakes.slack import FakeSlack
from testkit.fakes.twilio import FakeTwilio
from tests.conftest import FixedClock, make_settings, post_signed
from tests.integration.one_rep_config import one_rep_config

ALICE = "alice@ourco.example"
OLIVIA = "U0OLIVIA"
CHANNEL = "C0ESCALATE"
CLIENT = "dana@northwind.example"
VIP_CLIENT = "vera@majorclient.com"
SENDER = "bookings@ourco.example"
PHOENIX = "America/Phoenix"
NEW_YORK = "America/New_York"
PHONE = "+16025550143"
PUBLIC_URL = "http://testserver"
KEY = Fernet.generate_key().decode()
SLACK_SIGNING_SECRET = "fake-slack-signing-secret"

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday
# Tue 1 Dec 14:00 MST (16:00 EST) and Wed 2 Dec 13:00 MST (15:00 EST).
A = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
B = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
A_LABEL = "2:00 PM MST"
B_LABEL = "1:00 PM MST"
MEETING = timedelta(minutes=30)
DAY = timedelta(days=1)

CONFIG = (
    one_rep_config(
        email=ALICE,
        slack_id="U0ALICE",
        zone=NEW_YORK,
        provider="google",
        calendars=[ALICE],
        channel=CHANNEL,
    )
    + f"""
[[vip]]
domain = "majorclient.com"
owner_email = "olivia@ourco.example"
owner_slack_id = "{OLIVIA}"
"""
)

MANAGE_LINK = re.compile(re.escape(PUBLIC_URL) + r"(/manage/[A-Za-z0-9._-]+)")
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


@dataclass
class Frontdesk:
    client: TestClient
    components: Components
    clock: FixedClock
    google: FakeGoogle
    postmark: FakePostmark
    slack: FakeSlack
    twilio: FakeTwilio

    def book(self, submission_id: str, start: datetime = A, **overrides: Any) -> str:
        """A booked_auto request (by default at A, with SMS); its request id."""
        body = {
            "submission_id": submission_id,
            "name": "Dana Reyes",
            "email": CLIENT,
            "phone": PHONE,
            "sms_opt_in": True,
            "company": "Northwind",
            "notes": "Looking forward to the demo.",
            "timezone": PHOENIX,
            "requested_start": start.isoformat(),
            "duration_minutes": 30,
            "rep": ALICE,
            **overrides,
        }
        answer = post_signed(self.client, body).json()
        return str(answer["request_id"])

    def emails(self, tag: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.postmark.sent if tag is None or e.get("Tag") == tag]

    def link(self, email: dict[str, Any]) -> str:
        """The manage link's path in an email (text and HTML must agree)."""
        (path,) = set(MANAGE_LINK.findall(email["TextBody"]))
        assert path in email["HtmlBody"]
        return str(path)

    def page(self, path: str) -> tuple[int, str]:
        response = self.client.get(path)
        return response.status_code, response.text

    def form_token(self, path: str) -> str:
        status, html = self.page(path)
        assert status == 200, html
        return str(FORM_TOKEN.findall(html)[0])

    def post(self, path: str, action: str, token: str | None = None, **fields: str) -> Any:
        """A form post from the page at `path` (with its form token, or `token`)."""
        token = token or self.form_token(path)
        return self.client.post(
            f"{path}/{action}",
            data={"form_token": token, **fields},
            follow_redirects=False,
        )

    def tick(self, at: datetime) -> dict[str, int]:
        self.clock.now = at
        return dict(self.components.dispatcher.tick())


def ics_event(email: dict[str, Any]) -> Any:
    """(METHOD, the VEVENT) of an email's .ics attachment."""
    (attachment,) = email["Attachments"]
    calendar = Calendar.from_ical(base64.b64decode(attachment["Content"]))
    (event,) = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), event


def connect(client: TestClient) -> None:
    start = client.get("/oauth/google/start", params={"rep": ALICE}, follow_redirects=False)
    consent = requests.get(start.headers["location"], allow_redirects=False, timeout=5)
    callback = client.get(str(consent.headers["location"]).removeprefix(PUBLIC_URL))
    assert callback.status_code == 200, callback.text


@contextmanager
def running(db: Database, tmp_path: Path) -> Iterator[Frontdesk]:
    path = tmp_path / "frontdesk.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    with ExitStack() as stack:
        google = stack.enter_context(FakeGoogle(calendars=[ALICE]))
        postmark = stack.enter_context(FakePostmark())
        slack = stack.enter_context(FakeSlack())
        twilio = stack.enter_context(FakeTwilio())
        settings = make_settings(
            db.url,
            **google.settings(),
            frontdesk_encryption_key=KEY,
            frontdesk_public_url=PUBLIC_URL,
            **postmark.settings(SENDER),
            **slack.settings(SLACK_SIGNING_SECRET),
            **twilio.settings(),
        )
        clock = FixedClock(NOW)
        integrations = build_integrations(
            settings,
            config,
            outbox=OutboxRepository(db),
            bookings=BookingRepository(db),
            connections=ConnectionRepository(db, TokenCipher(KEY)),
        )
        assert integrations.slack_client is not None
        chat = SlackChat(integrations.slack_client, OutboxRepository(db), post_interval=0.0)
        components = build_components(
            settings, config, db=db, clock=clock, integrations=replace(integrations, chat=chat)
        )
        client = stack.enter_context(TestClient(create_app(components, recover_on_start=False)))
        connect(client)
        yield Frontdesk(client, components, clock, google, postmark, slack, twilio)
