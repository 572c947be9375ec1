"""SPEC §11 beyond the automatic Google booking: a VIP's move goes to the account owner
(a Slack DM with a Book button; the event untouched until the owner clicks), and a
Microsoft 365 booking is cancelled and moved through Graph (which tells attendees itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trustme
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.components import build_components
from bot.config import load_config
from bot.messages import manage_page as page
from bot.messages.ids import ActionId
from bot.providers import build_integrations
from integrations.microsoft import MicrosoftCalendar
from integrations.slack import SlackChat
from storage.db import Database
from storage.repositories import BookingRepository, ConnectionRepository, OutboxRepository
from testkit.fakes.graph import EVENT_CANCEL, EVENT_PATCH, EVENTS, FakeGraph
from testkit.fakes.postmark import FakePostmark
from testkit.fakes.slack import FakeSlack
from testkit.slack_payloads import interactive_body, message_action, slack_headers
from tests.conftest import FixedClock, make_settings, post_signed
from tests.integration.manage_harness import (
    ALICE,
    B_LABEL,
    MANAGE_LINK,
    OLIVIA,
    PUBLIC_URL,
    SLACK_SIGNING_SECRET,
    VIP_CLIENT,
    A,
    B,
    Frontdesk,
    running,
)
from tests.integration.one_rep_config import one_rep_config
from tests.slack_requests import wait_for

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FORM = "application/x-www-form-urlencoded"
STAMP = "%Y-%m-%dT%H:%M:%SZ"


# --------------------------------------------------------------------------- VIP


@pytest.fixture
def frontdesk(
    migrated_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Frontdesk]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with running(migrated_db, tmp_path) as frontdesk:
        yield frontdesk


def vip_booking(frontdesk: Frontdesk) -> tuple[str, str]:
    """A VIP request, booked at A by the account owner from Slack; (request id, link)."""
    answer = post_signed(
        frontdesk.client,
        {
            "submission_id": "vip-1",
            "name": "Vera Major",
            "email": VIP_CLIENT,
            "company": "Major Client",
            "timezone": "America/Phoenix",
            "requested_start": A.isoformat(),
            "rep": ALICE,
        },
    ).json()
    assert answer["status"] == "escalated_vip", answer
    request_id = str(answer["request_id"])
    triage = frontdesk.components.triage
    held = triage.hold(request_id, OLIVIA, ALICE, A, 30)
    assert not hasattr(held, "detail"), held
    request, booking = held  # type: ignore[misc]
    triage.complete_booking(request, booking, OLIVIA, None)
    (confirmation,) = frontdesk.emails("confirmation")
    return request_id, frontdesk.link(confirmation)


def owner_dm(frontdesk: Frontdesk) -> tuple[str, dict[str, Any]]:
    """(channel, message) of the move request in the owner's DM."""
    for (channel, _), message in frontdesk.slack.messages.items():
        for block in message.get("blocks") or []:
            if any(e.get("action_id") == ActionId.MOVE_BOOK for e in block.get("elements", [])):
                return channel, message
    raise AssertionError("no move request was posted")


@SQLITE_ONLY
def test_a_vip_move_goes_to_the_owner_and_their_book_click_moves_it(
    frontdesk: Frontdesk,
) -> None:
    request_id, link = vip_booking(frontdesk)
    posts_before = len(frontdesk.slack.posts())

    response = frontdesk.post(link, "reschedule", slot=B.strftime(STAMP))

    assert response.status_code == 202
    assert page.VIP_TITLE in response.text and B_LABEL in response.text
    assert frontdesk.google.calls("events.patch") == []
    booking = frontdesk.components.bookings.get_by_request(request_id)
    assert booking is not None and (booking.start, booking.version) == (A, 1)
    channel, message = owner_dm(frontdesk)
    assert any(c.params["users"] == OLIVIA for c in frontdesk.slack.calls("conversations.open"))
    assert channel.startswith("D") and str(int(B.timestamp())) in message["text"]
    assert len(frontdesk.slack.posts()) == posts_before + 1
    assert frontdesk.page(link)[0] == 200  # nothing moved: the link still works

    updates = len(frontdesk.slack.calls("chat.update"))
    payload = message_action(OLIVIA, channel, message, ActionId.MOVE_BOOK)
    body = interactive_body(payload)
    clicked = frontdesk.client.post(
        "/slack/events",
        content=body,
        headers=slack_headers(body, FORM, secret=SLACK_SIGNING_SECRET),
    )

    assert clicked.status_code == 200
    wait_for(lambda: len(frontdesk.slack.calls("chat.update")) > updates, what="the DM's redraw")
    assert len(frontdesk.google.calls("events.patch")) == 1
    moved = frontdesk.components.bookings.get_by_request(request_id)
    assert moved is not None and (moved.start, moved.version) == (B, 2)
    (email,) = frontdesk.emails("rescheduled")
    assert B_LABEL in email["Subject"]
    assert frontdesk.page(link)[0] == 410
    # The booking came from Slack: the move is told in its escalation's thread.
    (note,) = [p for p in frontdesk.slack.posts() if "moved the meeting" in p["text"]]
    escalation = frontdesk.components.escalations.get_by_request(request_id)
    assert escalation is not None and note["thread_ts"] == escalation.message_ts
    update = frontdesk.slack.calls("chat.update")[-1]
    assert update.params["channel"] == channel and f"<@{OLIVIA}>" in update.params["text"]


# --------------------------------------------------------------------------- Graph

