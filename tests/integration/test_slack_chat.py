"""SlackChat through the real slack_sdk WebClient against our fake Slack (tests/fakes/slack.py),
reached the way production reaches Slack: SLACK_API_URL as the client's base_url.

Tests about the outbox run on SQLite and PostgreSQL (`migrated_db`); tests about the wire
(retries, pacing, errors) run on SQLite only, since the database plays no part in them.
"""

from __future__ import annotations

import itertools
import logging
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator
from sqlalchemy import update

from integrations.base import IntegrationError, PostedMessage
from integrations.slack import STALE_CLAIM, SlackChat, build_slack_client
from storage.db import Database
from storage.migrate import upgrade
from storage.models import utcnow
from storage.repositories import OutboxRepository
from storage.repositories.outbox import OUTBOX
from testkit.fakes.slack import FAKE_TOKEN, FakeSlack, FakeUser
from tests.conftest import make_settings

CHANNEL = "C0ESCALATE"
OTHER_CHANNEL = "C0OTHER"
MARCUS = FakeUser("U0MARCUS", "marcus@ourco.example", tz="Europe/Berlin")
BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*Manual review*: Dana Reyes"}},
    {
        "type": "actions",
        "block_id": "escalation:req_1",
        "elements": [
            {
                "type": "button",
                "action_id": "claim",
                "text": {"type": "plain_text", "text": "Claim"},
                "value": "req_1",
            }
        ],
    },
]
MAX_RETRIES = 2


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(users=[MARCUS]) as fake:
        yield fake


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    upgrade(sqlite_url)
    db = Database(sqlite_url)
    yield db
    db.dispose()


def make_chat(
    db: Database,
    api_url: str,
    *,
    token: str | None = FAKE_TOKEN,
    post_interval: float = 0.0,
) -> SlackChat:
    settings = make_settings(db.url, slack_bot_token=token, slack_api_url=api_url)
    client = build_slack_client(
        settings,
        timeout=5,
        max_retries=MAX_RETRIES,
        retry_interval=FixedValueRetryIntervalCalculator(0.05),  # keeps 5xx retries fast
    )
    return SlackChat(client, OutboxRepository(db), post_interval=post_interval)


def post(
    chat: SlackChat, key: str = "slack:escalation:req_1", channel: str = CHANNEL
) -> PostedMessage:
    return chat.post_message(
        channel, "Manual review: Dana Reyes", BLOCKS, dedupe_key=key, request_id="req_1"
    )


# ------------------------------------------------------------------ posting and the outbox


def test_post_message_sends_channel_text_and_blocks_and_records_the_ts(
    fake_slack: FakeSlack, migrated_db: Database
) -> None:
    posted = post(make_chat(migrated_db, fake_slack.url))

    [call] = fake_slack.calls("chat.postMessage")
    assert call.params["channel"] == CHANNEL
    assert call.params["text"] == "Manual review: Dana Reyes"
    assert call.params["blocks"] == BLOCKS
    assert call.headers["authorization"] == f"Bearer {FAKE_TOKEN}"
    assert (CHANNEL, posted.ts) in fake_slack.messages  # the ts the fake handed out
    assert posted.channel == CHANNEL

    row = OutboxRepository(migrated_db).get("slack:escalation:req_1")
    assert row is not None
    assert (row.service, row.action, row.status) == ("slack", "chat.postMessage", "sent")
    assert row.result == {"channel": CHANNEL, "ts": posted.ts}
    assert row.request_id == "req_1"
    assert row.payload["blocks"] == BLOCKS


def test_the_same_dedupe_key_posts_once_even_from_another_replica(
    fake_slack: FakeSlack, migrated_db: Database
) -> None:
    first = post(make_chat(migrated_db, fake_slack.url))
    again = post(make_chat(migrated_db, fake_slack.url))  # a second replica, same database
    other = post(make_chat(migrated_db, fake_slack.url), key="slack:escalation:req_2")

    assert again == first
    assert other.ts != first.ts
    assert len(fake_slack.calls("chat.postMessage")) == 2


def test_a_failed_post_is_kept_with_its_error_and_a_retry_posts(
    fake_slack: FakeSlack, migrated_db: Database
) -> None:
    chat = make_chat(migrated_db, fake_slack.url)
    fake_slack.fail_next("chat.postMessage", "channel_not_found")

    with pytest.raises(IntegrationError) as caught:
        post(chat)

    assert caught.value.code == "api_error:slack:200:channel_not_found"
    assert "slack.escalation_channel" in caught.value.message
    failed = OutboxRepository(migrated_db).get("slack:escalation:req_1")
    assert failed is not None and failed.status == "failed"
    assert "channel_not_found" in (failed.last_error or "")
    posted = post(chat)
    sent = OutboxRepository(migrated_db).get("slack:escalation:req_1")
    assert (
        sent is not None
        and sent.status == "sent"
        and sent.result
        == {
            "channel": CHANNEL,
            "ts": posted.ts,
        }
    )
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert (CHANNEL, posted.ts) in fake_slack.messages


