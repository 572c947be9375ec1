"""PostmarkEmail through the real postmarker client against our fake Postmark
(tests/fakes/postmark.py), reached the way production reaches Postmark: POSTMARK_API_URL as
postmarker's `root_api_url`.

Tests about the outbox run on SQLite and PostgreSQL (`migrated_db`); tests about the wire
(retries, errors, probing) run on SQLite only, since the database plays no part in them.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar
from postmarker.core import PostmarkClient

from bot.messages.confirmation import render_confirmation
from integrations.base import Confirmation, IntegrationError
from integrations.postmark import CONFIRMATION_TAG, PostmarkEmail
from storage.db import Database
from storage.migrate import upgrade
from storage.models import OutboxMessage, OutboxStatus, StoredBooking, StoredRequest
from storage.repositories import OutboxRepository
from testkit.fakes.postmark import FAKE_SERVER_TOKEN, SEARCH, SEND, SERVER_NAME, FakePostmark
from tests.conftest import make_settings

SENDER = "bookings@ourco.example"
CLIENT = "dana@majorclient.com"
ICAL_UID = "7kukuqrfedlm2f9t0vt3o2d9nc@google.com"
REQUEST_ID = "req_01POSTMARK"
KEY = f"email:confirmation:{REQUEST_ID}"


@pytest.fixture
def fake_postmark() -> Iterator[FakePostmark]:
    with FakePostmark() as fake:
        yield fake


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    upgrade(sqlite_url)
    db = Database(sqlite_url)
    yield db
    db.dispose()


class Sleeps(list[float]):
    """Records the waits asked for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_email(
    db: Database,
    api_url: str,
    *,
    token: str = FAKE_SERVER_TOKEN,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 5.0,
    claim_timeout: float | None = None,
) -> PostmarkEmail:
    settings = make_settings(
        db.url,
        postmark_server_token=token,
        postmark_from=SENDER,
        postmark_api_url=api_url,
    )
    return PostmarkEmail(
        settings, OutboxRepository(db), timeout=timeout, sleep=sleep, claim_timeout=claim_timeout
    )


def confirmation(*, attach_ics: bool = True) -> Confirmation:
    start = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)
    request = StoredRequest(
        id=REQUEST_ID,
        idempotency_key="typeform-8d1f",
        body_sha256="0" * 64,
        name="Dana Reyes",
        email=CLIENT,
        timezone="America/Phoenix",
        requested_start=start,
        duration_minutes=30,
    )
    booking = StoredBooking(
        id=1,
        request_id=REQUEST_ID,
        rep_email="alice@ourco.example",
        provider="google",
        calendar_id="alice@ourco.example",
        status="confirmed",
        start=start,
        end=start + timedelta(minutes=30),
        client_timezone="America/Phoenix",
        event_id="7kukuqrfedlm2f9t0vt3o2d9nc",
        ical_uid=ICAL_UID,
        video_url="https://meet.google.com/abc-defg-hij",
        confirmed_at=start - timedelta(days=7),
    )
    return render_confirmation(request, booking, attach_ics=attach_ics)


def outbox_row(db: Database) -> OutboxMessage:
    row = OutboxRepository(db).get(KEY)
    assert row is not None
    return row


def claim_as_a_crashed_worker(db: Database) -> None:
    """The PENDING claim a worker leaves when it dies in the middle of sending."""
    OutboxRepository(db).record(
        KEY, "email", "confirmation", {}, request_id=REQUEST_ID, status=OutboxStatus.PENDING
    )


# ------------------------------------------------------------------ sending and the outbox


