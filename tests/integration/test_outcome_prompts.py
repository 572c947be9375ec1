""" "Did it happen?" (SPEC §6, issue #5): after a meeting ends its host gets a Slack DM with
Held / No-show / Rescheduled, one nudge a day later if unanswered, and a click (a signed
`block_actions` through the real Bolt app) stores the answer and redraws the DM.

The real WebClient talks to the fake Slack; the prompter ticks on the test's clock. The
compare-and-set races, and the restarts after a process was killed mid-prompt, run on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import calendar
import logging
import threading
import tomllib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.messages.blocks import OUTCOME_NUDGE, OUTCOME_QUESTION
from bot.messages.ids import ActionId
from bot.services.outcomes import NUDGE_AFTER, ONLY_THE_HOST_OR_OPS, PROMPT_LEASE, OutcomePrompter
from bot.services.sla import MAX_POST_TRIES
from integrations.slack import STALE_CLAIM
from storage.models import MeetingOutcome, OutboxStatus, StoredBooking, StoredRequest
from storage.repositories.bookings import NOT_ASKED
from storage.repositories.outbox import OUTBOX
from testkit.fakes.slack import FakeSlack, FakeUser
from testkit.slack_payloads import message_action
from tests.conftest import EXAMPLE_CONFIG, FixedClock
from tests.integration.conftest import StartApp
from tests.integration.doubles import Crash, KilledAtPost
from tests.slack_requests import SlackHarness, wait_for

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

OPS = "S0OPS"
ALICE = FakeUser("U0ALICE", "alice@ourco.example")  # a rep, slack_id in the config
BRUNO = FakeUser("U0BRUNO", "bruno@ourco.example", tz="Europe/Berlin")
OMAR = FakeUser("U0OMAR", "omar@ourco.example", tz="Europe/London")  # in the ops group
ZED = FakeUser("U0ZED", "zed@ourco.example", tz="America/Chicago")  # not in it
ALICE_DM = "D0ALICE"
BUTTONS = [ActionId.OUTCOME_HELD, ActionId.OUTCOME_NO_SHOW, ActionId.OUTCOME_RESCHEDULED]


@pytest.fixture
def slack_users() -> list[FakeUser]:
    return [ALICE, BRUNO, OMAR, ZED]


@pytest.fixture
def slack_usergroups() -> dict[str, list[str]]:
    return {OPS: [OMAR.id]}


@pytest.fixture
def harness_options() -> dict[str, Any]:
    return {"paced": False, "ops_usergroup": OPS}


@pytest.fixture
def slack(start: StartApp) -> SlackHarness:
    return start()


def reps_without_slack_ids(*emails: str) -> list[dict[str, Any]]:
    """The example config's reps, the named ones without a Slack id."""
    reps = tomllib.loads(EXAMPLE_CONFIG.read_text())["reps"]
    for rep in reps:
        if rep["email"] in emails:
            rep.pop("slack_id", None)
    return list(reps)


def meeting(
    slack: SlackHarness,
    key: str,
    *,
    start: datetime,
    rep: str = ALICE.email,
    booked_by: str = "auto",
    minutes: int = 30,
) -> StoredBooking:
    """A confirmed meeting of Dana's, stored as the booking path stores one."""
    components = slack.components
    request = StoredRequest(
        idempotency_key=key,
        body_sha256="0" * 64,
        name="Dana Reyes",
        email="dana@northwind.example",
        company="Northwind",
        timezone="America/Phoenix",
        requested_start=start,
        duration_minutes=minutes,
        rep_email=rep,
    )
    components.requests.create(request)
    held = components.bookings.reserve(
        request_id=request.id,
        rep_email=rep,
        provider="google",
        calendar_id=rep,
        start=start,
        end=start + timedelta(minutes=minutes),
        client_timezone="America/Phoenix",
        buffer=timedelta(0),
        booked_by=booked_by,
    )
    assert held is not None
    return components.bookings.confirm(held, event_id=f"evt-{key}", ical_uid=None, video_url=None)


def booking(slack: SlackHarness, booking_id: int | None) -> StoredBooking:
    found = slack.components.bookings.get(booking_id or 0)
    assert found is not None
    return found


