"""Bursts of escalations (issue #3): Slack takes about one message a second per channel, so
posts queue for their turn; with more than a short wait ahead they queue in the background
and the form's request is answered without waiting for Slack. Every one is posted, once."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import pytest

from bot.services.escalation import INLINE_POST_WAIT
from integrations.slack import SlackChat
from storage.migrate import upgrade
from testkit.fakes.slack import Call, FakeSlack
from testkit.slack_payloads import BOT_TOKEN
from tests.conftest import FixedClock
from tests.slack_requests import SlackHarness, slack_config, wait_for

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BURST = 6


@pytest.fixture
def slack(database_url: str, clock: FixedClock) -> Iterator[SlackHarness]:
    upgrade(database_url)
    with FakeSlack(token=BOT_TOKEN) as fake:
        harness = SlackHarness.start(database_url, slack_config(), fake, clock)
        try:
            yield harness
        finally:
            harness.close()


def urgent(index: int) -> dict[str, str]:
    return {
        "submission_id": f"burst-{index}",
        "name": f"Client {index}",
        "email": f"client{index}@northwind.example",
        "timezone": "America/New_York",
        "requested_start": "2026-12-01T10:00:00",
        "notes": "Urgent, please call",
    }


def test_with_a_queue_ahead_the_form_is_answered_and_the_post_follows(
    slack: SlackHarness,
) -> None:
    chat = slack.components.integrations.chat
    assert isinstance(chat, SlackChat)
    for _ in range(3):  # three posts already took the channel's next three seconds
        chat.pacer.reserve("C0ESCALATE")
    queued = chat.backlog_seconds("C0ESCALATE")
    assert queued > INLINE_POST_WAIT

    body = slack.intake(urgent(1))

    assert body["status"] == "escalated_manual_review"
    assert slack.escalation(body["request_id"]).notified_at is None  # answered first
    assert slack.fake.calls("chat.postMessage") == []
    [post] = wait_for(lambda: slack.fake.calls("chat.postMessage"), timeout=queued + 5)
    assert "Client 1" in post.params["text"]
    assert wait_for(lambda: slack.escalation(body["request_id"]).notified_at)


def test_a_burst_is_posted_in_turn_each_escalation_once(slack: SlackHarness) -> None:
    def submit(index: int) -> str:
        body = slack.intake(urgent(index))
        assert body["status"] == "escalated_manual_review"
        return str(body["request_id"])

    with ThreadPoolExecutor(BURST) as pool:
        request_ids = list(pool.map(submit, range(BURST)))

    def all_posted() -> list[Call] | None:
        calls = slack.fake.calls("chat.postMessage")
        return calls if len(calls) == BURST else None

    posts = wait_for(all_posted, timeout=BURST + 5, what="every escalation posted")
    assert len({call.params["text"] for call in posts}) == BURST  # each client once
    assert all(wait_for(lambda r=r: slack.escalation(r).notified_at) for r in request_ids)
    gaps = [later.at - earlier.at for earlier, later in pairwise(posts)]
    assert min(gaps) > 0.8  # one a second: Slack's limit per channel