def test_a_key_another_replica_is_posting_is_not_posted_again(
    fake_slack: FakeSlack, migrated_db: Database
) -> None:
    outbox = OutboxRepository(migrated_db)
    outbox.record("slack:escalation:req_1", "slack", "chat.postMessage", {}, status="pending")

    with pytest.raises(IntegrationError) as caught:
        post(make_chat(migrated_db, fake_slack.url))

    assert caught.value.status == "in_progress"
    assert fake_slack.calls("chat.postMessage") == []


def test_a_claim_left_by_a_crash_is_taken_over_once_stale(
    fake_slack: FakeSlack, migrated_db: Database
) -> None:
    outbox = OutboxRepository(migrated_db)
    outbox.record("slack:escalation:req_1", "slack", "chat.postMessage", {}, status="pending")
    with migrated_db.transaction() as conn:  # the claim's owner died a while ago
        conn.execute(update(OUTBOX).values(created_at=utcnow() - STALE_CLAIM - timedelta(1)))

    posted = post(make_chat(migrated_db, fake_slack.url))

    assert len(fake_slack.calls("chat.postMessage")) == 1
    stored = outbox.get("slack:escalation:req_1")
    assert stored is not None and stored.status == "sent"
    assert stored.result == {"channel": CHANNEL, "ts": posted.ts}


# ------------------------------------------------------------------ retries


def test_a_429_is_retried_after_retry_after_and_posted_once(
    fake_slack: FakeSlack, sqlite_db: Database
) -> None:
    fake_slack.rate_limit_next("chat.postMessage", retry_after=1)

    posted = post(make_chat(sqlite_db, fake_slack.url))

    limited, accepted = fake_slack.calls("chat.postMessage")
    assert accepted.at - limited.at >= 1.0  # Retry-After was honoured
    assert len(fake_slack.messages) == 1
    assert (CHANNEL, posted.ts) in fake_slack.messages


def test_a_post_answered_503_is_not_repeated_blindly(
    fake_slack: FakeSlack, sqlite_db: Database
) -> None:
    # Slack may have posted behind a 503: the post fails, its row stays FAILED, and the
    # next attempt (the redelivery job) posts; never two posts inside one call.
    fake_slack.server_error_next("chat.postMessage", status=503)
    chat = make_chat(sqlite_db, fake_slack.url)

    with pytest.raises(IntegrationError) as caught:
        post(chat)
    assert caught.value.status == 503
    assert len(fake_slack.calls("chat.postMessage")) == 1

    posted = post(chat)
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert list(fake_slack.messages) == [(CHANNEL, posted.ts)]


def test_a_lasting_outage_gives_up_after_bounded_retries(
    fake_slack: FakeSlack, sqlite_db: Database
) -> None:
    chat = make_chat(sqlite_db, fake_slack.url)
    posted = post(chat)
    fake_slack.server_error_next("chat.update", status=503, times=10)

    with pytest.raises(IntegrationError) as caught:
        chat.update_message(CHANNEL, posted.ts, "Claimed", BLOCKS)

    assert (caught.value.status, caught.value.reason) == (503, "unexpected_response")
    assert "status.slack.com" in caught.value.message
    assert len(fake_slack.calls("chat.update")) == 1 + MAX_RETRIES


def test_a_rate_limit_that_outlasts_the_retries_says_when_to_come_back(
    fake_slack: FakeSlack, sqlite_db: Database
) -> None:
    settings = make_settings(
        sqlite_db.url, slack_bot_token=FAKE_TOKEN, slack_api_url=fake_slack.url
    )
    chat = SlackChat(
        build_slack_client(settings, timeout=5, max_retries=0), OutboxRepository(sqlite_db)
    )
    fake_slack.rate_limit_next("chat.update", retry_after=7)

    with pytest.raises(IntegrationError) as caught:
        chat.update_message(CHANNEL, "1.000001", "Claimed", BLOCKS)

    assert caught.value.status == 429
    assert caught.value.retry_after == 7.0  # what the redraw queue waits before trying again


# ------------------------------------------------------------------ errors


def test_a_missing_token_is_not_authed_and_says_what_to_set(
    fake_slack: FakeSlack, sqlite_db: Database
) -> None:
    with pytest.raises(IntegrationError) as caught:
        post(make_chat(sqlite_db, fake_slack.url, token=None))

    assert caught.value.code == "api_error:slack:200:not_authed"
    assert "SLACK_BOT_TOKEN" in caught.value.message
    [call] = fake_slack.calls("chat.postMessage")
    assert "authorization" not in call.headers


def test_a_wrong_token_is_invalid_auth(fake_slack: FakeSlack, sqlite_db: Database) -> None:
    with pytest.raises(IntegrationError) as caught:
        post(make_chat(sqlite_db, fake_slack.url, token="xoxb-not-the-right-one"))

    assert caught.value.reason == "invalid_auth"


