"""SLA re-pings (SPEC §6, issue #5): an escalation nobody claims gets a reply in its Slack
thread mentioning the ops group at 1x, 2x and 4x `sla_minutes`, and never after a claim.

Escalations come in through the real intake webhook and are posted by the real WebClient
to the fake Slack; the pinger ticks on the test's clock. Flows that settle a
compare-and-set in the database, and restarts after a process was killed mid-ping, run on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from bot.messages.ids import ActionId
from bot.services.sla import SLA_MULTIPLES, SlaPinger
from integrations.sandbox import SandboxChat
from testkit.fakes.slack import Call, FakeSlack, FakeUser
from tests.conftest import FixedClock, post_signed
from tests.integration.conftest import StartApp
from tests.integration.doubles import Crash, KilledAtPost
from tests.slack_requests import SlackHarness, slack_config, wait_for

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

CHANNEL = "C0ESCALATE"
OPS = "S0OPS"
SLA = timedelta(minutes=15)  # the example config's sla_minutes
OMAR = FakeUser("U0OMAR", "omar@ourco.example", tz="Europe/London")  # in the ops group
OLIVIA = FakeUser("U0OLIVIA", "olivia@ourco.example")  # majorclient.com's owner
USERS = [OMAR, OLIVIA]


def urgent(submission_id: str, email: str = "dana@northwind.example") -> dict[str, Any]:
    """A request the gate escalates: manual review ("urgent"), or VIP by its domain."""
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": email,
        "company": "Northwind",
        "notes": "Urgent: a demo before the board meeting",
        "timezone": "America/Phoenix",
        "requested_start": "2026-12-01T14:00:00-07:00",
        "rep": "alice@ourco.example",
    }


@pytest.fixture
def slack_users() -> list[FakeUser]:
    return USERS


@pytest.fixture
def slack_usergroups() -> dict[str, list[str]]:
    return {OPS: [OMAR.id]}


@pytest.fixture
def slack(start: StartApp) -> SlackHarness:
    return start(ops_usergroup=OPS)


def escalate(slack: SlackHarness, submission_id: str = "sla-1", **fields: Any) -> str:
    body = slack.intake(urgent(submission_id, **fields))
    assert body["status"].startswith("escalated"), body
    return str(body["request_id"])


def pings(fake: FakeSlack) -> list[dict[str, Any]]:
    """Every thread reply posted (the escalations themselves are not in threads)."""
    return [c.params for c in fake.calls("chat.postMessage") if c.params.get("thread_ts")]


def tick_at(slack: SlackHarness, clock: FixedClock, at: timedelta, start: Any) -> dict[str, int]:
    clock.now = start + at
    return slack.components.sla.tick()


def killed_at_post(
    slack: SlackHarness, clock: FixedClock, at: timedelta, start: Any, *, after: bool
) -> None:
    """A tick whose process dies at its first post; the next tick is a restart."""
    pinger = slack.components.sla
    chat = pinger.chat
    pinger.chat = KilledAtPost(chat, after=after)
    try:
        with pytest.raises(Crash):
            tick_at(slack, clock, at, start)
    finally:
        pinger.chat = chat


# ------------------------------------------------------------------ 1x, 2x, 4x


def test_an_unclaimed_escalation_is_pinged_at_1x_2x_and_4x_the_sla_then_never_again(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    opened = clock.now
    request_id = escalate(slack)
    escalation = slack.escalation(request_id)
    assert escalation.message_ts is not None

    assert tick_at(slack, clock, SLA - timedelta(seconds=1), opened) == {"pinged": 0, "failed": 0}
    assert pings(fake) == []

    assert tick_at(slack, clock, SLA, opened) == {"pinged": 1, "failed": 0}
    [first] = pings(fake)
    assert (first["channel"], first["thread_ts"]) == (CHANNEL, escalation.message_ts)
    assert first["text"].count(f"<!subteam^{OPS}>") == 1
    assert "waited 15 min" in first["text"] and "unclaimed" in first["text"]
    assert slack.escalation(request_id).sla_pings == 1
    assert slack.escalation(request_id).sla_pinged_at == clock.now

    # Ticking on between the levels posts nothing.
    for minutes in (16, 29):
        assert tick_at(slack, clock, timedelta(minutes=minutes), opened)["pinged"] == 0
    assert len(pings(fake)) == 1

    assert tick_at(slack, clock, 2 * SLA, opened)["pinged"] == 1
    assert tick_at(slack, clock, 4 * SLA - timedelta(seconds=1), opened)["pinged"] == 0
    assert tick_at(slack, clock, 4 * SLA, opened)["pinged"] == 1
    assert tick_at(slack, clock, 8 * SLA, opened)["pinged"] == 0
    assert tick_at(slack, clock, timedelta(days=2), opened)["pinged"] == 0

    texts = [p["text"] for p in pings(fake)]
    assert len(texts) == 3
    assert "waited 30 min" in texts[1] and "waited 1 h" in texts[2]
    assert {p["thread_ts"] for p in pings(fake)} == {escalation.message_ts}
    assert slack.escalation(request_id).sla_pings == 3
    keys = [m.dedupe_key for m in slack.components.outbox.latest(request_id=request_id)]
    assert {f"slack:sla:{request_id}:{level}" for level in (1, 2, 3)} <= set(keys)
    # Pinged in full, it is no longer among what a tick reads.
    assert slack.components.escalations.sla_due([clock.now - SLA * m for m in SLA_MULTIPLES]) == []


@SQLITE_ONLY
def test_without_an_ops_group_the_ping_calls_on_the_channel(
    start: StartApp, fake: FakeSlack, clock: FixedClock
) -> None:
    slack = start()  # no ops_usergroup
    escalate(slack)

    clock.now += SLA
    slack.components.sla.tick()

    [ping] = pings(fake)
    assert ping["text"].startswith(":alarm_clock: <!here> ")
    assert "subteam" not in ping["text"]


# ------------------------------------------------------------------ claim and resolve stop it


def test_a_claim_through_slack_stops_the_pings(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    opened = clock.now
    request_id = escalate(slack)
    tick_at(slack, clock, SLA, opened)
    assert len(pings(fake)) == 1

    slack.click(OMAR.id, request_id, ActionId.CLAIM)
    wait_for(lambda: slack.escalation(request_id).claimed_by == OMAR.id, what="the claim")

    for at in (2 * SLA, 4 * SLA, 8 * SLA):
        assert tick_at(slack, clock, at, opened) == {"pinged": 0, "failed": 0}
    assert len(pings(fake)) == 1


def test_resolving_stops_the_pings_and_a_claim_during_the_tick_wins(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    opened = clock.now
    resolved = escalate(slack, "sla-resolved")
    raced = escalate(slack, "sla-raced")
    repo = slack.components.escalations
    repo.resolve(resolved, OMAR.id, clock.now, "spam", None)

    # The tick reads `raced` as owed a ping; Omar claims it while the batch is being
    # posted (a long batch waits for Slack's pacing): the ping is not posted.
    read_batch = repo.sla_due

    def read_then_claim(*args: Any, **kwargs: Any) -> list[Any]:
        batch = read_batch(*args, **kwargs)
        assert [e.request_id for e in batch] == [raced]
        repo.claim(raced, OMAR.id, clock.now)
        return batch

    repo.sla_due = read_then_claim  # type: ignore[method-assign]
    clock.now = opened + SLA
    assert slack.components.sla.tick() == {"pinged": 0, "failed": 0}
    assert pings(fake) == []


# ------------------------------------------------------------------ late


def test_a_late_tick_posts_one_ping_for_the_highest_level_reached(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    opened = clock.now
    request_id = escalate(slack)

    # The process was down for 70 minutes: levels 1x, 2x and 4x all passed.
    assert tick_at(slack, clock, timedelta(minutes=70), opened) == {"pinged": 1, "failed": 0}

    [ping] = pings(fake)
    assert "waited 1 h 10 min" in ping["text"]
    assert slack.escalation(request_id).sla_pings == 3
    assert tick_at(slack, clock, timedelta(hours=5), opened)["pinged"] == 0


def test_an_escalation_slack_got_late_waits_for_its_message_then_pings_once(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    opened = clock.now
    fake.fail_next("chat.postMessage", "channel_not_found")
    request_id = escalate(slack)
    assert slack.escalation(request_id).message_ts is None

    # Not in Slack yet: nothing to reply to, so it waits.
    assert tick_at(slack, clock, timedelta(minutes=40), opened)["pinged"] == 0
    assert pings(fake) == []

    request = slack.components.requests.get(request_id)
    assert request is not None
    assert slack.components.escalator.redeliver(request, slack.escalation(request_id))
    assert tick_at(slack, clock, timedelta(minutes=41), opened)["pinged"] == 1

    [ping] = pings(fake)  # one ping, for 2x (30 min): not one for 1x and one for 2x
    assert ping["thread_ts"] == slack.escalation(request_id).message_ts
    assert "waited 41 min" in ping["text"]
    assert slack.escalation(request_id).sla_pings == 2
    assert tick_at(slack, clock, 4 * SLA, opened)["pinged"] == 1
    assert len(pings(fake)) == 2


# ------------------------------------------------------------------ a process killed mid-ping


def test_a_ping_whose_process_died_before_posting_goes_out_on_the_next_tick(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    opened = clock.now
    request_id = escalate(slack)

    killed_at_post(slack, clock, SLA, opened, after=False)
    assert pings(fake) == []

    assert tick_at(slack, clock, SLA + timedelta(minutes=1), opened) == {"pinged": 1, "failed": 0}
    assert len(pings(fake)) == 1
    assert slack.escalation(request_id).sla_pings == 1

    # The last ping too, which has no later level to make up for it.
    assert tick_at(slack, clock, 2 * SLA, opened)["pinged"] == 1
    killed_at_post(slack, clock, 4 * SLA, opened, after=False)
    assert len(pings(fake)) == 2
    assert tick_at(slack, clock, 4 * SLA + timedelta(minutes=1), opened)["pinged"] == 1
    assert "waited 1 h 1 min" in pings(fake)[-1]["text"]
    assert slack.escalation(request_id).sla_pings == 3
    assert tick_at(slack, clock, 8 * SLA, opened)["pinged"] == 0
    assert len(pings(fake)) == 3


def test_a_ping_posted_by_a_process_that_died_before_recording_it_is_not_posted_again(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    opened = clock.now
    request_id = escalate(slack)

    killed_at_post(slack, clock, SLA, opened, after=True)
    assert len(pings(fake)) == 1

    recorded = opened + SLA + timedelta(minutes=1)
    assert tick_at(slack, clock, recorded - opened, opened) == {"pinged": 1, "failed": 0}
    assert len(pings(fake)) == 1  # the outbox handed back the ping the dead process posted
    escalation = slack.escalation(request_id)
    assert (escalation.sla_pings, escalation.sla_pinged_at) == (1, recorded)
    assert tick_at(slack, clock, 2 * SLA, opened)["pinged"] == 1
    assert len(pings(fake)) == 2


# ------------------------------------------------------------------ Slack refusing


def test_a_failed_ping_is_tried_again_next_tick_and_given_up_after_three_tries(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    opened = clock.now
    request_id = escalate(slack)

    fake.fail_next("chat.postMessage", "ratelimited_forever")
    assert tick_at(slack, clock, SLA, opened) == {"pinged": 0, "failed": 1}
    assert slack.escalation(request_id).sla_pings == 0  # given back for the next tick
    assert tick_at(slack, clock, SLA + timedelta(minutes=1), opened) == {"pinged": 1, "failed": 0}
    assert len(pings(fake)) == 2  # the failed call and the retry; Slack shows one
    assert slack.escalation(request_id).sla_pings == 1

    fake.fail_next("chat.postMessage", "is_archived", times=10)
    for minute in range(3):
        at = 2 * SLA + timedelta(minutes=minute)
        assert tick_at(slack, clock, at, opened) == {"pinged": 0, "failed": 1}
    calls = len(fake.calls("chat.postMessage"))
    # The fourth tick gives up without calling Slack, and the level stays taken.
    assert tick_at(slack, clock, 2 * SLA + timedelta(minutes=3), opened) == {
        "pinged": 0,
        "failed": 1,
    }
    assert len(fake.calls("chat.postMessage")) == calls
    assert slack.escalation(request_id).sla_pings == 2
    assert tick_at(slack, clock, 2 * SLA + timedelta(minutes=4), opened)["failed"] == 0


# ------------------------------------------------------------------ VIP


def test_a_vip_ticket_in_the_owners_dm_is_pinged_in_its_channel_notice_thread(
    slack: SlackHarness, fake: FakeSlack, clock: FixedClock
) -> None:
    request_id = escalate(slack, "sla-vip", email="dana@majorclient.com")
    escalation = slack.escalation(request_id)
    assert escalation.channel == "D0OLIVIA"
    [notice] = [c for c in fake.calls("chat.postMessage") if c.params["channel"] == CHANNEL]
    notice_ts = next(ts for (channel, ts) in fake.messages if channel == CHANNEL)

    clock.now += SLA
    assert slack.components.sla.tick()["pinged"] == 1

    [ping] = pings(fake)
    assert (ping["channel"], ping["thread_ts"]) == (CHANNEL, notice_ts)
    assert f"<!subteam^{OPS}> <@{OLIVIA.id}>" in ping["text"]
    assert request_id in notice.params["text"]


@SQLITE_ONLY
def test_without_a_channel_notice_a_vip_ticket_is_pinged_in_the_dm_thread(
    make_app: Any, clock: FixedClock
) -> None:
    # In sandbox mode the notice is recorded without a Slack ts to reply to.
    client, components = make_app(slack_config(ops_usergroup=OPS))
    assert isinstance(components.integrations.chat, SandboxChat)
    response = post_signed(client, urgent("sla-vip-sandbox", email="dana@majorclient.com"))
    assert response.json()["status"] == "escalated_vip"
    request_id = response.json()["request_id"]
    escalation = components.escalations.get_by_request(request_id)
    assert escalation is not None and escalation.channel == "D0OLIVIA"

    clock.now += SLA
    assert components.sla.tick()["pinged"] == 1

    ping = components.outbox.get(f"slack:sla:{request_id}:1")
    assert ping is not None
    assert ping.payload["channel"] == "D0OLIVIA"
    assert ping.payload["thread_ts"] == escalation.message_ts
    assert f"<!subteam^{OPS}> <@{OLIVIA.id}>" in ping.payload["text"]


# ------------------------------------------------------------------ two replicas


def tick_together(pingers: list[SlaPinger]) -> list[dict[str, int]]:
    """Every replica ticks at the same moment, released together by a barrier."""
    barrier = threading.Barrier(len(pingers))

    def tick(pinger: SlaPinger) -> dict[str, int]:
        barrier.wait(timeout=5)
        return pinger.tick()

    with ThreadPoolExecutor(max_workers=len(pingers)) as pool:
        return list(pool.map(tick, pingers))


def test_two_replicas_ticking_at_once_post_each_ping_once(
    start: StartApp, fake: FakeSlack, clock: FixedClock
) -> None:
    first, second = start(ops_usergroup=OPS), start(ops_usergroup=OPS)
    assert first.components.db is not second.components.db
    opened = clock.now
    request_ids = [escalate(first, f"sla-race-{n}") for n in range(6)]
    pingers: list[SlaPinger] = [first.components.sla, second.components.sla]

    for level, at in enumerate((SLA, 2 * SLA, 4 * SLA), start=1):
        clock.now = opened + at
        results = tick_together(pingers)

        assert sum(r["pinged"] for r in results) == len(request_ids)
        assert sum(r["failed"] for r in results) == 0
        assert len(pings(fake)) == level * len(request_ids)
        for request_id in request_ids:
            assert first.escalation(request_id).sla_pings == level
    by_thread: dict[str, list[Call]] = {}
    for call in fake.calls("chat.postMessage"):
        if call.params.get("thread_ts"):
            by_thread.setdefault(call.params["thread_ts"], []).append(call)
    assert sorted(len(calls) for calls in by_thread.values()) == [3] * len(request_ids)
