"""TwilioSms through the real twilio-python client against our fake Twilio
(tests/fakes/twilio.py), reached the way production reaches Twilio: TWILIO_API_URL as the
client's `api` base URL. And SandboxSms on the test database.
"""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from integrations.base import SmsError, TextMessage
from integrations.sandbox import SandboxSms
from integrations.twilio_sms import TwilioSms
from storage.db import Database
from storage.repositories import OutboxRepository
from testkit.fakes.twilio import (
    ACCOUNT,
    ACCOUNT_NAME,
    FAKE_ACCOUNT_SID,
    FAKE_AUTH_TOKEN,
    FAKE_FROM,
    FAKE_MESSAGING_SERVICE_SID,
    LIST,
    NUMBERS,
    SEND,
    FakeTwilio,
)
from tests.conftest import make_settings

CLIENT_PHONE = "+14155550123"
CALLBACK = "https://frontdesk.ourco.example/webhooks/twilio/status"
BODY = "Reminder: your call with Alice is tomorrow at 2:00 PM (America/Phoenix). Reply STOP to end."


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


class Sleeps(list[float]):
    """Records the waits asked for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_sms(
    api_url: str,
    *,
    sender: str = FAKE_FROM,
    token: str = FAKE_AUTH_TOKEN,
    sleep: Callable[[float], None] | None = None,
    timeout: float = 5.0,
) -> TwilioSms:
    settings = make_settings(
        "sqlite://",
        twilio_account_sid=FAKE_ACCOUNT_SID,
        twilio_auth_token=token,
        twilio_from=sender,
        twilio_api_url=api_url,
    )
    return TwilioSms(settings, timeout=timeout, sleep=sleep if sleep is not None else Sleeps())


def text(
    key: str = "sms:reminder:req_01TWILIO", body: str = BODY, to: str = CLIENT_PHONE
) -> TextMessage:
    return TextMessage(key=key, to=to, body=body, status_callback=CALLBACK)


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert condition()


# ------------------------------------------------------------------ sending


def test_a_text_reaches_twilio_with_its_number_sender_body_and_callback(
    fake_twilio: FakeTwilio,
) -> None:
    sid = make_sms(fake_twilio.url).send(text())

    [call] = fake_twilio.calls(SEND)
    assert call.path == f"/2010-04-01/Accounts/{FAKE_ACCOUNT_SID}/Messages.json"
    assert call.form == {
        "To": CLIENT_PHONE,
        "From": FAKE_FROM,
        "Body": BODY,
        "StatusCallback": CALLBACK,
    }
    scheme, _, credentials = call.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(credentials).decode() == f"{FAKE_ACCOUNT_SID}:{FAKE_AUTH_TOKEN}"
    [sent] = fake_twilio.sent
    assert sid == sent.sid
    assert sid.startswith("SM") and len(sid) == 34


def test_a_messaging_service_sender_goes_as_messaging_service_sid(
    fake_twilio: FakeTwilio,
) -> None:
    sms = make_sms(fake_twilio.url, sender=FAKE_MESSAGING_SERVICE_SID)

    sms.send(TextMessage(key="sms:1", to=CLIENT_PHONE, body=BODY))

    [call] = fake_twilio.calls(SEND)
    assert call.form == {
        "To": CLIENT_PHONE,
        "MessagingServiceSid": FAKE_MESSAGING_SERVICE_SID,
        "Body": BODY,
    }  # no From, and no StatusCallback when the message has none


def test_twilio_api_url_with_a_trailing_slash_reaches_the_same_api(
    fake_twilio: FakeTwilio,
) -> None:
    make_sms(fake_twilio.url + "/").send(text())

    [call] = fake_twilio.calls(SEND)
    assert call.path == f"/2010-04-01/Accounts/{FAKE_ACCOUNT_SID}/Messages.json"


def test_an_unreachable_twilio_api_url_is_a_network_error_with_nothing_sent() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(SmsError) as caught:
        make_sms(f"http://127.0.0.1:{port}").send(text())

    error = caught.value
    assert (error.status, error.reason) == ("network", "ConnectionRefusedError")
    assert (error.permanent, error.in_doubt) == (False, False)  # no connection, no text
    assert "TWILIO_API_URL" in error.message


# ------------------------------------------------------------------ rate limits


def test_a_429_is_retried_after_retry_after(fake_twilio: FakeTwilio) -> None:
    fake_twilio.rate_limit_next(retry_after=2)
    sleeps = Sleeps()

    sid = make_sms(fake_twilio.url, sleep=sleeps).send(text())

    assert sleeps == [2.0]
    assert len(fake_twilio.calls(SEND)) == 2
    assert [sent.sid for sent in fake_twilio.sent] == [sid]


def test_a_429_that_persists_fails_with_retry_after_and_nothing_in_doubt(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.rate_limit_next(retry_after=3, times=3)
    sleeps = Sleeps()

    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url, sleep=sleeps).send(text())

    error = caught.value
    assert error.code == "api_error:twilio:429:20429"
    assert (error.permanent, error.in_doubt, error.retry_after) == (False, False, 3.0)
    assert sleeps == [3.0, 3.0]
    assert len(fake_twilio.calls(SEND)) == 3
    assert fake_twilio.sent == []


def test_a_retry_after_too_long_to_wait_fails_at_once_and_says_how_long(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.rate_limit_next(retry_after=600)
    sleeps = Sleeps()

    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url, sleep=sleeps).send(text())

    assert caught.value.retry_after == 600.0
    assert "600 s" in caught.value.message
    assert sleeps == []
    assert len(fake_twilio.calls(SEND)) == 1


# ------------------------------------------------------------------ refusals


def test_an_unsubscribed_client_is_a_permanent_21610(fake_twilio: FakeTwilio) -> None:
    fake_twilio.unsubscribe(CLIENT_PHONE)

    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url).send(text())

    error = caught.value
    assert error.code == "api_error:twilio:400:21610"
    assert (error.reason, error.permanent, error.in_doubt) == ("21610", True, False)
    assert "STOP" in error.message and CLIENT_PHONE in error.message
    assert len(fake_twilio.calls(SEND)) == 1


def test_an_invalid_number_is_a_permanent_21211(fake_twilio: FakeTwilio) -> None:
    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url).send(text(to="(415) 555-0123"))

    error = caught.value
    assert (error.status, error.reason, error.permanent) == (400, "21211", True)
    assert "E.164" in error.message


@pytest.mark.parametrize("code", [21614, 21612, 21408, 21217])
def test_other_refusals_of_the_number_are_permanent(fake_twilio: FakeTwilio, code: int) -> None:
    fake_twilio.fail_next(400, code)
    sleeps = Sleeps()

    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url, sleep=sleeps).send(text())

    assert (caught.value.reason, caught.value.permanent) == (str(code), True)
    assert sleeps == []
    assert len(fake_twilio.calls(SEND)) == 1


def test_bad_credentials_are_not_permanent_and_say_what_to_set(
    fake_twilio: FakeTwilio,
) -> None:
    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url, token="not-the-token").send(text())

    error = caught.value
    assert error.code == "api_error:twilio:401:20003"
    assert (error.permanent, error.in_doubt) == (False, False)
    assert "TWILIO_ACCOUNT_SID" in error.message and "TWILIO_AUTH_TOKEN" in error.message
    assert "not-the-token" not in error.message
    assert fake_twilio.sent == []


def test_a_sender_twilio_refuses_names_twilio_from(fake_twilio: FakeTwilio) -> None:
    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url, sender="+15005550001").send(text())

    error = caught.value
    assert (error.reason, error.permanent) == ("21606", False)
    assert "TWILIO_FROM=+15005550001" in error.message


# ------------------------------------------------------------------ answers lost


def test_a_500_is_in_doubt_and_not_repeated(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(500, 20500, times=3)
    sleeps = Sleeps()

    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url, sleep=sleeps).send(text())

    error = caught.value
    assert error.code == "api_error:twilio:500:20500"
    assert (error.permanent, error.in_doubt) == (False, True)
    assert len(fake_twilio.calls(SEND)) == 1
    assert sleeps == []


def test_a_gateway_error_page_is_in_doubt(fake_twilio: FakeTwilio) -> None:
    fake_twilio.server_error_next(502)

    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url).send(text())

    assert caught.value.code == "api_error:twilio:502:server_error"
    assert caught.value.in_doubt is True
    assert "status.twilio.com" in caught.value.message


def test_a_timeout_is_in_doubt_and_the_text_is_found_once_twilio_took_it(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.delay_next(0.6)
    sms = make_sms(fake_twilio.url, timeout=0.2)
    since = datetime.now(UTC)

    with pytest.raises(SmsError) as caught:
        sms.send(text())

    error = caught.value
    assert (error.status, error.reason) == ("timeout", "ReadTimeout")
    assert (error.permanent, error.in_doubt) == (False, True)
    assert len(fake_twilio.calls(SEND)) == 1
    wait_for(lambda: bool(fake_twilio.sent))  # Twilio takes it after we stopped waiting
    assert sms.find_sent(text(), since) == fake_twilio.sent[0].sid


def test_a_text_accepted_before_the_connection_dropped_is_found_not_resent(
    fake_twilio: FakeTwilio,
) -> None:
    fake_twilio.drop_next()
    sms = make_sms(fake_twilio.url)
    since = datetime.now(UTC)

    with pytest.raises(SmsError) as caught:
        sms.send(text())

    error = caught.value
    assert error.status == "network"
    assert (error.permanent, error.in_doubt) == (False, True)
    assert len(fake_twilio.calls(SEND)) == 1
    [accepted] = fake_twilio.sent
    assert sms.find_sent(text(), since) == accepted.sid
    [search] = fake_twilio.calls(LIST)
    assert search.query["To"] == CLIENT_PHONE
    assert fake_twilio.sends_of(CLIENT_PHONE, BODY) == 1


# ------------------------------------------------------------------ find_sent


def test_find_sent_ignores_other_bodies_numbers_older_and_failed_texts(
    fake_twilio: FakeTwilio,
) -> None:
    since = datetime.now(UTC)
    fake_twilio.add_message(CLIENT_PHONE, BODY, date_created=since - timedelta(hours=2))
    fake_twilio.add_message(CLIENT_PHONE, BODY + " ", date_created=since)
    fake_twilio.add_message("+14155550199", BODY, date_created=since)
    fake_twilio.add_message(CLIENT_PHONE, BODY, date_created=since, status="failed")
    sms = make_sms(fake_twilio.url)

    assert sms.find_sent(text(), since) is None

    ours = fake_twilio.add_message(CLIENT_PHONE, BODY, date_created=since + timedelta(seconds=3))
    assert sms.find_sent(text(), since) == ours.sid


def test_find_sent_finds_a_text_still_queued(fake_twilio: FakeTwilio) -> None:
    # A queued text has no date_sent yet, so a DateSent filter would miss it.
    fake_twilio.deliver = False
    sms = make_sms(fake_twilio.url)
    since = datetime.now(UTC)
    sid = sms.send(text())

    assert sms.find_sent(text(), since) == sid


def test_find_sent_that_fails_is_in_doubt(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(400, 21211, route=LIST)

    with pytest.raises(SmsError) as caught:
        make_sms(fake_twilio.url).find_sent(text(), datetime.now(UTC))

    assert (caught.value.permanent, caught.value.in_doubt) == (False, True)


# ------------------------------------------------------------------ logs and probes


def test_the_auth_token_never_reaches_the_logs(
    fake_twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_twilio.rate_limit_next(retry_after=1)
    sms = make_sms(fake_twilio.url)

    sid = sms.send(text())
    with pytest.raises(SmsError):
        make_sms(fake_twilio.url, token="wrong-token-value").send(text())

    [sent] = [record for record in caplog.records if record.getMessage() == "sms sent"]
    assert sent.levelno == logging.INFO
    assert (sent.__dict__["sid"], sent.__dict__["to"]) == (sid, CLIENT_PHONE)
    [failed] = [record for record in caplog.records if record.getMessage() == "sms failed"]
    assert failed.levelno == logging.WARNING
    assert failed.__dict__["error"] == "api_error:twilio:401:20003"
    assert FAKE_AUTH_TOKEN not in caplog.text
    assert "wrong-token-value" not in caplog.text


def test_probe_accepts_good_credentials_and_an_sms_capable_sender(
    fake_twilio: FakeTwilio,
) -> None:
    credentials, sender = make_sms(fake_twilio.url).probe()

    assert (credentials.service, credentials.subject, credentials.check) == (
        "twilio",
        "-",
        "credentials",
    )
    assert credentials.ok is True
    assert ACCOUNT_NAME in credentials.detail
    assert (sender.subject, sender.check, sender.ok) == (FAKE_FROM, "sender", True)
    assert [call.route for call in fake_twilio.calls()] == [ACCOUNT, NUMBERS]


def test_probe_reports_bad_credentials(fake_twilio: FakeTwilio) -> None:
    [probe] = make_sms(fake_twilio.url, token="wrong").probe()

    assert (probe.check, probe.ok) == ("credentials", False)
    assert "TWILIO_AUTH_TOKEN" in probe.detail


def test_probe_reports_a_sender_not_on_the_account(fake_twilio: FakeTwilio) -> None:
    credentials, sender = make_sms(fake_twilio.url, sender="+15005550001").probe()

    assert credentials.ok is True
    assert (sender.ok, sender.subject) == (False, "+15005550001")
    assert "TWILIO_FROM" in sender.detail


def test_probe_of_a_suspended_account_fails(fake_twilio: FakeTwilio) -> None:
    fake_twilio.account_status = "suspended"

    credentials, _ = make_sms(fake_twilio.url).probe()

    assert credentials.ok is False
    assert "suspended" in credentials.detail


def test_probe_with_a_messaging_service_checks_the_credentials_only(
    fake_twilio: FakeTwilio,
) -> None:
    [probe] = make_sms(fake_twilio.url, sender=FAKE_MESSAGING_SERVICE_SID).probe()

    assert (probe.check, probe.ok) == ("credentials", True)


# ------------------------------------------------------------------ the sandbox


def test_sandbox_sms_records_a_key_once_and_finds_it(migrated_db: Database) -> None:
    outbox = OutboxRepository(migrated_db)
    sms = SandboxSms(outbox)
    since = datetime.now(UTC)

    first = sms.send(text(key="sms:reminder:req_1"))
    again = sms.send(text(key="sms:reminder:req_1"))

    assert first == again and first.startswith("SMsbx")
    [row] = outbox.latest(service="sms")
    assert (row.dedupe_key, row.action) == ("sms:reminder:req_1", "messages.create")
    assert row.payload == {"to": CLIENT_PHONE, "body": BODY, "status_callback": CALLBACK}
    assert sms.find_sent(text(key="sms:reminder:req_1"), since) == first
    assert sms.find_sent(text(key="sms:reminder:req_2"), since) is None
    assert sms.probe() == []