def test_a_confirmation_reaches_postmark_with_its_invitation_and_is_recorded_sent(
    fake_postmark: FakePostmark, migrated_db: Database
) -> None:
    message = confirmation()

    message_id = make_email(migrated_db, fake_postmark.url).send(message)

    [call] = fake_postmark.calls(SEND)
    assert call.headers["x-postmark-server-token"] == FAKE_SERVER_TOKEN
    body = call.body
    assert body is not None
    assert body["From"] == SENDER
    assert body["To"] == CLIENT
    assert body["Subject"] == message.subject
    assert body["TextBody"] == message.text_body
    assert body["HtmlBody"] == message.html_body
    assert body["Tag"] == CONFIRMATION_TAG
    assert body["Metadata"] == {"request_id": REQUEST_ID}
    assert body["MessageStream"] == "outbound"
    [attachment] = body["Attachments"]
    assert attachment["Name"] == "invite.ics"
    assert attachment["ContentType"] == "text/calendar; charset=utf-8; method=REQUEST"
    ics = Calendar.from_ical(base64.b64decode(attachment["Content"]))
    assert ics.walk("VEVENT")[0]["UID"] == ICAL_UID
    assert message_id == fake_postmark.sent[0]["MessageID"]

    row = outbox_row(migrated_db)
    assert (row.service, row.action, row.status) == ("email", "confirmation", "sent")
    assert row.request_id == REQUEST_ID
    assert row.result is not None and row.result["message_id"] == message_id
    assert row.payload["To"] == CLIENT
    assert row.payload["Attachments"] == [
        {"Name": "invite.ics", "ContentType": "text/calendar; charset=utf-8; method=REQUEST"}
    ]  # the outbox keeps no attachment bytes


def test_a_confirmation_without_invitation_has_no_attachment(
    fake_postmark: FakePostmark, sqlite_db: Database
) -> None:
    make_email(sqlite_db, fake_postmark.url).send(confirmation(attach_ics=False))

    [call] = fake_postmark.calls(SEND)
    assert call.body is not None and call.body["Attachments"] == []


def test_the_same_confirmation_is_sent_once_even_from_another_replica(
    fake_postmark: FakePostmark, migrated_db: Database
) -> None:
    first = make_email(migrated_db, fake_postmark.url).send(confirmation())
    again = make_email(migrated_db, fake_postmark.url).send(confirmation())

    assert again == first
    assert len(fake_postmark.calls(SEND)) == 1
    assert fake_postmark.calls(SEARCH) == []  # a SENT row needs no look at Postmark


