"""Retries of a request whose lease a dead replica holds (issue: hardening).

Each such retry once slept in a worker thread for 30 s: 58 of them made /healthz take
29.8 s. Now a duplicate waits on the event loop, gets 409 + Retry-After (the time left on
the lease) when its budget is spent, and takes the request over as soon as the lease has
run out. The burst test gives the thread pool two threads and twelve waiting duplicates:
/healthz must be answered while all twelve are still waiting. Nothing is timed; a guard of
CLIENT_PATIENCE seconds only stops a server that holds threads from hanging the suite.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import anyio.to_thread
import httpx

from bot.app import create_app
from bot.components import build_components
from bot.domain.signing import signed_headers
from storage.models import BookingRequest, RequestStatus
from tests.conftest import WEBHOOK_SECRET, make_settings
from tests.integration.doubles import body_sha

PAYLOAD: dict[str, Any] = {
    "submission_id": "dead-holder-1",
    "name": "Dana Reyes",
    "email": "dana@northwind.example",
    "timezone": "America/Phoenix",
    "requested_start": "2026-12-01T14:00:00-07:00",
}
DUPLICATES = 12
THREADS = 2
CLIENT_PATIENCE = 20.0
LEASE_LEFT = timedelta(seconds=90)


def _held_by_a_dead_replica(components, lease_left: timedelta) -> str:
    now = components.processor.clock()
    row, created = components.requests.create(
        BookingRequest(
            idempotency_key=f"key:{PAYLOAD['submission_id']}",
            body_sha256=body_sha(PAYLOAD),
            status=RequestStatus.PROCESSING,
            lease_until=now + lease_left,
            attempts=1,
            name="Dana Reyes",
            email="dana@northwind.example",
            timezone="America/Phoenix",
            requested_start=now + timedelta(days=8),
            duration_minutes=30,
            received_at=now - timedelta(minutes=1),
        )
    )
    assert created
    return row.id


def _app(migrated_db, example_config, clock, budget: float):
    settings = make_settings(migrated_db.url, frontdesk_duplicate_wait_seconds=budget)
    components = build_components(settings, example_config, db=migrated_db, clock=clock)
    return create_app(components, recover_on_start=False), components


async def _post(client: httpx.AsyncClient) -> httpx.Response:
    body = json.dumps(PAYLOAD).encode()
    headers = {**signed_headers(WEBHOOK_SECRET, body), "Content-Type": "application/json"}
    return await client.post("/webhooks/booking", content=body, headers=headers)


def test_healthz_is_answered_while_a_burst_of_duplicates_waits(migrated_db, example_config, clock):
    app, components = _app(migrated_db, example_config, clock, budget=3.0)
    request_id = _held_by_a_dead_replica(components, LEASE_LEFT)

    async def burst() -> tuple[httpx.Response, list[bool], list[httpx.Response]]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://frontdesk") as client:
            duplicates = [asyncio.create_task(_post(client)) for _ in range(DUPLICATES)]
            await asyncio.sleep(0)  # every duplicate is in flight
            health = await asyncio.wait_for(client.get("/healthz"), CLIENT_PATIENCE)
            waiting = [not task.done() for task in duplicates]
            answers = await asyncio.wait_for(asyncio.gather(*duplicates), CLIENT_PATIENCE)
        return health, waiting, answers

    health, waiting, answers = asyncio.run(burst())
    assert health.status_code == 200
    assert all(waiting)  # answered while twelve duplicates waited on two threads
    for answer in answers:
        assert answer.status_code == 409, answer.text
        assert answer.json()["request_id"] == request_id
        assert 1 <= int(answer.headers["Retry-After"]) <= LEASE_LEFT.total_seconds()


def test_a_dead_holders_lease_is_taken_over_as_soon_as_it_has_run_out(
    migrated_db, example_config, clock
):
    app, components = _app(migrated_db, example_config, clock, budget=0.0)
    request_id = _held_by_a_dead_replica(components, timedelta(seconds=30))

    async def retry() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://frontdesk") as client:
            return await _post(client)

    early = asyncio.run(retry())
    assert early.status_code == 409
    assert early.headers["Retry-After"] == "30"
    clock.now += timedelta(seconds=30, microseconds=1)
    taken_over = asyncio.run(retry())
    assert taken_over.status_code == 200, taken_over.text
    assert taken_over.headers["Idempotent-Replay"] == "true"
    assert taken_over.json()["request_id"] == request_id
    assert taken_over.json()["status"] == "booked_auto"
