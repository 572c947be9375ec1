"""Replays (SPEC §3.1): a seen submission gets the original answer, 200 with
`Idempotent-Replay: true`, and nothing is processed twice — also when duplicates race."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.components import build_components
from storage.db import Database
from tests.conftest import make_settings, post_signed
from tests.integration.doubles import outbox, quiet, stored_requests

REQUEST: dict[str, Any] = {
    "submission_id": "typeform-8d1f",
    "name": "Dana Reyes",
    "email": "dana@northwind.example",
    "timezone": "America/Phoenix",
    "requested_start": "2026-12-01T14:00:00-07:00",
}
REPLAY = "Idempotent-Replay"


def assert_processed_once(client, components) -> None:
    items = client.get("/sandbox.json").json()["items"]
    assert sorted(item["service"] for item in items) == ["calendar", "email"]
    assert stored_requests(components) == 1


def test_replay_by_submission_id_returns_the_original_response(make_app):
    client, components = make_app()
    first = post_signed(client, REQUEST)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "booked_auto"
    assert REPLAY not in first.headers

    second = post_signed(client, REQUEST)
    assert second.status_code == 200
    assert second.headers[REPLAY] == "true"
    assert second.json() == first.json()
    assert_processed_once(client, components)
    request = components.requests.get(first.json()["request_id"])
    assert request is not None and request.attempts == 1


def test_replay_with_a_changed_body_still_returns_the_original(make_app):
    client, components = make_app()
    first = post_signed(client, REQUEST)
    changed = {**REQUEST, "notes": "URGENT, team of 12", "email": "dana@majorclient.com"}
    second = post_signed(client, changed)
    assert second.status_code == 200
    assert second.headers[REPLAY] == "true"
    assert second.json() == first.json()
    assert_processed_once(client, components)


def test_replay_by_idempotency_key_header(make_app):
    client, components = make_app()
    body = {k: v for k, v in REQUEST.items() if k != "submission_id"}
    first = post_signed(client, body, headers={"Idempotency-Key": "hdr-42"})
    assert first.status_code == 200, first.text
    assert REPLAY not in first.headers

    second = post_signed(
        client, {**body, "notes": "resent by the form tool"}, headers={"Idempotency-Key": "hdr-42"}
    )
    assert second.status_code == 200
    assert second.headers[REPLAY] == "true"
    assert second.json() == first.json()
    assert_processed_once(client, components)
    stored = components.requests.get(first.json()["request_id"])
    assert stored is not None and stored.idempotency_key == "key:hdr-42"


def test_different_idempotency_keys_are_different_submissions(make_app):
    client, components = make_app()
    body = {k: v for k, v in REQUEST.items() if k != "submission_id"}
    first = post_signed(client, body, headers={"Idempotency-Key": "a"})
    second = post_signed(
        client,
        {**body, "requested_start": "2026-12-02T14:00:00-07:00"},
        headers={"Idempotency-Key": "b"},
    )
    assert REPLAY not in second.headers
    assert first.json()["request_id"] != second.json()["request_id"]
    assert stored_requests(components) == 2


def test_same_body_without_any_key_is_a_replay(make_app):
    client, components = make_app()
    body = {k: v for k, v in REQUEST.items() if k != "submission_id"}
    first = post_signed(client, body)
    second = post_signed(client, body)
    assert second.status_code == 200
    assert second.headers[REPLAY] == "true"
    assert second.json() == first.json()
    assert_processed_once(client, components)


def test_replay_after_the_start_has_passed(make_app, clock):
    client, components = make_app()
    first = post_signed(client, REQUEST)
    assert first.json()["status"] == "booked_auto"
    clock.now = clock.now + timedelta(days=30)  # 2026-12-23: the meeting is history

    second = post_signed(client, REQUEST)
    assert second.status_code == 200, second.text
    assert second.headers[REPLAY] == "true"
    assert second.json() == first.json()
    assert_processed_once(client, components)

    fresh = post_signed(client, {**REQUEST, "submission_id": "another"})
    assert fresh.status_code == 422  # the same start is now in the past for a new submission


def test_replay_of_an_escalation_does_not_notify_twice(make_app):
    client, components = make_app()
    vip = {**REQUEST, "submission_id": "vip-1", "email": "dana@majorclient.com"}
    first = post_signed(client, vip)
    second = post_signed(client, vip)
    assert first.json()["status"] == "escalated_vip"
    assert second.headers[REPLAY] == "true"
    assert second.json() == first.json()
    assert len(outbox(components, service="slack")) == 2  # the owner's DM and the notice


@pytest.mark.parametrize("racers", [2, 3])
def test_concurrent_duplicates_are_processed_once(make_app, calendar_double, racers):
    calendar_double.delay = 0.3  # the first one in holds the lease for a while
    client, components = make_app(calendar=calendar_double)
    barrier = threading.Barrier(racers)
    responses: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def submit() -> None:
        try:
            barrier.wait(timeout=5)
            response = post_signed(client, REQUEST)
            with lock:
                responses.append(response)
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(responses) == racers

    assert [r.status_code for r in responses] == [200] * racers
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert bodies[0]["status"] == "booked_auto"
    replays = [r.headers.get(REPLAY) for r in responses]
    assert replays.count("true") == racers - 1
    assert replays.count(None) == 1

    assert calendar_double.create_calls == 1
    assert len(outbox(components, service="calendar")) == 1
    assert len(outbox(components, service="email")) == 1
    assert stored_requests(components) == 1
    booking = components.bookings.get_by_request(bodies[0]["request_id"])
    assert booking is not None and booking.status == "confirmed"


def test_long_idempotency_key_header_is_not_a_server_error(make_app):
    client, components = make_app()
    body = {k: v for k, v in REQUEST.items() if k != "submission_id"}
    headers = {"Idempotency-Key": "k" * 400}
    first = post_signed(quiet(client), body, headers=headers)
    assert first.status_code < 500, first.text
    if first.status_code == 200:
        second = post_signed(quiet(client), body, headers=headers)
        assert second.headers.get(REPLAY) == "true"
        assert second.json() == first.json()
        assert stored_requests(components) == 1
    else:
        assert first.status_code in (400, 422)
        assert stored_requests(components) == 0


def test_two_replicas_racing_the_same_submission(migrated_db, example_config, clock):
    """Two app instances with their own engines (as two processes would have) on one
    database: the same submission posted to both at once is processed exactly once."""
    replicas = []
    for _ in range(2):
        db = Database(migrated_db.url)
        parts = build_components(make_settings(db.url), example_config, db=db, clock=clock)
        replicas.append((TestClient(create_app(parts, recover_on_start=False)), parts, db))
    barrier = threading.Barrier(len(replicas))
    responses: list[Any] = [None] * len(replicas)

    def post(index: int) -> None:
        barrier.wait()
        responses[index] = post_signed(replicas[index][0], REQUEST)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(replicas))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert [r.status_code for r in responses] == [200, 200]
        assert responses[0].json() == responses[1].json()
        assert sorted(r.headers.get(REPLAY, "") for r in responses) == ["", "true"]
        client, parts, _ = replicas[0]
        assert_processed_once(client, parts)
        assert len(outbox(parts, service="calendar")) == 1
    finally:
        for _, _, db in replicas:
            db.dispose()
