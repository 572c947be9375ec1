"""The Slack Home tab (issue #6): a signed `app_home_opened` event to the real app makes
the fake Slack receive `views.publish` with the KPIs of the last 7 and 30 days, the
viewer's open escalations and every rep's calendar connection.

History from tests/integration/kpi_weeks.py; "now" is Mon 23 Nov 2026 15:00 UTC, so the
last 7 days hold the week of 16 Nov and the last 30 days both weeks:

  last 7 days:  4/20 = 20.0 %; claim 300 600 1200 2400 s -> p50 10 min, p90 40 min;
                resolution 1800 3600 7200 + e4 open 14 h (50400 s) -> p50 60 min, p90 14.0 h
  last 30 days: 6/40 = 15.0 % (the band's top, still healthy);
                claim 300 300 600 900 1200 2400 -> p50 10 min, p90 40 min;
                resolution 1200 1800 2400 3600 7200 50400 -> p50 40 min, p90 14.0 h;
                SLA breaches 2 (900 s is not over 15 min)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.messages.home import QUEUE
from storage.models import RequestStatus
from testkit.fakes.slack import FakeSlack, FakeUser
from testkit.slack_payloads import BOT_TOKEN, JSON, event_body, event_callback
from tests.conftest import FixedClock
from tests.integration.kpi_seed import Seeder
from tests.integration.kpi_weeks import seed_fortnight
from tests.slack_requests import SlackHarness, harnesses, wait_for

OMAR = FakeUser("U0OMAR", "omar@ourco.example")
NOBODY = FakeUser("U0NOBODY", "nobody@ourco.example")
CONNECT = "http://127.0.0.1:3000/oauth/google/start?rep="  # FRONTDESK_PUBLIC_URL's default


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack(token=BOT_TOKEN, users=[OMAR, NOBODY]) as fake:
        yield fake


@pytest.fixture
def slack(database_url: str, fake: FakeSlack, clock: FixedClock) -> Iterator[SlackHarness]:
    with harnesses(database_url, fake, clock) as start:
        yield start()


def open_home(slack: SlackHarness, user: FakeUser) -> dict[str, Any]:
    """Open the Home tab as `user`; the view the app published, validated by slack_sdk."""
    published = len(slack.fake.calls("views.publish"))
    event = {
        "type": "app_home_opened",
        "user": user.id,
        "channel": "D" + user.id[1:],
        "tab": "home",
    }
    response = slack.post(event_body(event_callback(event)), JSON)
    assert response.status_code == 200, response.text
    wait_for(lambda: len(slack.fake.calls("views.publish")) > published, what="views.publish")
    call = slack.fake.calls("views.publish")[-1]
    assert call.params["user_id"] == user.id
    view = call.params["view"]
    parsed = View(**view)
    parsed.validate_json()
    assert parsed.to_dict() == view
    return dict(view)


def period_fields(view: dict[str, Any], label: str) -> list[str]:
    [section] = [
        b for b in view["blocks"] if b["type"] == "section" and b["text"]["text"] == f"*{label}*"
    ]
    return [field["text"] for field in section["fields"]]


def section_after(view: dict[str, Any], heading: str) -> str:
    texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section" and "text" in b]
    return next(t for t in texts if t.startswith(heading))


def test_the_home_tab_shows_the_kpis_your_escalations_and_every_connection(
    slack: SlackHarness,
) -> None:
    seeded = seed_fortnight(slack.components.db)
    connections = slack.components.connections
    connections.save_connected("alice@ourco.example", "google", refresh_token=None, scopes=[])
    connections.mark_broken("dmitri@ourco.example", "google", "invalid_grant: token revoked")

    view = open_home(slack, OMAR)

    assert view["type"] == "home"
    text = str(view)
    assert QUEUE.format(open=1, unclaimed=0) in text
    assert period_fields(view, "Last 7 days") == [
        "*Intervention rate*\n:large_orange_circle: 20.0% — too restrictive",
        "*Requests*\n20 finished, 4 escalated",
        "*Time to claim*\np50 10 min · p90 40 min",
        "*Time to resolution*\np50 60 min · p90 14.0 h (1 still open)",
        "*No-show rate*\nauto-booked 20.0% · human-handled 50.0%",
        "*VIP conversion*\n50% (1 of 2 booked)",
        "*SLA breaches*\n2 of 4 (claimed after 15 min)",
        "*Client changes*\n0 cancelled · 0 rescheduled",
    ]
    drivers = section_after(view, "*What drives it*")
    assert "• `keyword:urgent`: 2 (10.0% of requests)" in drivers
    assert "• `vip_domain:majorclient.com`: 2 (10.0% of requests)" in drivers
    assert period_fields(view, "Last 30 days") == [
        "*Intervention rate*\n:large_green_circle: 15.0% — healthy",
        "*Requests*\n40 finished, 6 escalated",
        "*Time to claim*\np50 10 min · p90 40 min",
        "*Time to resolution*\np50 40 min · p90 14.0 h (1 still open)",
        "*No-show rate*\nauto-booked 20.0% · human-handled 50.0%",
        "*VIP conversion*\n50% (1 of 2 booked)",
        "*SLA breaches*\n2 of 6 (claimed after 15 min)",
        "*Client changes*\n0 cancelled · 0 rescheduled",
    ]
    assert text.count("*What drives it*") == 1  # the healthy 30 days have none

    # Omar claimed e4, still open (never posted to Slack, so no permalink: its id).
    yours = section_after(view, "*Yours*")
    assert f":star: VIP request: {seeded.open_vip_client} — `{seeded.open_vip}`" in yours

    health = section_after(view, "*Calendar connections*")
    assert health.splitlines()[1:] == [
        "• :white_check_mark: alice@ourco.example — Google Calendar: connected",
        "• :white_check_mark: bruno@ourco.example — Microsoft 365: connected",
        "• :heavy_minus_sign: chen@ourco.example — Google Calendar: not connected yet. "
        f"<{CONNECT}chen@ourco.example|Connect the calendar>",
        "• :warning: dmitri@ourco.example — Google Calendar: *broken*: invalid_grant: token "
        f"revoked. <{CONNECT}dmitri@ourco.example|Reconnect>",
    ]


def test_a_new_installation_shows_dashes_and_nothing_for_you(slack: SlackHarness) -> None:
    view = open_home(slack, NOBODY)

    assert period_fields(view, "Last 7 days")[:3] == [
        "*Intervention rate*\n:white_circle: - — no requests",
        "*Requests*\n0 finished, 0 escalated",
        "*Time to claim*\np50 - · p90 -",
    ]
    assert "Nothing assigned to or claimed by you." in section_after(view, "*Yours*")
    assert "not connected yet" in section_after(view, "*Calendar connections*")


def test_an_escalation_without_a_permalink_shows_its_request_id_and_the_rest_still_publishes(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    # Two open escalations of Omar's, both posted to the channel; Slack then refuses the
    # first one's permalink (its message deleted since, say).
    seed = Seeder(slack.components.db)
    opened = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    escalations = slack.components.escalations
    chat = slack.components.integrations.chat
    gone, kept = (
        seed.escalation(RequestStatus.ESCALATED_VIP, opened + timedelta(minutes=n), ["vip"])
        for n in (0, 1)
    )
    for request_id in (gone, kept):
        assert escalations.claim(request_id, OMAR.id, opened + timedelta(minutes=5))
        posted = chat.post_message("C0ESCALATE", "escalated", [], dedupe_key=request_id)
        escalation = slack.escalation(request_id)
        assert escalation.id is not None
        escalations.mark_notified(escalation.id, posted.channel, posted.ts)
    slack.fake.fail_next("chat.getPermalink", "message_not_found")

    with caplog.at_level(logging.WARNING, logger="frontdesk.home"):
        view = open_home(slack, OMAR)

    assert len(slack.fake.calls("chat.getPermalink")) == 2
    yours = section_after(view, "*Yours*").splitlines()
    assert yours[1].endswith(f"— `{gone}`")
    kept_ts = slack.escalation(kept).message_ts or ""
    assert yours[2].endswith(f"/p{kept_ts.replace('.', '')}|open>")
    assert period_fields(view, "Last 7 days")  # the KPIs are there too
    [warning] = [r for r in caplog.records if r.name == "frontdesk.home"]
    assert warning.getMessage() == "no permalink for the Home tab"
    assert getattr(warning, "request_id", None) == gone