BOB = "bob@ourco.example"
NEW_YORK = "America/New_York"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
MS_A = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # 10:00 EST, 16:00 in Berlin
MS_B = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # 09:00 EST


@pytest.fixture(scope="module")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("tls") / "fake-microsoft-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


class Graphdesk:
    def __init__(
        self, client: TestClient, graph: FakeGraph, postmark: FakePostmark, sleeps: list[float]
    ) -> None:
        self.client, self.graph, self.postmark = client, graph, postmark
        self.sleeps = sleeps  # what the Graph client waited before a retry

    def form_post(self, path: str, action: str, **fields: str) -> Any:
        html = self.client.get(path).text
        token = html.split('name="form_token" value="', 1)[1].split('"', 1)[0]
        return self.client.post(
            f"{path}/{action}", data={"form_token": token, **fields}, follow_redirects=False
        )


@pytest.fixture
def graphdesk(
    migrated_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ca_bundle: tuple[trustme.CA, Path],
) -> Iterator[Graphdesk]:
    ca, bundle = ca_bundle
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    path = tmp_path / "frontdesk.toml"
    path.write_text(
        one_rep_config(
            email=BOB,
            slack_id="U0BOB",
            zone="Europe/Berlin",
            provider="microsoft",
            calendars=[BOB],
            channel="C0ESCALATE",
        )
    )
    config = load_config(path)
    with ExitStack() as stack:
        graph = stack.enter_context(FakeGraph(mailboxes={BOB}, ca=ca))
        postmark = stack.enter_context(FakePostmark())
        slack = stack.enter_context(FakeSlack())
        settings = make_settings(
            migrated_db.url,
            **graph.settings(),
            frontdesk_public_url=PUBLIC_URL,
            **postmark.settings("bookings@ourco.example"),
            **slack.settings(SLACK_SIGNING_SECRET),
        )
        integrations = build_integrations(
            settings,
            config,
            outbox=OutboxRepository(migrated_db),
            bookings=BookingRepository(migrated_db),
            connections=ConnectionRepository(migrated_db),
        )
        assert integrations.slack_client is not None
        chat = SlackChat(
            integrations.slack_client, OutboxRepository(migrated_db), post_interval=0.0
        )
        sleeps: list[float] = []
        microsoft = MicrosoftCalendar(settings, sleep=sleeps.append)
        components = build_components(
            settings,
            config,
            db=migrated_db,
            clock=FixedClock(NOW),
            integrations=replace(
                integrations,
                calendars={**integrations.calendars, "microsoft": microsoft},
                chat=chat,
            ),
        )
        client = stack.enter_context(TestClient(create_app(components, recover_on_start=False)))
        yield Graphdesk(client, graph, postmark, sleeps)


def graph_instant(value: dict[str, str]) -> datetime:
    wall = datetime.fromisoformat(value["dateTime"])
    return wall.replace(tzinfo=ZoneInfo(value["timeZone"])).astimezone(UTC)


def book_on_graph(desk: Graphdesk, submission_id: str, start: datetime) -> str:
    answer = post_signed(
        desk.client,
        {
            "submission_id": submission_id,
            "name": "Dana Reyes",
            "email": "dana@northwind.example",
            "timezone": NEW_YORK,
            "requested_start": start.isoformat(),
            "rep": BOB,
        },
    ).json()
    assert answer["status"] == "booked_auto", answer
    (path,) = set(MANAGE_LINK.findall(desk.postmark.sent[-1]["TextBody"]))
    return str(path)


@SQLITE_ONLY
def test_a_graph_booking_is_moved_with_patch_and_cancelled_with_cancel(
    graphdesk: Graphdesk,
) -> None:
    link = book_on_graph(graphdesk, "ms-1", MS_A)
    (created,) = graphdesk.graph.events
    event_id = created.payload["id"]
    graphdesk.graph.throttle_next(EVENT_PATCH, retry_after=2)  # Graph's 429: wait, retry

    moved = graphdesk.form_post(link, "reschedule", slot=MS_B.strftime(STAMP))

    assert moved.status_code == 303, moved.text
    assert graphdesk.sleeps == [2.0]
    throttled, patch = graphdesk.graph.calls(EVENT_PATCH)
    assert throttled.body == patch.body
    assert patch.method == "PATCH" and patch.path.endswith(f"/events/{event_id}")
    assert graph_instant(patch.body["start"]) == MS_B
    assert len(graphdesk.graph.calls(EVENTS)) == 1  # no second event
    assert created.start == MS_B and created.payload["id"] == event_id
    email = graphdesk.postmark.sent[-1]
    assert email["Tag"] == "rescheduled" and email.get("Attachments") in (None, [])
    assert "9:00 AM EST" in email["Subject"]
    new_link = moved.headers["location"].removesuffix("?moved=1")

    cancelled = graphdesk.form_post(new_link, "cancel", reason="")

    assert cancelled.status_code == 200 and page.CANCELLED_TITLE in cancelled.text
    (cancel,) = graphdesk.graph.calls(EVENT_CANCEL)
    assert cancel.method == "POST" and cancel.path.endswith(f"/events/{event_id}/cancel")
    assert created.cancelled
    email = graphdesk.postmark.sent[-1]
    # No .ics on Microsoft: Graph tells the attendees itself.
    assert email["Tag"] == "cancellation" and email.get("Attachments") in (None, [])
    status = graphdesk.client.get(new_link)
    assert status.status_code == 200 and page.CANCELLED_TITLE in status.text
    assert len(graphdesk.graph.calls(EVENT_CANCEL)) == 1