def dms(fake: FakeSlack, channel: str = ALICE_DM) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls("chat.postMessage") if c.params["channel"] == channel]


def all_text(blocks: list[dict[str, Any]]) -> str:
    parts = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            parts.append(text["text"])
        for element in block.get("elements", []):
            if element.get("type") == "mrkdwn":
                parts.append(element["text"])
    return "\n".join(parts)


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    [actions] = [b for b in blocks if b["type"] == "actions"]
    return list(actions["elements"])


def click(
    slack: SlackHarness, user: FakeUser, channel: str, ts: str, action: str, **signing: Any
) -> dict[str, Any]:
    payload = message_action(user.id, channel, slack.fake.messages[(channel, ts)], action)
    slack.interact(payload, **signing)
    return payload


def updates(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls("chat.update")]


def prompted(slack: SlackHarness, clock: FixedClock, at: datetime) -> dict[str, int]:
    clock.now = at
    return slack.components.outcomes.tick()


def nudges(fake: FakeSlack) -> list[dict[str, Any]]:
    return [p for p in dms(fake) if p.get("thread_ts")]


NOTHING = {"prompted": 0, "nudged": 0, "no_host": 0, "failed": 0}


def killed_at_post(slack: SlackHarness, clock: FixedClock, at: datetime, *, after: bool) -> None:
    """A tick at `at` whose process dies at its first post; the next tick is a restart."""
    prompter = slack.components.outcomes
    chat = prompter.chat
    prompter.chat = KilledAtPost(chat, after=after)
    try:
        with pytest.raises(Crash):
            prompted(slack, clock, at)
    finally:
        prompter.chat = chat


def tick_together(prompters: list[OutcomePrompter]) -> list[dict[str, int]]:
    barrier = threading.Barrier(len(prompters))

    def tick(prompter: OutcomePrompter) -> dict[str, int]:
        barrier.wait(timeout=5)
        return prompter.tick()

    with ThreadPoolExecutor(max_workers=len(prompters)) as pool:
        return list(pool.map(tick, prompters))