def test_the_token_never_reaches_the_logs(
    fake_slack: FakeSlack, sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = make_chat(sqlite_db, fake_slack.url)
    fake_slack.fail_next("chat.postMessage", "not_in_channel")

    with pytest.raises(IntegrationError):
        post(chat)
    post(chat)

    assert caplog.records  # the client did log something at DEBUG
    assert FAKE_TOKEN not in caplog.text


def test_an_unreachable_slack_is_a_network_error(sqlite_db: Database) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(IntegrationError) as caught:
        post(make_chat(sqlite_db, f"http://127.0.0.1:{port}/api/"))

    assert caught.value.status == "network"
    assert caught.value.reason == "ConnectionRefusedError"
    assert "SLACK_API_URL" in caught.value.message


# ------------------------------------------------------------------ users and DMs


def test_user_id_for_email_finds_known_users_and_none_for_unknown(
    fake_slack: FakeSlack, sqlite_db: Database
) -> None:
    chat = make_chat(sqlite_db, fake_slack.url)

    assert chat.user_id_for_email("marcus@ourco.example") == "U0MARCUS"
    assert chat.user_id_for_email("nobody@ourco.example") is None
    emails = [call.params["email"] for call in fake_slack.calls("users.lookupByEmail")]
    assert emails == ["marcus@ourco.example", "nobody@ourco.example"]


def test_user_id_for_email_raises_on_other_errors(
    fake_slack: FakeSlack, sqlite_db: Database
) -> None:
    fake_slack.fail_next("users.lookupByEmail", "missing_scope")

    with pytest.raises(IntegrationError) as caught:
        make_chat(sqlite_db, fake_slack.url).user_id_for_email("marcus@ourco.example")

    assert caught.value.code == "api_error:slack:200:missing_scope"
    assert "reinstall" in caught.value.message


def test_open_dm_returns_the_im_channel(fake_slack: FakeSlack, sqlite_db: Database) -> None:
    chat = make_chat(sqlite_db, fake_slack.url)

    dm = chat.open_dm("U0MARCUS")

    assert dm == "D0MARCUS"
    assert [call.params["users"] for call in fake_slack.calls("conversations.open")] == ["U0MARCUS"]
    posted = post(chat, channel=dm)
    assert posted.channel == dm


# ------------------------------------------------------------------ pacing


def test_posts_to_one_channel_are_paced_and_other_channels_are_not(
    fake_slack: FakeSlack, sqlite_db: Database
) -> None:
    chat = make_chat(sqlite_db, fake_slack.url, post_interval=0.2)

    started = time.monotonic()
    for n in range(3):
        post(chat, key=f"slack:escalation:req_{n}")
    elapsed = time.monotonic() - started
    started_other = time.monotonic()
    post(chat, key="slack:escalation:req_other", channel=OTHER_CHANNEL)
    elapsed_other = time.monotonic() - started_other

    assert elapsed >= 0.4
    assert elapsed_other < 0.15  # CHANNEL's queue (next slot 0.2 s away) is not its concern
    # Arrival gaps carry scheduling jitter; unpaced posts arrive a few ms apart.
    times = [call.at for call in fake_slack.calls("chat.postMessage")][:3]
    assert all(later - earlier >= 0.1 for earlier, later in itertools.pairwise(times))


def test_a_burst_queues_per_channel_and_channels_run_side_by_side(
    fake_slack: FakeSlack, sqlite_db: Database
) -> None:
    chat = make_chat(sqlite_db, fake_slack.url, post_interval=0.2)
    jobs = [(channel, n) for n in range(3) for channel in (CHANNEL, OTHER_CHANNEL)]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(lambda job: post(chat, f"k:{job[0]}:{job[1]}", job[0]), jobs))
    elapsed = time.monotonic() - started

    calls = fake_slack.calls("chat.postMessage")
    for channel in (CHANNEL, OTHER_CHANNEL):
        times = sorted(call.at for call in calls if call.params["channel"] == channel)
        assert len(times) == 3
        assert all(later - earlier >= 0.1 for earlier, later in itertools.pairwise(times))
    assert elapsed >= 0.4
    assert elapsed < 0.9  # one channel after the other would take at least 1.0 s


def test_only_one_worker_takes_over_a_failed_post(migrated_db: Database) -> None:
    outbox = OutboxRepository(migrated_db)
    row = outbox.record("slack:escalation:req_9", "slack", "chat.postMessage", {}, status="pending")
    outbox.mark_failed(row.id, "api_error:slack:503:unexpected_response")
    seen = outbox.get("slack:escalation:req_9")
    assert seen is not None

    # Two replicas' redelivery jobs saw the same FAILED row; one of them posts.
    assert [outbox.take_over(seen), outbox.take_over(seen)] == [True, False]
    taken = outbox.get("slack:escalation:req_9")
    assert taken is not None and taken.status == "pending"