def test_two_replicas_sending_at_once_send_one_email(
    fake_postmark: FakePostmark, migrated_db: Database
) -> None:
    fake_postmark.delay_next(0.3)  # the winner is still sending when the other arrives
    replicas = [make_email(migrated_db, fake_postmark.url) for _ in range(2)]
    barrier = threading.Barrier(len(replicas))
    results: list[str] = []

    def send(email: PostmarkEmail) -> None:
        barrier.wait()
        results.append(email.send(confirmation()))

    threads = [threading.Thread(target=send, args=(email,)) for email in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(fake_postmark.calls(SEND)) == 1
    assert results == [fake_postmark.sent[0]["MessageID"]] * 2
    assert outbox_row(migrated_db).status == OutboxStatus.SENT


def test_a_concurrent_failure_is_reported_to_the_waiter_not_repeated(
    fake_postmark: FakePostmark, migrated_db: Database
) -> None:
    fake_postmark.reject_next(406, delay=0.3)
    replicas = [make_email(migrated_db, fake_postmark.url) for _ in range(2)]
    barrier = threading.Barrier(len(replicas))
    codes: list[str] = []

    def send(email: PostmarkEmail) -> None:
        barrier.wait()
        try:
            email.send(confirmation())
        except IntegrationError as error:
            codes.append(error.code)

    threads = [threading.Thread(target=send, args=(email,)) for email in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert codes == ["api_error:postmark:422:406"] * 2
    assert len(fake_postmark.calls(SEND)) == 1


# ------------------------------------------------------------------ after a failure or a crash


def test_a_failed_confirmation_is_sent_again_on_the_next_attempt(
    fake_postmark: FakePostmark, migrated_db: Database
) -> None:
    fake_postmark.server_error_next(500)
    email = make_email(migrated_db, fake_postmark.url, sleep=Sleeps())
    with pytest.raises(IntegrationError):
        email.send(confirmation())
    assert outbox_row(migrated_db).status == OutboxStatus.FAILED

    message_id = email.send(confirmation())

    assert len(fake_postmark.calls(SEARCH)) == 1  # it looked for an earlier copy first
    assert len(fake_postmark.calls(SEND)) == 2
    assert [sent["MessageID"] for sent in fake_postmark.sent] == [message_id]
    row = outbox_row(migrated_db)
    assert row.status == OutboxStatus.SENT
    assert row.last_error is None


def test_a_timed_out_send_that_postmark_accepted_is_not_sent_again(
    fake_postmark: FakePostmark, sqlite_db: Database
) -> None:
    fake_postmark.delay_next(0.6)
    email = make_email(sqlite_db, fake_postmark.url, timeout=0.2)

    with pytest.raises(IntegrationError) as caught:
        email.send(confirmation())

    assert (caught.value.status, caught.value.reason) == ("timeout", "ReadTimeout")
    assert "may or may not have gone out" in caught.value.message
    assert len(fake_postmark.calls(SEND)) == 1  # a timeout is never retried blind
    deadline = time.monotonic() + 5
    while not fake_postmark.sent and time.monotonic() < deadline:
        time.sleep(0.02)  # Postmark finishes accepting the email after we gave up
    assert outbox_row(sqlite_db).status == OutboxStatus.FAILED

    message_id = email.send(confirmation())

    assert message_id == fake_postmark.sent[0]["MessageID"]
    assert len(fake_postmark.calls(SEND)) == 1
    row = outbox_row(sqlite_db)
    assert row.status == OutboxStatus.SENT
    assert row.result is not None and row.result["found_by_search"] is True


def test_a_crash_after_postmark_accepted_does_not_send_twice(
    fake_postmark: FakePostmark, migrated_db: Database
) -> None:
    claim_as_a_crashed_worker(migrated_db)
    earlier = PostmarkClient(server_token=FAKE_SERVER_TOKEN, root_api_url=fake_postmark.url)
    sent = earlier.emails.send(
        From=SENDER,
        To=CLIENT,
        Subject="Confirmed",
        TextBody="…",
        Tag=CONFIRMATION_TAG,
        Metadata={"request_id": REQUEST_ID},
    )

    message_id = make_email(migrated_db, fake_postmark.url, claim_timeout=0).send(confirmation())

    assert message_id == sent["MessageID"]
    assert len(fake_postmark.calls(SEND)) == 1  # only the crashed worker's
    [search] = fake_postmark.calls(SEARCH)
    assert search.query["metadata_request_id"] == REQUEST_ID
    assert search.query["tag"] == CONFIRMATION_TAG
    assert outbox_row(migrated_db).status == OutboxStatus.SENT


def test_a_crash_before_postmark_accepted_sends_once_the_claim_is_stale(
    fake_postmark: FakePostmark, migrated_db: Database
) -> None:
    claim_as_a_crashed_worker(migrated_db)
    email = make_email(migrated_db, fake_postmark.url, claim_timeout=0.3)

    started = time.monotonic()
    message_id = email.send(confirmation())

    assert time.monotonic() - started >= 0.2  # it waited for the claim to go stale
    assert [sent["MessageID"] for sent in fake_postmark.sent] == [message_id]
    assert outbox_row(migrated_db).status == OutboxStatus.SENT


# ------------------------------------------------------------------ errors and retries


def test_an_inactive_recipient_is_api_error_422_406_and_recorded_failed(
    fake_postmark: FakePostmark, migrated_db: Database
) -> None:
    fake_postmark.reject_next(406)

    with pytest.raises(IntegrationError) as caught:
        make_email(migrated_db, fake_postmark.url).send(confirmation())

    assert caught.value.code == "api_error:postmark:422:406"
    assert "inactive" in caught.value.message
    assert "Suppressions" in caught.value.message
    assert len(fake_postmark.calls(SEND)) == 1  # a refusal is final
    row = outbox_row(migrated_db)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error is not None
    assert row.last_error.startswith("api_error:postmark:422:406 ")


def test_an_invalid_request_keeps_postmarks_code_and_message(
    fake_postmark: FakePostmark, sqlite_db: Database
) -> None:
    fake_postmark.reject_next(300, message="Invalid 'To' address: 'dana@'.")

    with pytest.raises(IntegrationError) as caught:
        make_email(sqlite_db, fake_postmark.url).send(confirmation())

    assert caught.value.code == "api_error:postmark:422:300"
    assert "Invalid 'To' address" in caught.value.message


def test_a_bad_server_token_says_what_to_set(
    fake_postmark: FakePostmark, sqlite_db: Database
) -> None:
    with pytest.raises(IntegrationError) as caught:
        make_email(sqlite_db, fake_postmark.url, token="not-the-token").send(confirmation())

    assert caught.value.code == "api_error:postmark:401:10"
    assert "POSTMARK_SERVER_TOKEN" in caught.value.message
    assert "not-the-token" not in caught.value.message
    assert len(fake_postmark.calls(SEND)) == 1


def test_a_429_is_retried_after_retry_after(
    fake_postmark: FakePostmark, sqlite_db: Database
) -> None:
    fake_postmark.rate_limit_next(retry_after=2)
    sleeps = Sleeps()

    message_id = make_email(sqlite_db, fake_postmark.url, sleep=sleeps).send(confirmation())

    assert sleeps == [2.0]
    assert len(fake_postmark.calls(SEND)) == 2
    assert [sent["MessageID"] for sent in fake_postmark.sent] == [message_id]


def test_a_retry_after_too_long_to_wait_fails_at_once(
    fake_postmark: FakePostmark, sqlite_db: Database
) -> None:
    fake_postmark.rate_limit_next(retry_after=600)
    sleeps = Sleeps()

    with pytest.raises(IntegrationError) as caught:
        make_email(sqlite_db, fake_postmark.url, sleep=sleeps).send(confirmation())

    assert caught.value.code == "api_error:postmark:429:rate_limited"
    assert sleeps == []


def test_a_send_answered_5xx_is_not_repeated_blindly(
    fake_postmark: FakePostmark, sqlite_db: Database
) -> None:
    # Postmark may have accepted the email behind a 5xx (a gateway's 502): sending again at
    # once could send it twice. It fails now; the next attempt searches before sending.
    fake_postmark.server_error_next(502, times=3)
    sleeps = Sleeps()

    with pytest.raises(IntegrationError) as caught:
        make_email(sqlite_db, fake_postmark.url, sleep=sleeps).send(confirmation())

    assert caught.value.code == "api_error:postmark:502:server_error"
    assert "status.postmarkapp.com" in caught.value.message
    assert len(fake_postmark.calls(SEND)) == 1
    assert sleeps == []
    assert fake_postmark.sent == []


def test_an_unreachable_postmark_is_a_network_error(sqlite_db: Database) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(IntegrationError) as caught:
        make_email(sqlite_db, f"http://127.0.0.1:{port}/").send(confirmation())

    assert (caught.value.status, caught.value.reason) == ("network", "ConnectionRefusedError")
    assert "POSTMARK_API_URL" in caught.value.message
    assert outbox_row(sqlite_db).status == OutboxStatus.FAILED


def test_the_token_never_reaches_the_logs(
    fake_postmark: FakePostmark, sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    email = make_email(sqlite_db, fake_postmark.url, sleep=Sleeps())
    fake_postmark.rate_limit_next(retry_after=1)

    email.send(confirmation())

    assert any(record.name == "frontdesk.postmark" for record in caplog.records)
    assert FAKE_SERVER_TOKEN not in caplog.text


# ------------------------------------------------------------------ probing


def test_probe_accepts_a_good_token(fake_postmark: FakePostmark, sqlite_db: Database) -> None:
    [probe] = make_email(sqlite_db, fake_postmark.url).probe()

    assert (probe.service, probe.subject, probe.check, probe.ok) == ("postmark", "-", "token", True)
    assert SERVER_NAME in probe.detail
    assert [call.route for call in fake_postmark.calls()] == ["GET /server"]


def test_probe_reports_a_bad_token(fake_postmark: FakePostmark, sqlite_db: Database) -> None:
    [probe] = make_email(sqlite_db, fake_postmark.url, token="wrong").probe()

    assert probe.ok is False
    assert "POSTMARK_SERVER_TOKEN" in probe.detail
