"""The weekly digest (SPEC §7, issue #6): last week's KPIs against the week before, posted
to the escalation channel from Monday 09:00 in the business zone, once per week however
many schedulers tick, late after an outage but not a day late; a post Slack refuses is
tried again at 09:05, 09:15, 09:35, 10:15 and 11:35, then given up.

Each harness is a Frontdesk instance with its own engine on the shared database, posting
with the real WebClient to the fake Slack; the digests tick on the test's clock. Figures
come from tests/integration/kpi_weeks.py, worked out by hand there.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.messages.kpi_blocks import DIGEST_HEADER
from bot.services.digest import (
    DIGEST_TRIES,
    GAVE_UP,
    NOT_POSTED,
    RETRY_STEP,
    WeeklyDigest,
    dedupe_key,
)
from storage.models import OutboxStatus, RequestStatus
from testkit.fakes.slack import FakeSlack, FakeUser
from tests.conftest import FixedClock
from tests.integration.conftest import StartApp
from tests.integration.kpi_seed import Seeder
from tests.integration.kpi_weeks import DIGEST_DUE, seed_fortnight

CHANNEL = "C0ESCALATE"
OMAR = FakeUser("U0OMAR", "omar@ourco.example")
NO_POST = {"posted": 0, "failed": 0}
POSTED = {"posted": 1, "failed": 0}
FAILED = {"posted": 0, "failed": 1}


@pytest.fixture
def slack_users() -> list[FakeUser]:
    return [OMAR]


@pytest.fixture
def two(start: StartApp) -> list[WeeklyDigest]:
    """Two Frontdesk processes (two schedulers) on one database, history seeded."""
    first, second = start(), start()
    assert first.components.db is not second.components.db
    seed_fortnight(first.components.db)
    return [first.components.digest, second.components.digest]


def digests(fake: FakeSlack) -> list[dict[str, Any]]:
    return [
        post
        for post in fake.posts()
        if (post.get("blocks") or [{}])[0].get("text", {}).get("text") == DIGEST_HEADER
    ]


def tick_all(instances: list[WeeklyDigest], clock: FixedClock, at: datetime) -> list[dict]:
    clock.now = at
    return [digest.tick() for digest in instances]


def tick_together(instances: list[WeeklyDigest]) -> list[dict[str, int]]:
    """Every scheduler ticks at the same moment, released together by a barrier."""
    barrier = threading.Barrier(len(instances))

    def tick(digest: WeeklyDigest) -> dict[str, int]:
        barrier.wait(timeout=5)
        return digest.tick()

    with ThreadPoolExecutor(max_workers=len(instances)) as pool:
        return list(pool.map(tick, instances))


def fields(post: dict[str, Any]) -> list[str]:
    return [field["text"] for block in post["blocks"] for field in block.get("fields", [])]


# ------------------------------------------------------------------ once a week, at 09:00


def test_the_digest_is_posted_once_from_monday_0900_by_two_schedulers(
    two: list[WeeklyDigest], fake: FakeSlack, clock: FixedClock
) -> None:
    assert tick_all(two, clock, DIGEST_DUE - timedelta(minutes=1)) == [NO_POST, NO_POST]
    assert tick_all(two, clock, DIGEST_DUE - timedelta(seconds=1)) == [NO_POST, NO_POST]
    assert digests(fake) == []

    assert tick_all(two, clock, DIGEST_DUE) == [POSTED, NO_POST]

    [post] = digests(fake)
    assert post["channel"] == CHANNEL
    assert "human intervention rate 20.0% (+10.0 pts vs 10.0% the week before)" in post["text"]
    assert "too restrictive" in post["text"]
    assert [b.to_dict() for b in Block.parse_all(post["blocks"])] == post["blocks"]
    blocks = str(post["blocks"])
    assert "Mon 16 Nov to Sun 22 Nov 2026 (America/New_York)" in blocks
    assert "Human intervention rate *20.0%* (+10.0 pts vs 10.0% the week before)" in blocks
    assert "`keyword:urgent`: 2 (10.0% of requests)" in blocks
    assert "`vip_domain:majorclient.com`: 2 (10.0% of requests)" in blocks
    assert fields(post) == [
        "*Escalations*\n4 of 20 requests (+2)",
        "*Time to claim*\np50 10 min (+5 min) · p90 40 min (+25 min)",
        "*Time to resolution*\np50 60 min (+40 min), 1 still open",
        "*SLA breaches*\n2 (+2) of 4",
        "*No-show rate*\nauto-booked 20.0% · human-handled 50.0%",
        "*VIP conversion*\n50% (1 of 2 booked)",
        "*Client changes*\n0 cancelled · 0 rescheduled",
    ]

    # Later ticks that week, on either scheduler, find it posted.
    for later in (timedelta(seconds=30), timedelta(hours=3), timedelta(hours=23, minutes=59)):
        assert tick_all(two, clock, DIGEST_DUE + later) == [NO_POST, NO_POST]
    assert len(digests(fake)) == 1
    sent = two[0].outbox.get(dedupe_key(DIGEST_DUE.date()))
    assert sent is not None and sent.status == OutboxStatus.SENT


def test_schedulers_ticking_at_the_same_moment_post_one_digest(
    start: StartApp, two: list[WeeklyDigest], fake: FakeSlack, clock: FixedClock
) -> None:
    instances = [*two, start().components.digest]
    clock.now = DIGEST_DUE
    for _ in range(3):
        results = tick_together(instances)
        assert sum(r["failed"] for r in results) == 0
    assert len(digests(fake)) == 1
    assert len(fake.calls("chat.postMessage")) == 1


# ------------------------------------------------------------------ late, and too late


def test_a_digest_missed_in_an_outage_is_posted_late_the_same_day(
    two: list[WeeklyDigest], fake: FakeSlack, clock: FixedClock
) -> None:
    monday_1500 = DIGEST_DUE + timedelta(hours=6)  # 15:00 EST: no process ran since Friday

    assert tick_all(two, clock, monday_1500) == [POSTED, NO_POST]

    [post] = digests(fake)
    assert "20.0% (+10.0 pts" in post["text"]  # the same week, not today's partial one


def test_a_digest_a_day_late_is_skipped_and_next_week_gets_its_own(
    two: list[WeeklyDigest], fake: FakeSlack, clock: FixedClock
) -> None:
    for late in (timedelta(hours=24), timedelta(hours=25), timedelta(days=3)):
        assert tick_all(two, clock, DIGEST_DUE + late) == [NO_POST, NO_POST]  # Tue 09:00, 10:00
    assert digests(fake) == []

    next_monday = DIGEST_DUE + timedelta(days=7)  # Mon 30 Nov 09:00 EST
    assert tick_all(two, clock, next_monday - timedelta(seconds=1)) == [NO_POST, NO_POST]
    assert tick_all(two, clock, next_monday) == [POSTED, NO_POST]

    [post] = digests(fake)
    # Its week (23-29 Nov) is still empty: e4 came in on Sunday evening, New York time.
    assert "Frontdesk weekly digest (Mon 23 Nov to Sun 29 Nov 2026)" in post["text"]
    assert "human intervention rate -, no requests" in post["text"]
    assert "*Escalations*\n0 of 0 requests (-4)" in fields(post)
    assert two[0].outbox.get("slack:digest:2026-11-30") is not None
    assert two[0].outbox.get("slack:digest:2026-11-23") is None


# ------------------------------------------------------------------ daylight saving time


def test_the_digest_follows_the_business_zone_across_the_fall_back(
    start: StartApp, fake: FakeSlack, clock: FixedClock
) -> None:
    digest = start().components.digest
    seed = Seeder(digest.queries.db)
    # The week of Mon 26 Oct (EDT) to Mon 2 Nov 00:00 EST is 169 hours long: a request at
    # Sun 1 Nov 23:30 EST (04:30 UTC) is in it, one at Mon 00:30 EST is not.
    for n in range(8):
        seed.request(RequestStatus.BOOKED_AUTO, datetime(2026, 10, 27, 14, n, tzinfo=UTC))
    seed.escalation(
        RequestStatus.ESCALATED_MANUAL_REVIEW,
        datetime(2026, 11, 2, 4, 30, tzinfo=UTC),
        ["keyword:urgent"],
        timedelta(minutes=3),
        timedelta(minutes=9),
        "declined",
    )
    seed.request(RequestStatus.BOOKED_AUTO, datetime(2026, 11, 2, 5, 30, tzinfo=UTC))

    # Mon 26 Oct 09:00 EDT is 13:00 UTC; Mon 2 Nov 09:00 EST is 14:00 UTC.
    for due in (
        datetime(2026, 10, 26, 13, 0, tzinfo=UTC),
        datetime(2026, 11, 2, 14, 0, tzinfo=UTC),
    ):
        clock.now = due - timedelta(seconds=1)
        assert digest.tick() == NO_POST
        clock.now = due
        assert digest.tick() == POSTED
    first, second = digests(fake)
    assert "Mon 19 Oct to Sun 25 Oct 2026" in first["text"]
    assert "Mon 26 Oct to Sun 1 Nov 2026" in second["text"]
    assert "human intervention rate 11.1% (no requests the week before)" in second["text"]
    assert "*Escalations*\n1 of 9 requests (+1)" in fields(second)
    assert digest.outbox.get("slack:digest:2026-11-02") is not None


# ------------------------------------------------------------------ Slack refusing


def test_a_refused_digest_is_tried_again_five_minutes_later(
    two: list[WeeklyDigest], fake: FakeSlack, clock: FixedClock
) -> None:
    fake.fail_next("chat.postMessage", "ratelimited_forever")
    clock.now = DIGEST_DUE
    assert two[0].tick() == FAILED
    assert two[0].outbox.get(dedupe_key(DIGEST_DUE.date())) is not None

    # Backing off: no scheduler calls Slack before 09:05.
    assert tick_all(two, clock, DIGEST_DUE + timedelta(minutes=1)) == [NO_POST, NO_POST]
    assert tick_all(two, clock, DIGEST_DUE + RETRY_STEP - timedelta(seconds=1)) == [
        NO_POST,
        NO_POST,
    ]
    assert len(fake.calls("chat.postMessage")) == 1

    assert tick_all(two, clock, DIGEST_DUE + RETRY_STEP) == [POSTED, NO_POST]
    assert len(fake.calls("chat.postMessage")) == 2  # the refused call and the retry
    assert tick_all(two, clock, DIGEST_DUE + timedelta(minutes=20)) == [NO_POST, NO_POST]
    assert len(fake.calls("chat.postMessage")) == 2


def test_a_two_minute_slack_outage_at_0900_delays_the_digest_to_0905(
    two: list[WeeklyDigest], fake: FakeSlack, clock: FixedClock
) -> None:
    """Both schedulers tick every 30 s (the default); Slack refuses everything 09:00-09:02."""
    fake.outage("chat.postMessage")
    posted_at = []
    for step in range(21):  # 09:00 to 09:10
        at = DIGEST_DUE + timedelta(seconds=30 * step)
        if at >= DIGEST_DUE + timedelta(minutes=2):
            fake.recover("chat.postMessage")
        results = tick_all(two, clock, at)
        assert sum(r["failed"] for r in results) == (1 if step == 0 else 0), at
        if any(r["posted"] for r in results):
            posted_at.append(at)

    assert posted_at == [DIGEST_DUE + timedelta(minutes=5)]
    assert len(fake.messages) == 1  # what the channel shows: one digest
    assert len(fake.calls("chat.postMessage")) == 2  # 09:00 refused, 09:05 posted
    sent = two[0].outbox.get(dedupe_key(DIGEST_DUE.date()))
    assert sent is not None and sent.status == OutboxStatus.SENT


def test_a_digest_slack_keeps_refusing_is_tried_six_times_spaced_out_then_given_up(
    two: list[WeeklyDigest], fake: FakeSlack, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    digest = two[0]
    fake.fail_next("chat.postMessage", "is_archived", times=20)
    tries = [DIGEST_DUE + timedelta(minutes=m) for m in (0, 5, 15, 35, 75, 155)]
    assert len(tries) == DIGEST_TRIES
    with caplog.at_level(logging.ERROR, logger="frontdesk.digest"):
        for n, at in enumerate(tries):
            if n:  # the tick just before a try waits, on either scheduler
                assert tick_all(two, clock, at - timedelta(seconds=1)) == [NO_POST, NO_POST]
                assert len(fake.calls("chat.postMessage")) == n
            clock.now = at
            assert digest.tick() == FAILED
            assert len(fake.calls("chat.postMessage")) == n + 1

        # Given up: later ticks, on either scheduler, neither call Slack nor count a failure.
        for later in (timedelta(minutes=156), timedelta(hours=6), timedelta(hours=23, minutes=59)):
            assert tick_all(two, clock, DIGEST_DUE + later) == [NO_POST, NO_POST]
    assert len(fake.calls("chat.postMessage")) == DIGEST_TRIES
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count(NOT_POSTED) == DIGEST_TRIES - 1
    assert messages.count(GAVE_UP) == 1
    failed = digest.outbox.get(dedupe_key(DIGEST_DUE.date()))
    assert failed is not None and failed.status == OutboxStatus.FAILED
