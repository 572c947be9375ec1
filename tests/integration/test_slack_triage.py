"""Slack triage (SPEC §4, issue #3) through real HTTP: escalations come in through the intake
webhook, people click and submit signed Slack requests at /slack/events, and the real
WebClient carries every reply to the fake Slack Web API, where the tests look.

Calendars and email stay in sandbox mode: only Slack is real here. Flows that settle a
compare-and-set in the database run on SQLite and PostgreSQL; the wire-only ones on SQLite.
"""

from __future__ import annotations

import calendar
import logging
import threading
import time as clock_time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.reasons import describe
from bot.messages.ids import ActionId, BlockId, CallbackId
from bot.scheduler import upkeep
from bot.services.triage import ALREADY_CLAIMED, ALREADY_RESOLVED, NOT_ALLOWED
from handlers.actions import REP_CALENDAR_UNREADABLE
from handlers.slack_events import SLACK_NOT_CONFIGURED
from handlers.views import PICK_A_SLOT, SLOT_TAKEN
from storage.models import BookingStatus
from storage.statuses import Outcome
from testkit.fakes.slack import FakeSlack, FakeUser
from testkit.slack_payloads import FORM, interactive_body
from tests.conftest import FixedClock
from tests.integration.conftest import StartApp
from tests.slack_requests import SlackHarness, wait_for

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CHANNEL = "C0ESCALATE"
OPS = "S0OPS"
OMAR = FakeUser("U0OMAR", "omar@ourco.example", tz="Europe/London")  # in the ops group
PRIYA = FakeUser("U0PRIYA", "priya@ourco.example", tz="Asia/Kolkata")  # in the ops group
ZED = FakeUser("U0ZED", "zed@ourco.example", tz="America/Chicago")  # not in it
OLIVIA = FakeUser("U0OLIVIA", "olivia@ourco.example")  # majorclient.com's owner, by id
MARCUS = FakeUser("U0MARCUS", "marcus@ourco.example", tz="Europe/Berlin")  # bigcorp.net's
USERS = [OMAR, PRIYA, ZED, OLIVIA, MARCUS]

TUESDAY_2PM_PHOENIX = "2026-12-01T14:00:00-07:00"
TUESDAY_2PM_UNIX = calendar.timegm((2026, 12, 1, 21, 0, 0))


def urgent(submission_id: str, **fields: Any) -> dict[str, Any]:
    """A request the gate sends to manual review (the keyword "urgent")."""
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": "dana@northwind.example",
        "company": "Northwind",
        "phone": "+16025550143",
        "notes": "Urgent: we need a demo before the board meeting",
        "timezone": "America/Phoenix",
        "requested_start": TUESDAY_2PM_PHOENIX,
        "rep": "alice@ourco.example",
        **fields,
    }


def all_text(value: Any) -> str:
    """Every `text` string in a message or its blocks, one per line."""
    if isinstance(value, dict):
        return "\n".join(
            item if key == "text" and isinstance(item, str) else all_text(item)
            for key, item in value.items()
        )
    if isinstance(value, list):
        return "\n".join(all_text(item) for item in value)
    return ""


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def options(view: dict[str, Any], block_id: str) -> list[dict[str, Any]]:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    element = block["element"]
    groups = element.get("option_groups", [])
    return element.get("options", []) + [o for g in groups for o in g["options"]]


@pytest.fixture
def slack_users() -> list[FakeUser]:
    return USERS


@pytest.fixture
def slack_usergroups() -> dict[str, list[str]]:
    return {OPS: [OMAR.id, PRIYA.id]}


@pytest.fixture
def harness_options() -> dict[str, Any]:
    return {}  # paced like Slack


@pytest.fixture
def slack(start: StartApp) -> SlackHarness:
    """The app with no ops user group: anyone may act."""
    return start()


def escalate(slack: SlackHarness, submission_id: str = "triage-1", **fields: Any) -> str:
    body = slack.intake(urgent(submission_id, **fields))
    assert body["status"] == "escalated_manual_review", body
    return str(body["request_id"])


def updates(fake: FakeSlack) -> list[dict[str, Any]]:
    return [call.params for call in fake.calls("chat.update")]


def ephemerals(fake: FakeSlack, user: FakeUser) -> list[str]:
    calls = fake.calls("chat.postEphemeral")
    return [c.params["text"] for c in calls if c.params["user"] == user.id]