# ------------------------------------------------------------------ the prompt


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_rep_of_an_auto_booked_meeting_is_asked_once_it_has_ended(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    body = slack.intake(
        {
            "submission_id": "outcome-auto",
            "name": "Dana Reyes",
            "email": "dana@northwind.example",
            "company": "Northwind",
            "timezone": "America/Phoenix",
            "requested_start": "2026-12-01T14:00:00-07:00",
            "rep": ALICE.email,
        }
    )
    assert body["status"] == "booked_auto", body
    booked = slack.components.bookings.get_by_request(body["request_id"])
    assert booked is not None and booked.booked_by == "auto"

    assert prompted(slack, clock, booked.end - timedelta(seconds=1))["prompted"] == 0
    assert dms(fake) == []

    assert prompted(slack, clock, booked.end) == {
        "prompted": 1,
        "nudged": 0,
        "no_host": 0,
        "failed": 0,
    }
    [dm] = dms(fake)
    assert [c.params["users"] for c in fake.calls("conversations.open")] == [ALICE.id]
    text = all_text(dm["blocks"])
    assert OUTCOME_QUESTION in text and "Dana Reyes" in text and "Northwind" in text
    unix = calendar.timegm(booked.start.utctimetuple())
    assert f"<!date^{unix}^{{date_short_pretty}} {{time}}|" in text
    [actions] = [b for b in dm["blocks"] if b["type"] == "actions"]
    assert actions["block_id"] == f"outcome:{booked.id}"
    assert [b["action_id"] for b in buttons(dm["blocks"])] == BUTTONS
    assert {b["value"] for b in buttons(dm["blocks"])} == {str(booked.id)}
    stored = booking(slack, booked.id)
    assert (stored.outcome_host, stored.outcome_prompt_channel) == (ALICE.id, ALICE_DM)
    assert (ALICE_DM, stored.outcome_prompt_ts) in fake.messages
    assert stored.outcome_prompted_at == clock.now

    assert prompted(slack, clock, booked.end + timedelta(hours=1))["prompted"] == 0
    assert len(dms(fake)) == 1


@SQLITE_ONLY
def test_a_meeting_a_person_booked_asks_that_person(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-person", start=clock.now, booked_by=OMAR.id)

    assert prompted(slack, clock, booked.end)["prompted"] == 1

    assert [c.params["users"] for c in fake.calls("conversations.open")] == [OMAR.id]
    assert len(dms(fake, "D0OMAR")) == 1
    assert booking(slack, booked.id).outcome_host == OMAR.id


@SQLITE_ONLY
def test_a_rep_without_a_slack_id_is_found_by_email_and_an_unknown_one_is_not_retried(
    start: StartApp, fake: FakeSlack, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    slack = start(reps=reps_without_slack_ids(BRUNO.email, "chen@ourco.example"))
    found = meeting(slack, "outcome-bruno", start=clock.now, rep=BRUNO.email)
    unknown = meeting(slack, "outcome-chen", start=clock.now, rep="chen@ourco.example")

    with caplog.at_level(logging.WARNING, logger="frontdesk.outcomes"):
        counts = prompted(slack, clock, clock.now + timedelta(minutes=30))

    assert counts == {"prompted": 1, "nudged": 0, "no_host": 1, "failed": 0}
    assert [c.params["email"] for c in fake.calls("users.lookupByEmail")] == [
        BRUNO.email,
        "chen@ourco.example",
    ]
    assert len(dms(fake, "D0BRUNO")) == 1
    assert booking(slack, found.id).outcome_host == BRUNO.id
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.__dict__["rep"] == "chen@ourco.example"
    lost = booking(slack, unknown.id)
    assert lost.outcome_prompted_at is not None and lost.outcome_prompt_channel == NOT_ASKED

    # Given up for good, not a claim gone stale: nobody is looked up again.
    prompted(slack, clock, clock.now + timedelta(minutes=5))
    prompted(slack, clock, clock.now + PROMPT_LEASE)
    prompted(slack, clock, clock.now + NUDGE_AFTER)
    assert len(fake.calls("users.lookupByEmail")) == 2


@SQLITE_ONLY
def test_meetings_that_ended_over_a_week_ago_are_never_asked_about(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    old = meeting(slack, "outcome-old", start=clock.now - timedelta(days=7, minutes=31))
    recent = meeting(slack, "outcome-recent", start=clock.now - timedelta(days=6))

    assert slack.components.outcomes.tick()["prompted"] == 1

    assert booking(slack, old.id).outcome_prompted_at is None
    assert booking(slack, recent.id).outcome_prompt_channel == ALICE_DM
    assert len(dms(fake)) == 1


def test_a_prompt_slack_refused_is_posted_on_the_next_tick_once(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-retry", start=clock.now)
    fake.fail_next("chat.postMessage", "fatal_error")

    assert prompted(slack, clock, booked.end)["failed"] == 1
    assert booking(slack, booked.id).outcome_prompted_at is None  # given back

    assert prompted(slack, clock, booked.end + timedelta(minutes=1))["prompted"] == 1
    stored = booking(slack, booked.id)
    assert stored.outcome_prompt_ts is not None
    assert [ts for channel, ts in fake.messages if channel == ALICE_DM] == [
        stored.outcome_prompt_ts
    ]


@SQLITE_ONLY
def test_a_prompt_slack_keeps_refusing_is_given_up_after_three_tries(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-refused", start=clock.now)
    fake.fail_next("chat.postMessage", "is_archived", times=10)
    for minute in range(MAX_POST_TRIES):
        assert prompted(slack, clock, booked.end + timedelta(minutes=minute))["failed"] == 1
    posts = len(fake.calls("chat.postMessage"))

    assert prompted(slack, clock, booked.end + timedelta(minutes=MAX_POST_TRIES))["failed"] == 1

    stored = booking(slack, booked.id)
    assert (stored.outcome_host, stored.outcome_prompt_channel) == (ALICE.id, NOT_ASKED)
    for later in (PROMPT_LEASE, NUDGE_AFTER):
        assert prompted(slack, clock, clock.now + later) == NOTHING
    assert len(fake.calls("chat.postMessage")) == posts


def test_two_prompters_ticking_at_once_ask_and_nudge_each_host_once(
    start: StartApp, fake: FakeSlack, clock: FixedClock
) -> None:
    first, second = start(), start()
    meetings = [
        meeting(first, f"outcome-race-{n}", start=clock.now + timedelta(hours=n)) for n in range(5)
    ]
    clock.now += timedelta(hours=6)
    prompters = [first.components.outcomes, second.components.outcomes]

    results = tick_together(prompters)

    assert sum(r["prompted"] for r in results) == len(meetings)
    assert sum(r["failed"] for r in results) == 0
    assert len(dms(fake)) == len(meetings)
    assert len({booking(first, m.id).outcome_prompt_ts for m in meetings}) == len(meetings)

    clock.now += NUDGE_AFTER
    results = tick_together(prompters)

    assert sum(r["nudged"] for r in results) == len(meetings)
    nudges = [p for p in dms(fake) if p.get("thread_ts")]
    assert sorted(p["thread_ts"] for p in nudges) == sorted(
        booking(first, m.id).outcome_prompt_ts or "" for m in meetings
    )


# ------------------------------------------------------------------ a process killed mid-prompt


def test_a_prompt_whose_process_died_before_posting_is_posted_once_its_claim_is_stale(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-killed-before", start=clock.now)
    killed_at_post(slack, clock, booked.end, after=False)
    assert dms(fake) == []
    claimed = booking(slack, booked.id)
    assert claimed.outcome_prompted_at == booked.end and claimed.outcome_prompt_channel is None

    # While the claim is fresh its process may still be posting: nobody else takes it.
    assert prompted(slack, clock, booked.end + PROMPT_LEASE - timedelta(seconds=1)) == NOTHING
    assert dms(fake) == []

    retaken = booked.end + PROMPT_LEASE
    assert prompted(slack, clock, retaken) == {**NOTHING, "prompted": 1}
    [dm] = dms(fake)
    assert OUTCOME_QUESTION in all_text(dm["blocks"])
    stored = booking(slack, booked.id)
    assert (stored.outcome_host, stored.outcome_prompt_channel) == (ALICE.id, ALICE_DM)
    assert (ALICE_DM, stored.outcome_prompt_ts) in fake.messages
    assert stored.outcome_prompted_at == retaken

    # Its nudge comes a day after the prompt that did go out.
    assert prompted(slack, clock, retaken + NUDGE_AFTER - timedelta(seconds=1)) == NOTHING
    assert prompted(slack, clock, retaken + NUDGE_AFTER)["nudged"] == 1
    assert [n["thread_ts"] for n in nudges(fake)] == [stored.outcome_prompt_ts]


def test_a_prompt_posted_by_a_process_that_died_before_recording_it_is_recorded_not_reposted(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-killed-after", start=clock.now)
    killed_at_post(slack, clock, booked.end, after=True)
    [ts] = [t for (channel, t) in fake.messages if channel == ALICE_DM]
    assert booking(slack, booked.id).outcome_prompt_ts is None

    assert prompted(slack, clock, booked.end + PROMPT_LEASE) == {**NOTHING, "prompted": 1}

    assert len(dms(fake)) == 1  # the outbox handed back the DM the dead process posted
    stored = booking(slack, booked.id)
    assert (stored.outcome_host, stored.outcome_prompt_channel, stored.outcome_prompt_ts) == (
        ALICE.id,
        ALICE_DM,
        ts,
    )


def test_of_two_prompters_one_takes_over_a_stale_claim(
    start: StartApp, fake: FakeSlack, clock: FixedClock
) -> None:
    first, second = start(), start()
    meetings = [
        meeting(first, f"outcome-stale-{n}", start=clock.now + timedelta(minutes=30 * n))
        for n in range(4)
    ]
    ended = meetings[-1].end
    killed_at_post(first, clock, ended, after=False)  # it dies holding the first claim
    assert booking(first, meetings[0].id).outcome_prompted_at == ended

    clock.now = ended + PROMPT_LEASE
    results = tick_together([first.components.outcomes, second.components.outcomes])

    assert sum(r["prompted"] for r in results) == len(meetings)
    assert sum(r["failed"] for r in results) == 0
    assert len(dms(fake)) == len(meetings)
    stored = [booking(first, m.id) for m in meetings]
    assert len({b.outcome_prompt_ts for b in stored} - {None}) == len(meetings)


@SQLITE_ONLY
def test_a_stale_claim_whose_post_is_still_in_flight_is_left_to_that_post(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-in-flight", start=clock.now)
    killed_at_post(slack, clock, booked.end, after=True)
    # As if inside the post: Slack has the DM, the outbox has not recorded it.
    key = f"slack:outcome-prompt:{booked.id}"
    with slack.components.db.transaction() as conn:
        conn.execute(
            update(OUTBOX).where(OUTBOX.c.dedupe_key == key).values(status=OutboxStatus.PENDING)
        )

    retaken = booked.end + PROMPT_LEASE
    assert prompted(slack, clock, retaken) == NOTHING
    stored = booking(slack, booked.id)
    assert stored.outcome_prompted_at == retaken  # kept: not given back to every tick
    assert stored.outcome_prompt_ts is None and len(dms(fake)) == 1

    # That post never finished (the outbox row went stale too): the DM goes again, since
    # posting twice beats never asking.
    in_flight = slack.components.outbox.get(key)
    assert in_flight is not None and in_flight.status == OutboxStatus.PENDING
    with slack.components.db.transaction() as conn:
        conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.dedupe_key == key)
            .values(created_at=in_flight.created_at - STALE_CLAIM)
        )
    assert prompted(slack, clock, retaken + PROMPT_LEASE - timedelta(seconds=1)) == NOTHING
    assert prompted(slack, clock, retaken + PROMPT_LEASE)["prompted"] == 1
    assert len(dms(fake)) == 2
    newest = [t for (channel, t) in fake.messages if channel == ALICE_DM][-1]
    assert booking(slack, booked.id).outcome_prompt_ts == newest


# ------------------------------------------------------------------ the answer


def test_the_hosts_click_stores_the_answer_and_redraws_the_dm(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-click", start=clock.now)
    prompted(slack, clock, booked.end + timedelta(minutes=10))
    ts = booking(slack, booked.id).outcome_prompt_ts
    assert ts is not None

    payload = click(slack, ALICE, ALICE_DM, ts, ActionId.OUTCOME_NO_SHOW)

    [update] = wait_for(lambda: updates(fake), what="the DM redrawn")
    stored = booking(slack, booked.id)
    assert (stored.outcome, stored.outcome_by, stored.outcome_at) == (
        MeetingOutcome.NO_SHOW,
        ALICE.id,
        clock.now,
    )
    assert (update["channel"], update["ts"]) == (ALICE_DM, ts)
    when = f"<!date^{int(clock.now.timestamp())}^"
    assert f"Recorded: No-show — by <@{ALICE.id}> at {when}" in all_text(update["blocks"])
    assert [b["action_id"] for b in buttons(update["blocks"])] == BUTTONS  # can still change

    # Slack's retry of the same click does nothing twice.
    slack.interact(payload, retry_num=1)
    slack.executor.drain()
    assert len(updates(fake)) == 1

    # The host changes their mind.
    clock.now += timedelta(minutes=3)
    click(slack, ALICE, ALICE_DM, ts, ActionId.OUTCOME_HELD)
    wait_for(lambda: len(updates(fake)) == 2, what="the second redraw")
    stored = booking(slack, booked.id)
    assert (stored.outcome, stored.outcome_at) == (MeetingOutcome.HELD, clock.now)
    assert "Recorded: Held — by" in all_text(updates(fake)[-1]["blocks"])


@SQLITE_ONLY
def test_someone_else_is_refused_unless_they_are_in_the_ops_group(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-other", start=clock.now)
    prompted(slack, clock, booked.end)
    ts = booking(slack, booked.id).outcome_prompt_ts
    assert ts is not None

    click(slack, ZED, ALICE_DM, ts, ActionId.OUTCOME_HELD)

    [refusal] = wait_for(lambda: fake.calls("chat.postEphemeral"), what="the refusal")
    assert refusal.params["user"] == ZED.id
    assert refusal.params["text"] == ONLY_THE_HOST_OR_OPS.format(host=ALICE.id, group=OPS)
    slack.executor.drain()
    assert booking(slack, booked.id).outcome is None
    assert updates(fake) == []

    click(slack, OMAR, ALICE_DM, ts, ActionId.OUTCOME_RESCHEDULED)

    wait_for(lambda: updates(fake), what="the ops member's answer redrawn")
    stored = booking(slack, booked.id)
    assert (stored.outcome, stored.outcome_by) == (MeetingOutcome.RESCHEDULED, OMAR.id)


@SQLITE_ONLY
def test_the_host_can_answer_a_prompt_whose_process_died_before_recording_it(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-unrecorded", start=clock.now)
    killed_at_post(slack, clock, booked.end, after=True)
    [ts] = [t for (channel, t) in fake.messages if channel == ALICE_DM]
    assert booking(slack, booked.id).outcome_host is None

    click(slack, ZED, ALICE_DM, ts, ActionId.OUTCOME_HELD)
    [refusal] = wait_for(lambda: fake.calls("chat.postEphemeral"), what="the refusal")
    assert refusal.params["text"] == ONLY_THE_HOST_OR_OPS.format(host=ALICE.id, group=OPS)

    click(slack, ALICE, ALICE_DM, ts, ActionId.OUTCOME_NO_SHOW)

    [update] = wait_for(lambda: updates(fake), what="the DM redrawn")
    assert (update["channel"], update["ts"]) == (ALICE_DM, ts)
    stored = booking(slack, booked.id)
    assert (stored.outcome, stored.outcome_by) == (MeetingOutcome.NO_SHOW, ALICE.id)
    assert len(fake.calls("chat.postEphemeral")) == 1


# ------------------------------------------------------------------ the nudge


def test_an_unanswered_prompt_is_nudged_once_a_day_later_in_its_thread(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-nudge", start=clock.now)
    asked = booked.end + timedelta(minutes=1)
    prompted(slack, clock, asked)
    ts = booking(slack, booked.id).outcome_prompt_ts
    assert ts is not None

    assert prompted(slack, clock, asked + NUDGE_AFTER - timedelta(seconds=1))["nudged"] == 0
    assert prompted(slack, clock, asked + NUDGE_AFTER)["nudged"] == 1
    assert prompted(slack, clock, asked + 3 * NUDGE_AFTER)["nudged"] == 0

    [nudge] = [p for p in dms(fake) if p.get("thread_ts")]
    assert nudge["thread_ts"] == ts
    assert OUTCOME_NUDGE in all_text(nudge["blocks"])
    assert [b["action_id"] for b in buttons(nudge["blocks"])] == BUTTONS
    assert booking(slack, booked.id).outcome_nudged_at == asked + NUDGE_AFTER

    # Answering on the nudge redraws the prompt and the nudge.
    nudge_ts = next(t for (channel, t) in fake.messages if channel == ALICE_DM and t != ts)
    click(slack, ALICE, ALICE_DM, nudge_ts, ActionId.OUTCOME_HELD)
    wait_for(lambda: len(updates(fake)) == 2, what="both messages redrawn")
    assert {u["ts"] for u in updates(fake)} == {ts, nudge_ts}
    assert booking(slack, booked.id).outcome == MeetingOutcome.HELD


@SQLITE_ONLY
def test_an_answered_prompt_is_not_nudged(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-answered", start=clock.now)
    prompted(slack, clock, booked.end)
    ts = booking(slack, booked.id).outcome_prompt_ts
    assert ts is not None
    click(slack, ALICE, ALICE_DM, ts, ActionId.OUTCOME_HELD)
    wait_for(lambda: booking(slack, booked.id).outcome == MeetingOutcome.HELD)

    assert prompted(slack, clock, booked.end + 2 * NUDGE_AFTER)["nudged"] == 0

    assert [p for p in dms(fake) if p.get("thread_ts")] == []
    assert booking(slack, booked.id).outcome_nudged_at is None


def test_a_prompt_answered_while_the_nudges_are_read_is_not_nudged(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-answered-late", start=clock.now)
    prompted(slack, clock, booked.end)
    bookings = slack.components.bookings
    read_nudges = bookings.nudges_due

    def read_then_answer(*args: Any, **kwargs: Any) -> list[StoredBooking]:
        batch = read_nudges(*args, **kwargs)
        bookings.record_outcome(booked.id or 0, MeetingOutcome.HELD, ALICE.id, clock.now)
        return batch

    bookings.nudges_due = read_then_answer  # type: ignore[method-assign]
    assert prompted(slack, clock, booked.end + NUDGE_AFTER)["nudged"] == 0
    assert [p for p in dms(fake) if p.get("thread_ts")] == []


@SQLITE_ONLY
def test_a_nudge_slack_refused_is_posted_on_the_next_tick_once(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-nudge-retry", start=clock.now)
    prompted(slack, clock, booked.end)
    fake.fail_next("chat.postMessage", "fatal_error")

    assert prompted(slack, clock, booked.end + NUDGE_AFTER)["failed"] == 1
    assert booking(slack, booked.id).outcome_nudged_at is None  # given back

    later = booked.end + NUDGE_AFTER + timedelta(minutes=1)
    assert prompted(slack, clock, later)["nudged"] == 1
    assert booking(slack, booked.id).outcome_nudged_at == later
    assert len([ts for channel, ts in fake.messages if channel == ALICE_DM]) == 2


def test_a_nudge_whose_process_died_before_posting_goes_on_the_next_tick(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-nudge-killed-before", start=clock.now)
    prompted(slack, clock, booked.end)
    ts = booking(slack, booked.id).outcome_prompt_ts

    killed_at_post(slack, clock, booked.end + NUDGE_AFTER, after=False)
    assert nudges(fake) == []
    assert booking(slack, booked.id).outcome_nudged_at is None

    later = booked.end + NUDGE_AFTER + timedelta(minutes=1)
    assert prompted(slack, clock, later) == {**NOTHING, "nudged": 1}
    [nudge] = nudges(fake)
    assert nudge["thread_ts"] == ts
    assert booking(slack, booked.id).outcome_nudged_at == later
    assert prompted(slack, clock, later + NUDGE_AFTER) == NOTHING


def test_a_nudge_posted_by_a_process_that_died_before_recording_it_is_not_posted_again(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    booked = meeting(slack, "outcome-nudge-killed-after", start=clock.now)
    prompted(slack, clock, booked.end)

    killed_at_post(slack, clock, booked.end + NUDGE_AFTER, after=True)
    assert len(nudges(fake)) == 1

    later = booked.end + NUDGE_AFTER + timedelta(minutes=1)
    assert prompted(slack, clock, later) == {**NOTHING, "nudged": 1}
    assert len(nudges(fake)) == 1  # recorded, not posted twice
    assert booking(slack, booked.id).outcome_nudged_at == later
    assert prompted(slack, clock, later + NUDGE_AFTER) == NOTHING
    assert len(nudges(fake)) == 1


# ------------------------------------------------------------------ what a tick reads


def test_the_due_queries_return_only_what_is_still_owed(
    slack: SlackHarness, clock: FixedClock
) -> None:
    repo = slack.components.bookings
    now = clock.now + timedelta(days=3)
    ago = [
        meeting(slack, f"outcome-due-{n}", start=clock.now + timedelta(hours=n)) for n in range(7)
    ]
    fresh, stale, asked, given_up, nudged, answered, unasked = (b.id or 0 for b in ago)
    assert repo.claim_prompt(fresh, now - PROMPT_LEASE + timedelta(seconds=1))
    assert repo.claim_prompt(stale, now - PROMPT_LEASE)
    for done in (asked, nudged, answered):
        assert repo.claim_prompt(done, now - NUDGE_AFTER)
        repo.mark_prompted(done, ALICE.id, ALICE_DM, f"1.{done}")
    assert repo.claim_prompt(given_up, now - NUDGE_AFTER)
    repo.give_up_prompt(given_up, None)
    assert repo.mark_nudged(nudged, now)
    repo.record_outcome(answered, MeetingOutcome.HELD, ALICE.id, now)

    due = repo.prompts_due(now, now - timedelta(days=7), stale_before=now - PROMPT_LEASE)
    assert [b.id for b in due] == [stale, unasked]
    nudge_due = repo.nudges_due(now - NUDGE_AFTER, now - timedelta(days=9))
    assert [b.id for b in nudge_due] == [asked]

    # Of two claims on the same stale one, only the one that saw its claim wins.
    seen = due[0].outcome_prompted_at
    assert repo.claim_prompt(stale, now, seen=seen)
    assert not repo.claim_prompt(stale, now, seen=seen)
    assert not repo.claim_prompt(stale, now)
