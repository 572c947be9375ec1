"""GET /metrics (SPEC §3, §7): the database's counts, the same on every replica, and this
process's counters of provider failures and reminder sends, read by Prometheus's own parser
from the real app after requests went through the signed intake webhook.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.components import Components, build_components
from bot.domain.config import Config
from storage.db import Database
from testkit.fakes.postmark import FakePostmark
from testkit.fakes.slack import FakeSlack
from testkit.fakes.twilio import FakeTwilio
from tests.conftest import ADMIN_HEADERS, FixedClock, make_settings, post_signed
from tests.integration.twilio_app import twilio_app

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TUESDAY_2PM_PHOENIX = "2026-12-01T14:00:00-07:00"
# The reminder test's meeting: Wed 25 Nov 2026 10:00 in Phoenix, with Chen; reminded a day ahead.
REMINDED_MEETING = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
REMINDER_DUE = REMINDED_MEETING - timedelta(days=1)
Labels = frozenset[tuple[str, str]]


def request(submission_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": "dana@northwind.example",
        "timezone": "America/Phoenix",
        "requested_start": TUESDAY_2PM_PHOENIX,
        **fields,
    }


def submit(client: TestClient, payload: dict[str, Any]) -> dict[str, Any]:
    response = post_signed(client, payload)
    assert response.status_code == 200, response.text
    return dict(response.json())


def scrape(client: TestClient) -> dict[str, dict[Labels, float]]:
    """Every sample of one scrape: sample name -> labels -> value."""
    response = client.get("/metrics", headers=ADMIN_HEADERS)
    assert response.status_code == 200, response.text
    samples: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = frozenset(sample.labels.items())
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def by(samples: dict[str, dict[Labels, float]], name: str, label: str) -> dict[str, float]:
    """A one-label metric as {label value: value}."""
    return {dict(labels)[label]: value for labels, value in samples[name].items()}


def increase(
    before: dict[str, dict[Labels, float]], after: dict[str, dict[Labels, float]], name: str
) -> dict[Labels, float]:
    """What a process-wide counter gained between two scrapes (other tests share it)."""
    return {
        labels: value - before.get(name, {}).get(labels, 0.0)
        for labels, value in after.get(name, {}).items()
        if value != before.get(name, {}).get(labels, 0.0)
    }


def labels(**values: str) -> Labels:
    return frozenset(values.items())


# --------------------------------------------------------------------------- the format


@SQLITE_ONLY
def test_metrics_is_prometheus_text_outside_the_openapi_document(make_app) -> None:
    client, _ = make_app()

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "# TYPE frontdesk_requests gauge" in response.text
    assert "# TYPE frontdesk_integration_errors_total counter" in response.text
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]


def test_a_database_that_does_not_answer_is_database_up_0_not_a_failed_scrape(
    example_config: Config,
) -> None:
    # Nothing listens on port 1: every connection is refused at once.
    settings = make_settings("postgresql+psycopg://frontdesk@127.0.0.1:1/frontdesk")
    components = build_components(settings, example_config)
    with TestClient(create_app(components, recover_on_start=False)) as client:
        samples = scrape(client)

    assert samples["frontdesk_database_up"] == {labels(): 0.0}
    assert "frontdesk_requests" not in samples
    assert "frontdesk_reminder_sends_total" in samples  # this process's counters still are
    components.db.dispose()


# --------------------------------------------------------------------------- the database


def test_requests_by_status_and_open_escalations_by_kind(make_app) -> None:
    client, components = make_app()
    before = scrape(client)

    booked = submit(client, request("m-booked", rep="alice@ourco.example"))
    vip = submit(client, request("m-vip", email="pat@majorclient.com"))
    review = submit(client, request("m-review", notes="urgent please"))
    # The example config's sandbox refuses Dmitri's calendar (sandbox.broken_calendars).
    failed = submit(
        client,
        request(
            "m-error",
            timezone="Australia/Sydney",
            requested_start="2026-12-01T10:00:00",
            rep="dmitri@ourco.example",
        ),
    )
    assert [booked["status"], vip["status"], review["status"], failed["status"]] == [
        "booked_auto",
        "escalated_vip",
        "escalated_manual_review",
        "escalated_on_error",
    ]
    now = components.clock()
    assert components.escalations.resolve(vip["request_id"], "U0OPS", now, "booked", None).won
    assert components.escalations.claim(review["request_id"], "U0OPS", now).won

    after = scrape(client)

    assert after["frontdesk_database_up"] == {labels(): 1.0}
    assert by(after, "frontdesk_requests", "status") == {
        "received": 0,
        "processing": 0,
        "escalated_vip": 1,
        "escalated_manual_review": 1,
        "booked_auto": 1,
        "escalated_on_error": 1,
    }
    assert by(after, "frontdesk_escalations_open", "kind") == {
        "vip": 0,
        "manual_review": 1,
        "on_error": 1,
    }
    assert by(after, "frontdesk_escalations_unclaimed", "kind") == {
        "vip": 0,
        "manual_review": 0,
        "on_error": 1,
    }
    assert set(by(after, "frontdesk_escalations_undelivered", "kind").values()) == {0}
    reminders = after["frontdesk_reminders"]
    assert reminders[labels(channel="email", status="pending")] == 1  # the booked one's
    assert sum(reminders.values()) == 1
    assert increase(before, after, "frontdesk_integration_errors_total") == {
        labels(provider="google", status="403", reason="insufficientPermissions"): 1
    }


# --------------------------------------------------------------------------- over the wire


@pytest.fixture
def postmark() -> Iterator[FakePostmark]:
    with FakePostmark() as fake:
        yield fake


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@SQLITE_ONLY
def test_refusals_from_postmark_and_slack_are_counted_by_provider_status_and_reason(
    migrated_db: Database,
    example_config: Config,
    clock: FixedClock,
    postmark: FakePostmark,
    slack: FakeSlack,
) -> None:
    settings = make_settings(
        migrated_db.url,
        **postmark.settings("bookings@ourco.example"),
        **slack.settings("fake-slack-signing-secret"),
    )
    components = build_components(settings, example_config, db=migrated_db, clock=clock)
    with TestClient(create_app(components, recover_on_start=False)) as client:
        before = scrape(client)
        postmark.reject_next(406)  # the client's address is suppressed
        slack.fail_next("chat.postMessage", "channel_not_found")

        body = submit(client, request("m-wire", rep="alice@ourco.example"))

        after = scrape(client)

    assert body["status"] == "escalated_on_error"
    assert body["reasons"] == ["api_error:postmark:422:406"]
    assert increase(before, after, "frontdesk_integration_errors_total") == {
        labels(provider="postmark", status="422", reason="406"): 1,
        labels(provider="slack", status="200", reason="channel_not_found"): 1,
    }
    assert by(after, "frontdesk_escalations_undelivered", "kind")["on_error"] == 1


# --------------------------------------------------------------------------- reminders


@pytest.fixture
def reminder_app(
    migrated_db: Database, example_config: Config, clock: FixedClock, twilio: FakeTwilio
) -> Iterator[tuple[TestClient, Components]]:
    with twilio_app(migrated_db, example_config, clock, twilio) as client_components:
        yield client_components


def test_reminder_sends_are_counted_by_channel_and_result(
    reminder_app: tuple[TestClient, Components], clock: FixedClock, twilio: FakeTwilio
) -> None:
    client, components = reminder_app
    booked = submit(
        client,
        request(
            "m-reminded",
            phone="+16025550143",
            sms_opt_in=True,
            requested_start="2026-11-25T10:00:00",
            rep="chen@ourco.example",
        ),
    )
    assert booked["status"] == "booked_auto"
    before = scrape(client)
    twilio.server_error_next(502)  # Twilio may or may not have taken it: retried later

    clock.now = REMINDER_DUE
    assert components.dispatcher.tick() == {"retried": 1, "sent": 1}
    clock.now = REMINDER_DUE + timedelta(minutes=1)
    assert components.dispatcher.tick() == {"sent": 1}

    after = scrape(client)
    assert increase(before, after, "frontdesk_reminder_sends_total") == {
        labels(channel="sms", result="retried"): 1,
        labels(channel="sms", result="sent"): 1,
        labels(channel="email", result="sent"): 1,
    }
    assert increase(before, after, "frontdesk_integration_errors_total") == {
        labels(provider="twilio", status="502", reason="server_error"): 1
    }
    reminders = after["frontdesk_reminders"]
    assert reminders[labels(channel="sms", status="sent")] == 1
    assert reminders[labels(channel="email", status="sent")] == 1
    assert sum(reminders.values()) == 2