def posted_ts(fake: FakeSlack, channel: str = CHANNEL) -> str:
    """The ts of the one message posted to `channel`."""
    [ts] = [ts for posted_in, ts in fake.messages if posted_in == channel]
    return ts


def opened_view(
    slack: SlackHarness, fake: FakeSlack, user: FakeUser, request_id: str, action: str
) -> str:
    """Click a button that opens a modal; the modal's id once it is filled in (it opens
    at once as "Finding free slots…" and is then updated with the real content).
    """
    before = set(fake.views)
    slack.click(user.id, request_id, action)
    [view_id] = wait_for(lambda: sorted(set(fake.views) - before), what=f"views.open ({action})")
    wait_for(
        lambda: any(c.params.get("view_id") == view_id for c in fake.calls("views.update")),
        what=f"the modal filled in ({action})",
    )
    return view_id


# ------------------------------------------------------------------ the escalation message


def test_the_escalation_is_posted_with_the_actions_people_need(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    request_id = escalate(slack)

    [call] = fake.calls("chat.postMessage")
    assert call.params["channel"] == CHANNEL
    blocks = call.params["blocks"]
    assert blocks[0]["type"] == "header"
    assert "Manual review" in blocks[0]["text"]["text"]
    text = all_text(blocks)
    for shown in ("Dana Reyes", "dana@northwind.example", "Northwind", "+16025550143"):
        assert shown in text
    assert f"<!date^{TUESDAY_2PM_UNIX}^{{date_short_pretty}} {{time}}|" in text
    assert describe("keyword:urgent") in text  # "Notes mention *urgent*", not the code
    assert "keyword:urgent" not in text
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert actions["block_id"] == f"escalation:{request_id}"
    assert action_ids(blocks) == ["claim", "book", "reassign", "resolve"]
    by_id = {e["action_id"]: e for e in actions["elements"]}
    assert {by_id[a]["value"] for a in ("claim", "book", "resolve")} == {request_id}
    assert by_id["reassign"]["type"] == "users_select"

    escalation = slack.escalation(request_id)
    assert (escalation.channel, escalation.message_ts) == (CHANNEL, posted_ts(fake))
    assert escalation.notified_at is not None
    assert escalation.notify_error is None


# ------------------------------------------------------------------ claim


def test_claim_shows_who_and_unclaim_gives_it_back(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    request_id = escalate(slack)

    slack.click(OMAR.id, request_id, ActionId.CLAIM)

    [claimed] = wait_for(lambda: updates(fake), what="chat.update after the claim")
    assert (claimed["channel"], claimed["ts"]) == (CHANNEL, posted_ts(fake))
    claimed_at = f"<!date^{int(clock.now.timestamp())}^"
    assert f"Claimed by <@U0OMAR> at {claimed_at}" in all_text(claimed["blocks"])
    escalation = slack.escalation(request_id)
    assert (escalation.claimed_by, escalation.claimed_at) == (OMAR.id, clock.now)
    _, message = slack.message(request_id)
    assert ActionId.UNCLAIM in action_ids(message["blocks"])

    # A double click changes nothing: still Omar's, claimed at the same time, no redraw.
    slack.click(OMAR.id, request_id, ActionId.CLAIM)
    slack.executor.drain()
    escalation = slack.escalation(request_id)
    assert (escalation.claimed_by, escalation.claimed_at) == (OMAR.id, clock.now)
    redraws = len(updates(fake))
    assert redraws == 1

    slack.click(OMAR.id, request_id, ActionId.UNCLAIM)

    unclaimed = wait_for(lambda: updates(fake)[redraws:], what="chat.update after the unclaim")[0]
    assert "Claimed by" not in all_text(unclaimed["blocks"])
    escalation = slack.escalation(request_id)
    assert (escalation.claimed_by, escalation.claimed_at) == (None, None)
    assert not ephemerals(fake, OMAR)


def test_a_second_claimer_is_told_who_has_it_and_the_message_stays(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    request_id = escalate(slack)
    slack.click(OMAR.id, request_id, ActionId.CLAIM)
    wait_for(lambda: updates(fake))

    slack.click(PRIYA.id, request_id, ActionId.CLAIM)

    [refusal] = wait_for(lambda: ephemerals(fake, PRIYA), what="PRIYA's ephemeral")
    assert refusal == ALREADY_CLAIMED.format(user=OMAR.id)
    assert "already claimed by <@U0OMAR>" in refusal
    [call] = fake.calls("chat.postEphemeral")
    assert call.params["channel"] == CHANNEL
    slack.executor.drain()
    assert len(updates(fake)) == 1
    assert slack.escalation(request_id).claimed_by == OMAR.id


# ------------------------------------------------------------------ reassign


def test_reassign_stores_the_assignee_dms_a_permalink_and_redraws(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    request_id = escalate(slack)

    slack.click(OMAR.id, request_id, ActionId.REASSIGN, selected_user=PRIYA.id)

    dm = wait_for(
        lambda: [c for c in fake.calls("chat.postMessage") if c.params["channel"] == "D0PRIYA"],
        what="the DM to the new assignee",
    )[0]
    assert slack.escalation(request_id).assignee == PRIYA.id
    assert [c.params["users"] for c in fake.calls("conversations.open")] == [PRIYA.id]
    [permalink] = fake.calls("chat.getPermalink")
    assert (permalink.params["channel"], permalink.params["message_ts"]) == (
        CHANNEL,
        posted_ts(fake),
    )
    assert f"https://fake-team.slack.com/archives/{CHANNEL}/p" in dm.params["text"]
    assert "<@U0OMAR>" in dm.params["text"] and "Dana Reyes" in dm.params["text"]
    [update] = wait_for(lambda: updates(fake))
    assert "Assigned to <@U0PRIYA>" in all_text(update["blocks"])


# ------------------------------------------------------------------ resolve


def test_resolve_opens_a_modal_and_its_submission_closes_the_escalation(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    request_id = escalate(slack)

    view_id = opened_view(slack, fake, OMAR, request_id, ActionId.RESOLVE)

    view = slack.view(view_id)
    assert view["callback_id"] == CallbackId.RESOLVE_SUBMIT
    values = {o["value"] for o in options(view, BlockId.RESOLVE_OUTCOME)}
    assert values == {"declined", "duplicate", "spam", "handled_elsewhere"}
    response = slack.submit(
        OMAR.id,
        view_id,
        {ActionId.RESOLVE_OUTCOME: Outcome.DECLINED, ActionId.RESOLVE_NOTE: "Wants a discount"},
    )

    assert response.content in (b"", b"null")  # a plain ack closes the modal
    escalation = slack.escalation(request_id)
    assert escalation.resolved_at == clock.now
    assert (escalation.outcome, escalation.resolved_by) == ("declined", OMAR.id)
    assert escalation.resolution_note == "Wants a discount"
    [update] = wait_for(lambda: updates(fake), what="the redraw after resolving")
    assert action_ids(update["blocks"]) == []  # nothing left to click
    assert "Resolved by <@U0OMAR>: Declined" in all_text(update["blocks"])
    assert "Wants a discount" in all_text(update["blocks"])


def test_resolving_an_escalation_already_resolved_is_a_field_error(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    request_id = escalate(slack)
    omars = opened_view(slack, fake, OMAR, request_id, ActionId.RESOLVE)
    priyas = opened_view(slack, fake, PRIYA, request_id, ActionId.RESOLVE)
    slack.submit(OMAR.id, omars, {ActionId.RESOLVE_OUTCOME: Outcome.SPAM})

    response = slack.submit(PRIYA.id, priyas, {ActionId.RESOLVE_OUTCOME: Outcome.DUPLICATE})

    assert response.json() == {
        "response_action": "errors",
        "errors": {BlockId.RESOLVE_OUTCOME: ALREADY_RESOLVED.format(user=OMAR.id)},
    }
    escalation = slack.escalation(request_id)
    assert (escalation.outcome, escalation.resolved_by) == ("spam", OMAR.id)


def test_a_corrected_resubmission_of_the_same_modal_is_processed(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    request_id = escalate(slack)
    view_id = opened_view(slack, fake, OMAR, request_id, ActionId.RESOLVE)

    first = slack.submit(OMAR.id, view_id, {})  # no outcome picked: a field error
    second = slack.submit(OMAR.id, view_id, {ActionId.RESOLVE_OUTCOME: Outcome.SPAM})

    assert first.json()["response_action"] == "errors"
    assert BlockId.RESOLVE_OUTCOME in first.json()["errors"]
    assert second.content in (b"", b"null")
    assert slack.escalation(request_id).outcome == "spam"


# ------------------------------------------------------------------ book


def open_book(slack: SlackHarness, fake: FakeSlack, user: FakeUser, request_id: str) -> str:
    """Click Book; the modal's id once its slots are drawn (views.open, then views.update)."""
    view_id = opened_view(slack, fake, user, request_id, ActionId.BOOK)
    wait_for(
        lambda: any(c.params["view_id"] == view_id for c in fake.calls("views.update")),
        what="the slots (views.update)",
    )
    return view_id


def london_label(value: str) -> str:
    start = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    local = start.astimezone(ZoneInfo(OMAR.tz))
    return f"{local.hour % 12 or 12}:{local:%M} {'AM' if local.hour < 12 else 'PM'} {local:%Z}"


def test_book_offers_free_slots_in_the_clickers_zone_and_books_the_chosen_one(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    request_id = escalate(slack)

    view_id = open_book(slack, fake, OMAR, request_id)

    [loading] = fake.calls("views.open")
    assert "Finding free slots" in all_text(loading.params["view"])
    view = slack.view(view_id)
    assert view["callback_id"] == CallbackId.BOOK_SUBMIT
    assert [c.params["user"] for c in fake.calls("users.info")] == [OMAR.id]
    slots = options(view, BlockId.BOOK_SLOT)
    assert slots
    for slot in slots:  # Omar is in London: labels in GMT, values in UTC
        assert slot["text"]["text"] == london_label(slot["value"])
    chosen = slots[0]["value"]
    start = datetime.strptime(chosen, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert start >= clock.now + timedelta(minutes=120)  # min_notice_minutes

    response = slack.submit(
        OMAR.id, view_id, {ActionId.BOOK_SLOT: chosen, ActionId.BOOK_NOTE: "Called them first"}
    )

    answer = response.json()
    assert answer["response_action"] == "update"  # "Booking…" while the event is made
    update = wait_for(
        lambda: [u for u in updates(fake) if "Booked by" in all_text(u["blocks"])],
        what="the message saying it is booked",
    )[0]
    booked_for = f"Booked by <@U0OMAR> for <!date^{int(start.timestamp())}^"
    assert booked_for in all_text(update["blocks"])
    assert "with alice@ourco.example" in all_text(update["blocks"])
    assert action_ids(update["blocks"]) == []
    booking = slack.components.bookings.get_by_request(request_id)
    assert booking is not None
    assert (booking.status, booking.booked_by) == (BookingStatus.CONFIRMED, OMAR.id)
    assert (booking.rep_email, booking.start) == ("alice@ourco.example", start)
    assert booking.end == start + timedelta(minutes=30)
    escalation = slack.escalation(request_id)
    assert (escalation.outcome, escalation.resolved_by) == (Outcome.BOOKED, OMAR.id)
    assert escalation.resolution_note == "Called them first"
    events = slack.components.outbox.latest(service="calendar")
    assert [(e.action, e.request_id) for e in events] == [("events.insert", request_id)]
    booked_notice = wait_for(
        lambda: [v for v in fake.calls("views.update") if "Booked" in all_text(v.params["view"])]
    )[0]
    assert booked_notice.params["view_id"] == view_id


def test_choosing_another_rep_or_duration_redraws_the_slots(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    request_id = escalate(slack)
    view_id = open_book(slack, fake, OMAR, request_id)
    alices = [o["value"] for o in options(slack.view(view_id), BlockId.BOOK_SLOT)]

    slack.select_in_modal(OMAR.id, view_id, ActionId.BOOK_REP, "chen@ourco.example")
    wait_for(lambda: len(fake.calls("views.update")) == 2, what="the redraw for Chen")
    chens = [o["value"] for o in options(slack.view(view_id), BlockId.BOOK_SLOT)]
    slack.select_in_modal(OMAR.id, view_id, ActionId.BOOK_DURATION, "90")
    wait_for(lambda: len(fake.calls("views.update")) == 3, what="the redraw for 90 minutes")

    view = slack.view(view_id)
    rep = next(b for b in view["blocks"] if b.get("block_id") == BlockId.BOOK_REP)
    assert rep["element"]["initial_option"]["value"] == "chen@ourco.example"
    duration = next(b for b in view["blocks"] if b.get("block_id") == BlockId.BOOK_DURATION)
    assert duration["element"]["initial_option"]["value"] == "90"
    longer = [o["value"] for o in options(view, BlockId.BOOK_SLOT)]
    assert longer
    # Chen works 08:00-16:00 in Phoenix; Alice's New York day starts at 07:00 there.
    assert not all(within_chens_day(start, 30) for start in alices)
    assert all(within_chens_day(start, 30) for start in chens)
    assert all(within_chens_day(start, 90) for start in longer)
    assert not all(within_chens_day(start, 90) for start in chens)  # 30 minutes fit later
    # The clicker's zone is read once, when the modal opens, and kept in it.
    assert [c.params["user"] for c in fake.calls("users.info")] == [OMAR.id]


def within_chens_day(value: str, minutes: int) -> bool:
    start = datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    local = start.astimezone(ZoneInfo("America/Phoenix"))
    end = local + timedelta(minutes=minutes)
    return local.date() == end.date() and time(8) <= local.time() and end.time() <= time(16)


def test_a_slot_taken_meanwhile_is_a_field_error_and_another_one_books(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    request_id = escalate(slack)
    view_id = open_book(slack, fake, OMAR, request_id)
    offered = [o["value"] for o in options(slack.view(view_id), BlockId.BOOK_SLOT)]
    first, later = offered[0], offered[-1]  # days apart: the other booking is not in the way
    taken = slack.intake(  # another client books the first slot automatically
        {
            "submission_id": "other-client",
            "name": "Sam Other",
            "email": "sam@elsewhere.example",
            "timezone": "America/New_York",
            "requested_start": first,
            "rep": "alice@ourco.example",
        }
    )
    assert taken["status"] == "booked_auto", taken

    refused = slack.submit(OMAR.id, view_id, {ActionId.BOOK_SLOT: first})

    answer = refused.json()
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [BlockId.BOOK_SLOT]
    assert answer["errors"][BlockId.BOOK_SLOT].startswith(SLOT_TAKEN.split("{")[0])
    assert slack.components.bookings.get_by_request(request_id) is None
    assert slack.escalation(request_id).resolved_at is None

    accepted = slack.submit(OMAR.id, view_id, {ActionId.BOOK_SLOT: later})

    assert accepted.json()["response_action"] == "update"
    wait_for(lambda: slack.escalation(request_id).outcome == Outcome.BOOKED, what="the booking")
    booking = slack.components.bookings.get_by_request(request_id)
    assert booking is not None and booking.start.strftime("%Y-%m-%dT%H:%M:%SZ") == later


def test_a_rep_whose_calendar_cannot_be_read_is_said_in_the_modal_and_another_rep_books(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    # Dmitri's calendar is broken in the example config's sandbox.
    request_id = escalate(slack, rep="dmitri@ourco.example")

    view_id = open_book(slack, fake, OMAR, request_id)

    view = slack.view(view_id)  # drawn (Slack accepted it): not stuck on "Finding free slots"
    text = all_text(view)
    assert REP_CALENDAR_UNREADABLE.format(rep="dmitri@ourco.example", error="")[:40] in text
    assert "sandbox.broken_calendars" in text
    assert not any(b.get("block_id") == BlockId.BOOK_SLOT for b in view["blocks"])
    refused = slack.submit(OMAR.id, view_id, {})
    assert refused.json() == {
        "response_action": "errors",
        "errors": {BlockId.BOOK_REP: PICK_A_SLOT},
    }

    slack.select_in_modal(OMAR.id, view_id, ActionId.BOOK_REP, "alice@ourco.example")
    wait_for(lambda: options_or_none(slack.view(view_id)), what="Alice's slots")
    [slot, *_] = options(slack.view(view_id), BlockId.BOOK_SLOT)
    slack.submit(OMAR.id, view_id, {ActionId.BOOK_SLOT: slot["value"]})

    wait_for(lambda: slack.escalation(request_id).outcome == Outcome.BOOKED, what="the booking")
    booking = slack.components.bookings.get_by_request(request_id)
    assert booking is not None and booking.rep_email == "alice@ourco.example"


def options_or_none(view: dict[str, Any]) -> list[dict[str, Any]] | None:
    if not any(b.get("block_id") == BlockId.BOOK_SLOT for b in view["blocks"]):
        return None
    return options(view, BlockId.BOOK_SLOT)


# ------------------------------------------------------------------ VIP


def vip_request(submission_id: str, email: str) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": email,
        "company": "Major Client Inc",
        "notes": "Quarterly review",
        "timezone": "America/Phoenix",
        "requested_start": TUESDAY_2PM_PHOENIX,
    }


def test_a_vip_request_is_dmed_to_the_owner_with_a_notice_in_the_channel(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    body = slack.intake(vip_request("vip-1", "dana@majorclient.com"))

    assert body["status"] == "escalated_vip"
    request_id = body["request_id"]
    assert [c.params["users"] for c in fake.calls("conversations.open")] == [OLIVIA.id]
    assert not fake.calls("users.lookupByEmail")  # owner_slack_id is configured
    posts = {c.params["channel"]: c.params for c in fake.calls("chat.postMessage")}
    assert set(posts) == {"D0OLIVIA", CHANNEL}
    assert action_ids(posts["D0OLIVIA"]["blocks"]) == ["claim", "book", "reassign", "resolve"]
    notice = posts[CHANNEL]
    assert not notice.get("blocks")
    assert "\n" not in notice["text"]
    assert "<@U0OLIVIA>" in notice["text"] and request_id in notice["text"]
    escalation = slack.escalation(request_id)
    assert (escalation.assignee, escalation.priority) == (OLIVIA.id, "high")
    assert (escalation.channel, escalation.message_ts) == ("D0OLIVIA", posted_ts(fake, "D0OLIVIA"))


def test_a_vip_owner_known_by_email_only_is_looked_up(slack: SlackHarness, fake: FakeSlack) -> None:
    body = slack.intake(vip_request("vip-2", "kim@eu.bigcorp.net"))

    assert body["status"] == "escalated_vip"
    emails = [c.params["email"] for c in fake.calls("users.lookupByEmail")]
    assert emails == ["marcus@ourco.example"]
    assert [c.params["users"] for c in fake.calls("conversations.open")] == [MARCUS.id]
    assert {c.params["channel"] for c in fake.calls("chat.postMessage")} == {"D0MARCUS", CHANNEL}
    assert slack.escalation(body["request_id"]).assignee == MARCUS.id


def test_a_vip_owner_slack_does_not_know_leaves_it_in_the_channel_saying_why(
    start: StartApp, fake: FakeSlack
) -> None:
    ghost = {"domain": "bigcorp.net", "owner_email": "ghost@ourco.example"}
    slack = start(vip=[ghost])

    body = slack.intake(vip_request("vip-3", "kim@bigcorp.net"))

    assert body["status"] == "escalated_vip"
    assert not fake.calls("conversations.open")
    [post] = fake.calls("chat.postMessage")
    assert post.params["channel"] == CHANNEL
    assert action_ids(post.params["blocks"]) == ["claim", "book", "reassign", "resolve"]
    text = all_text(post.params["blocks"])
    assert "ghost@ourco.example could not be found in Slack" in text
    escalation = slack.escalation(body["request_id"])
    assert escalation.assignee is None
    assert escalation.channel == CHANNEL


def test_a_vip_owner_id_slack_does_not_know_leaves_it_in_the_channel(
    start: StartApp, fake: FakeSlack
) -> None:
    gone = {
        "domain": "bigcorp.net",
        "owner_email": "gone@ourco.example",
        "owner_slack_id": "U0GONE",
    }
    slack = start(vip=[gone])

    body = slack.intake(vip_request("vip-4", "kim@bigcorp.net"))

    escalation = slack.escalation(body["request_id"])
    assert escalation.notified_at is not None
    assert escalation.channel == CHANNEL
    [post] = [c for c in fake.calls("chat.postMessage") if c.params["channel"] == CHANNEL]
    assert action_ids(post.params["blocks"]) == ["claim", "book", "reassign", "resolve"]


# ------------------------------------------------------------------ who may act


def test_someone_outside_the_ops_group_is_refused_and_nothing_changes(
    start: StartApp, fake: FakeSlack
) -> None:
    slack = start(ops_usergroup=OPS)
    request_id = escalate(slack)

    slack.click(ZED.id, request_id, ActionId.CLAIM)

    [refusal] = wait_for(lambda: ephemerals(fake, ZED), what="the refusal")
    assert refusal == NOT_ALLOWED.format(group=OPS)
    assert [c.params["usergroup"] for c in fake.calls("usergroups.users.list")] == [OPS]
    slack.executor.drain()
    assert not fake.calls("chat.update")
    assert slack.escalation(request_id).claimed_by is None


def test_members_and_the_assignee_may_act_even_outside_the_group(
    start: StartApp, fake: FakeSlack
) -> None:
    slack = start(ops_usergroup=OPS)
    request_id = escalate(slack)
    slack.click(OMAR.id, request_id, ActionId.REASSIGN, selected_user=ZED.id)
    wait_for(lambda: slack.escalation(request_id).assignee == ZED.id)
    wait_for(lambda: updates(fake), what="the redraw after reassigning")

    slack.click(ZED.id, request_id, ActionId.CLAIM)

    wait_for(lambda: slack.escalation(request_id).claimed_by == ZED.id, what="Zed's claim")
    claimed = wait_for(
        lambda: [u for u in updates(fake) if "Claimed by <@U0ZED>" in all_text(u["blocks"])]
    )
    assert claimed
    slack.executor.drain()
    assert not fake.calls("chat.postEphemeral")


# ------------------------------------------------------------------ Slack's retries


@SQLITE_ONLY
def test_a_retried_delivery_has_no_second_effect(slack: SlackHarness, fake: FakeSlack) -> None:
    request_id = escalate(slack)
    click = slack.click(OMAR.id, request_id, ActionId.CLAIM)
    wait_for(lambda: updates(fake))

    retry = slack.interact(click, retry_num=1)

    assert retry.status_code == 200
    slack.executor.drain()
    assert len(updates(fake)) == 1
    assert slack.escalation(request_id).claimed_by == OMAR.id


@SQLITE_ONLY
def test_a_retry_whose_first_delivery_never_arrived_is_processed(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    request_id = escalate(slack)
    click = slack.click_payload(OMAR.id, request_id, ActionId.CLAIM)

    slack.interact(click, retry_num=1)

    wait_for(lambda: slack.escalation(request_id).claimed_by == OMAR.id, what="the claim")
    wait_for(lambda: updates(fake), what="the redraw")


@SQLITE_ONLY
def test_a_retry_racing_its_first_delivery_claims_and_redraws_once(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    """The ack waits for the claim now, so Slack's retry (sent when an ack is slow) can
    arrive while the first delivery is still being served: one of them acts.
    """
    request_id = escalate(slack)
    click = slack.click_payload(OMAR.id, request_id, ActionId.CLAIM)
    barrier = threading.Barrier(2)

    def deliver(retry_num: int | None) -> int:
        barrier.wait(timeout=5)
        return slack.interact(click, retry_num=retry_num).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(deliver, [None, 1]))

    assert answers == [200, 200]
    slack.executor.drain()
    assert len(updates(fake)) == 1
    assert not fake.calls("chat.postEphemeral")
    assert slack.escalation(request_id).claimed_by == OMAR.id


@SQLITE_ONLY
def test_a_retried_losing_click_is_told_once(slack: SlackHarness, fake: FakeSlack) -> None:
    request_id = escalate(slack)
    slack.click(OMAR.id, request_id, ActionId.CLAIM)
    lost = slack.click(PRIYA.id, request_id, ActionId.CLAIM)

    slack.interact(lost, retry_num=1)

    slack.executor.drain()
    assert ephemerals(fake, PRIYA) == [ALREADY_CLAIMED.format(user=OMAR.id)]
    assert len(updates(fake)) == 1


@SQLITE_ONLY
def test_the_claim_is_stored_before_slack_is_answered_and_a_double_click_does_nothing(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    request_id = escalate(slack)

    slack.click(OMAR.id, request_id, ActionId.CLAIM)
    assert slack.escalation(request_id).claimed_by == OMAR.id  # no waiting: the ack did it
    slack.click(OMAR.id, request_id, ActionId.CLAIM)  # a second click, its own action_ts

    slack.executor.drain()
    [claimed] = updates(fake)
    assert f"Claimed by <@{OMAR.id}>" in all_text(claimed["blocks"])
    assert not fake.calls("chat.postEphemeral")


@SQLITE_ONLY
def test_a_redraw_slack_refused_is_tried_again_until_the_message_shows_the_claim(
    slack: SlackHarness, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    request_id = escalate(slack)
    slack.components.triage.redraws.retry_delays = (0.05, 0.05)
    fake.fail_next("chat.update", "internal_error")

    with caplog.at_level(logging.WARNING, logger="frontdesk.redraws"):
        slack.click(OMAR.id, request_id, ActionId.CLAIM)
        wait_for(lambda: len(updates(fake)) == 2, what="the redraw tried again")

    refused, redrawn = updates(fake)
    assert refused["ts"] == redrawn["ts"]  # the same message, both times
    assert f"Claimed by <@{OMAR.id}>" in all_text(redrawn["blocks"])
    assert fake.messages[(CHANNEL, posted_ts(fake))]["blocks"] == redrawn["blocks"]
    assert [r.getMessage() for r in caplog.records if r.name == "frontdesk.redraws"] == [
        "could not redraw a message; trying again"
    ]
    assert slack.escalation(request_id).claimed_by == OMAR.id
    assert not fake.calls("chat.postEphemeral")  # the claim itself did not fail


# ------------------------------------------------------------------ posting to Slack


@SQLITE_ONLY
def test_a_rate_limited_post_is_retried_after_retry_after_and_posted_once(
    slack: SlackHarness, fake: FakeSlack
) -> None:
    fake.rate_limit_next("chat.postMessage", retry_after=1)

    request_id = escalate(slack)

    limited, accepted = fake.calls("chat.postMessage")
    assert accepted.at - limited.at >= 1.0
    assert len(fake.messages) == 1
    escalation = slack.escalation(request_id)
    assert escalation.notified_at is not None
    assert escalation.message_ts == posted_ts(fake)


@SQLITE_ONLY
def test_a_post_that_fails_for_good_is_kept_logged_and_redelivered_later(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("chat.postMessage", "channel_not_found")

    with caplog.at_level(logging.ERROR, logger="frontdesk.escalation"):
        request_id = escalate(slack)

    escalation = slack.escalation(request_id)
    assert escalation.notified_at is None
    assert escalation.notify_error and "slack.escalation_channel" in escalation.notify_error
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "NOT delivered" in error.getMessage()
    assert not fake.messages

    # The sweep leaves escalations younger than a minute to their first attempt; the row's
    # created_at is wall-clock time, so the test clock moves past it.
    clock.now = datetime.now(UTC) + timedelta(minutes=2)
    upkeep(slack.components)

    escalation = slack.escalation(request_id)
    assert escalation.notified_at is not None and escalation.notify_error is None
    assert escalation.message_ts == posted_ts(fake)
    assert action_ids(fake.messages[(CHANNEL, posted_ts(fake))]["blocks"]) == [
        "claim",
        "book",
        "reassign",
        "resolve",
    ]
    upkeep(slack.components)  # delivered now: not posted again
    assert len(fake.messages) == 1


# ------------------------------------------------------------------ the endpoint


@SQLITE_ONLY
def test_a_bad_or_stale_signature_is_refused(slack: SlackHarness, fake: FakeSlack) -> None:
    request_id = escalate(slack)
    click = slack.click_payload(OMAR.id, request_id, ActionId.CLAIM)
    body = interactive_body(click)

    forged = slack.post(body, FORM, secret="not-the-signing-secret")
    stale = slack.post(body, FORM, timestamp=clock_time.time() - 600)

    assert (forged.status_code, stale.status_code) == (401, 401)
    slack.executor.drain()
    assert slack.escalation(request_id).claimed_by is None
    assert not fake.calls("chat.update")


@SQLITE_ONLY
def test_slack_events_without_slack_configured_is_a_clear_404(make_app: Any) -> None:
    client, _ = make_app()  # no Slack credentials: sandbox mode

    response = client.post(
        "/slack/events", content=b"payload=%7B%7D", headers={"Content-Type": FORM}
    )

    assert response.status_code == 404
    assert response.json() == {"error": "slack_not_configured", "message": SLACK_NOT_CONFIGURED}
    assert "SLACK_SIGNING_SECRET" in response.json()["message"]
