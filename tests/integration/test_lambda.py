"""The AWS Lambda entry points (bot/lambda_handler.py) driven in-process with events shaped
as AWS sends them (tests/fixtures/lambda/: API Gateway HTTP API payload 2.0, a Function URL
request, an EventBridge scheduled event), on PostgreSQL, the database a Lambda deployment
uses:

* a signed booking request through API Gateway is booked;
* a Slack Claim through the Function URL is answered and its work done (the claim stored,
  the message updated on the fake Slack) before the handler returns: a frozen function
  runs nothing after its response;
* a scheduled event sends a due reminder once, and two overlapping ticks (two execution
  environments, each its own engine) still send it once.
"""

from __future__ import annotations

import base64
import copy
import importlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import lambda_handler
from bot.config import load_config
from bot.domain.relative_time import resolve_relative_start
from bot.domain.signing import signed_headers
from bot.messages.ids import ActionId, BlockId
from storage.db import Database
from storage.migrate import upgrade
from storage.models import BookingStatus, ReminderStatus
from storage.repositories import ReminderRepository
from testkit.fakes.aws import FakeAws
from testkit.fakes.slack import FakeSlack, FakeUser
from testkit.fakes.twilio import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FAKE_FROM, FakeTwilio
from testkit.reminder_seed import phone_of, seed_sms_reminders
from testkit.slack_payloads import (
    BOT_TOKEN,
    FORM,
    SIGNING_SECRET,
    interactive_body,
    message_action,
    slack_headers,
    view_submission,
)
from tests.conftest import EXAMPLE_CONFIG, ROOT, WEBHOOK_SECRET, make_settings
from tests.integration.test_slack_triage import options

FIXTURES = ROOT / "tests" / "fixtures" / "lambda"
FUNCTION = "frontdesk-http"
OMAR = FakeUser("U0OMAR", "omar@ourco.example", tz="Europe/London")
SLACK_OPS_LINE = 'ops_usergroup = "S0OPS"'


@dataclass
class FakeLambdaContext:
    """The attributes of the context object the Lambda Python runtime passes."""

    function_name: str = FUNCTION
    invoked_function_arn: str = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    memory_limit_in_mb: str = "512"
    remaining_ms: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def http_event(
    fixture: str, path: str, body: bytes, headers: dict[str, str], *, base64_body: bool
) -> dict[str, Any]:
    """A recorded HTTP event with this request's path, headers and body filled in."""
    event: dict[str, Any] = json.loads((FIXTURES / fixture).read_text())
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["headers"].update({name.lower(): value for name, value in headers.items()})
    event["headers"]["content-length"] = str(len(body))
    if base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body.decode(), False
    return event


def scheduled_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((FIXTURES / "eventbridge_scheduled.json").read_text())
    return event


def booking_event(payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    headers = {**signed_headers(WEBHOOK_SECRET, body), "Content-Type": "application/json"}
    return http_event(
        "api_gateway_http_v2.json", "/webhooks/booking", body, headers, base64_body=False
    )


def example_request(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((ROOT / "examples" / "requests" / name).read_text())
    payload["requested_start"] = resolve_relative_start(
        payload["requested_start"], payload["timezone"]
    )
    payload["submission_id"] = f"lambda-{name}"
    return payload


@pytest.fixture
def lambda_environment(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """A fresh execution environment: the variables the SAM template sets, PostgreSQL
    migrated (the deploy step), and no app built yet.
    """
    upgrade(postgres_url)
    config = tmp_path / "frontdesk.toml"
    # Anyone may claim: the ops user group check is tested elsewhere.
    config.write_text(EXAMPLE_CONFIG.read_text().replace(SLACK_OPS_LINE, ""))
    variables = {
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION,
        "DATABASE_URL": postgres_url,
        "FRONTDESK_CONFIG": str(config),
        "FRONTDESK_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "FRONTDESK_PUBLIC_URL": "https://k7xq2v3lmbn4hdfaz5wq6pe7yi0tjwsd.lambda-url.on.aws",
        "FRONTDESK_LOG_LEVEL": "WARNING",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    lambda_handler.reset()
    yield variables
    lambda_handler.reset()


def test_a_signed_booking_through_api_gateway_is_booked(
    lambda_environment: dict[str, str],
) -> None:
    response = lambda_handler.http_handler(
        booking_event(example_request("booked_auto.json")), FakeLambdaContext()
    )
    assert response["statusCode"] == 200, response
    answer = json.loads(response["body"])
    assert answer["status"] == "booked_auto"
    db = Database(lambda_environment["DATABASE_URL"])
    try:
        from storage.repositories import RequestRepository

        stored = RequestRepository(db).get(answer["request_id"])
        assert stored is not None
        assert stored.status == "booked_auto"
    finally:
        db.dispose()


def test_a_tampered_booking_is_refused_with_a_401(lambda_environment: dict[str, str]) -> None:
    event = booking_event(example_request("booked_auto.json"))
    event["body"] = event["body"].replace("Jonas", "Jonah")
    response = lambda_handler.http_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "invalid_signature"


def test_a_slack_claim_is_done_before_the_function_returns(
    lambda_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeSlack(token=BOT_TOKEN, users=[OMAR]) as fake:
        monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
        monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        monkeypatch.setenv("SLACK_API_URL", fake.url)
        context = FakeLambdaContext()
        submitted = lambda_handler.http_handler(
            booking_event(example_request("escalated_manual_review.json")), context
        )
        assert submitted["statusCode"] == 200, submitted
        request_id = json.loads(submitted["body"])["request_id"]
        components = lambda_handler.runtime().components
        escalation = components.escalations.get_by_request(request_id)
        assert escalation is not None
        assert escalation.channel and escalation.message_ts, "the escalation was not posted"
        message = fake.messages[(escalation.channel, escalation.message_ts)]
        assert not fake.calls("chat.update")

        payload = message_action(OMAR.id, escalation.channel, message, ActionId.CLAIM)
        body = interactive_body(payload)
        event = http_event(
            "function_url.json",
            "/slack/events",
            body,
            slack_headers(body, FORM),
            base64_body=True,
        )
        response = lambda_handler.http_handler(event, context)

        # Nothing waited for: all of it happened inside the invocation.
        assert response["statusCode"] == 200, response
        claimed = components.escalations.get_by_request(request_id)
        assert claimed is not None
        assert claimed.claimed_by == OMAR.id
        updates = [str(call.params["blocks"]) for call in fake.calls("chat.update")]
        assert len(updates) == 1
        assert f"Claimed by <@{OMAR.id}>" in updates[0]


def slack_event(payload: dict[str, Any]) -> dict[str, Any]:
    body = interactive_body(payload)
    headers = slack_headers(body, FORM)
    return http_event("function_url.json", "/slack/events", body, headers, base64_body=True)


def test_booking_from_slack_answers_first_and_does_the_slow_part_in_a_second_invocation(
    lambda_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Book: the click opens the loading modal and answers; the slots (calendar queries)
    come from a second, asynchronous invocation of the function (Bolt's lazy listener on
    Lambda), which the fake Lambda API records and the test then delivers, as Lambda would.
    The submission likewise: the slot held and "Booking…" answered, the event created in
    the next invocation.
    """
    with FakeSlack(token=BOT_TOKEN, users=[OMAR]) as fake, FakeAws() as aws:
        for name, value in {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.url,
            "AWS_ENDPOINT_URL_LAMBDA": aws.url,
            "AWS_ACCESS_KEY_ID": "AKIDTEST",
            "AWS_SECRET_ACCESS_KEY": "test-secret-key",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        context = FakeLambdaContext()
        submitted = lambda_handler.http_handler(
            booking_event(example_request("escalated_manual_review.json")), context
        )
        request_id = json.loads(submitted["body"])["request_id"]
        components = lambda_handler.runtime().components
        escalation = components.escalations.get_by_request(request_id)
        assert escalation is not None and escalation.channel and escalation.message_ts
        message = fake.messages[(escalation.channel, escalation.message_ts)]

        click = message_action(OMAR.id, escalation.channel, message, ActionId.BOOK)
        answered = lambda_handler.http_handler(slack_event(click), context)

        assert answered["statusCode"] == 200
        assert len(fake.calls("views.open")) == 1  # the loading modal
        assert not fake.calls("views.update"), "the slots were looked up before answering"
        [lazy] = aws.take_invocations()
        assert lazy.invocation_type == "Event"
        assert lazy.function == context.invoked_function_arn
        assert lazy.payload["headers"]["x-slack-bolt-lazy-function-name"] == "fill_book"

        assert lambda_handler.http_handler(lazy.payload, context)["statusCode"] == 200
        [slots] = fake.calls("views.update")
        view_id = slots.params["view_id"]
        view = fake.views[view_id]
        chosen = options(view, BlockId.BOOK_SLOT)[0]["value"]

        submission = view_submission(OMAR.id, view, {ActionId.BOOK_SLOT: chosen})
        answer = lambda_handler.http_handler(slack_event(submission), context)

        assert json.loads(answer["body"])["response_action"] == "update"  # "Booking…"
        booking = components.bookings.get_by_request(request_id)
        assert booking is not None and booking.status == BookingStatus.RESERVED
        [finish] = aws.take_invocations()
        assert finish.payload["headers"]["x-slack-bolt-lazy-function-name"] == "book_finish"

        # What the ack carried travels in signed headers: a changed one is refused.
        forged = copy.deepcopy(finish.payload)
        carried_hold = json.loads(forged["headers"]["x-frontdesk-carry-hold"])
        carried_hold["booking"]["rep_email"] = "someone@else.example"
        forged["headers"]["x-frontdesk-carry-hold"] = json.dumps(carried_hold)
        lambda_handler.http_handler(forged, context)
        still = components.bookings.get_by_request(request_id)
        assert still is not None and still.status == BookingStatus.RESERVED

        assert lambda_handler.http_handler(finish.payload, context)["statusCode"] == 200
        booked = components.bookings.get_by_request(request_id)
        assert booked is not None
        assert (booked.status, booked.booked_by) == (BookingStatus.CONFIRMED, OMAR.id)
        notices = [str(call.params["view"]) for call in fake.calls("views.update")]
        assert "Booked" in notices[-1]
        # Delivered again (Lambda retries an asynchronous invocation that failed): no
        # second event, no second notice.
        lambda_handler.http_handler(finish.payload, context)
        assert len(fake.calls("views.update")) == len(notices)


def test_sqlite_is_refused_on_lambda(
    lambda_environment: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'lost.db'}")
    with pytest.raises(lambda_handler.LambdaStartError, match="SQLite"):
        lambda_handler.http_handler(booking_event({}), FakeLambdaContext())


# -- the scheduled tick ----------------------------------------------------------------


@pytest.fixture
def fake_twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", FAKE_ACCOUNT_SID)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", FAKE_AUTH_TOKEN)
        monkeypatch.setenv("TWILIO_FROM", FAKE_FROM)
        monkeypatch.setenv("TWILIO_API_URL", fake.url)
        yield fake


def seed_due_reminder(database_url: str) -> int:
    db = Database(database_url)
    try:
        start = (datetime.now(UTC) + timedelta(days=1)).replace(second=0, microsecond=0)
        [reminder_id] = seed_sms_reminders(
            db, 1, due_at=datetime.now(UTC) - timedelta(minutes=1), meeting_start=start
        )
        return reminder_id
    finally:
        db.dispose()


def reminder_status(database_url: str, reminder_id: int) -> str | None:
    db = Database(database_url)
    try:
        reminder = ReminderRepository(db).get(reminder_id)
        return None if reminder is None else str(reminder.status)
    finally:
        db.dispose()


def test_a_scheduled_event_sends_a_due_reminder_once(
    lambda_environment: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    reminder_id = seed_due_reminder(lambda_environment["DATABASE_URL"])
    first = lambda_handler.tick_handler(scheduled_event(), FakeLambdaContext())
    assert first["counts"]["reminders"] == {"sent": 1}, first
    assert set(first["completed"]) >= {"reminders", "sla_pings", "outcome_prompts", "upkeep"}
    again = lambda_handler.tick_handler(scheduled_event(), FakeLambdaContext())
    assert again["counts"]["reminders"] == {}, again
    assert [message.to for message in fake_twilio.sent] == [phone_of(0)]
    assert reminder_status(lambda_environment["DATABASE_URL"], reminder_id) == str(
        ReminderStatus.SENT
    )


def test_two_overlapping_ticks_send_a_due_reminder_once(
    lambda_environment: dict[str, str], fake_twilio: FakeTwilio
) -> None:
    """Two execution environments tick at once; Twilio holds the first send for a second,
    so the second tick runs while the first is still sending.
    """
    from bot.settings import Settings

    reminder_id = seed_due_reminder(lambda_environment["DATABASE_URL"])
    settings = Settings()
    config = load_config(lambda_environment["FRONTDESK_CONFIG"])
    environments = [lambda_handler.LambdaRuntime.from_settings(settings, config) for _ in range(2)]
    fake_twilio.delay_next(1.0)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def tick(environment: lambda_handler.LambdaRuntime) -> None:
        try:
            barrier.wait(timeout=5)
            results.append(environment.tick(copy.deepcopy(scheduled_event()), None))
        except BaseException as exc:  # reported below, with the test's own assertion
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(e,)) for e in environments]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for environment in environments:
            environment.close()
    assert not errors, errors
    sent = sorted(result["counts"]["reminders"].get("sent", 0) for result in results)
    assert sent == [0, 1], results
    assert [message.to for message in fake_twilio.sent] == [phone_of(0)]
    assert reminder_status(lambda_environment["DATABASE_URL"], reminder_id) == str(
        ReminderStatus.SENT
    )


def test_the_settings_of_the_tests_build_a_runtime(postgres_url: str) -> None:
    """`make_settings` plus Lambda's variable: the runtime chooses Lambda's Slack mode."""
    upgrade(postgres_url)
    settings = make_settings(postgres_url, aws_lambda_function_name=FUNCTION)
    environment = lambda_handler.LambdaRuntime.from_settings(settings, load_config(EXAMPLE_CONFIG))
    try:
        assert environment.components.settings.on_lambda
        assert environment.components.db.engine.pool.size() == 1  # type: ignore[attr-defined]
    finally:
        environment.close()


def test_provisioned_environments_build_the_app_while_importing(
    lambda_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lambda_handler._runtime is None
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    importlib.reload(lambda_handler)  # what Lambda's init phase does
    assert lambda_handler._runtime is not None
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    lambda_handler.reset()
    importlib.reload(lambda_handler)
    assert lambda_handler._runtime is None
