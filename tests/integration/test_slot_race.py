"""Many clients asking for the same time at once, through two replicas (SPEC §3.2): each rep
who can take it is booked once, everyone else goes to manual review, nothing fails.

A new request holds its slot in its own first transaction, trying the reps in turn; on
PostgreSQL that takes one advisory lock per rep, so the locks must be taken in one order
by everyone or two requests seeing the reps in different turns would deadlock.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.components import build_components
from storage.db import Database
from storage.models import BookingStatus
from storage.repositories.bookings import BOOKINGS
from tests.conftest import make_settings, post_signed

# Tuesday 1 December 2026, 13:00 in Phoenix (20:00 UTC): inside the hours of Alice (New
# York, 15:00) and Chen (Phoenix), outside Bruno's (Berlin) and Dmitri's (Sydney).
START = "2026-12-01T13:00:00-07:00"
CLIENTS_PER_REPLICA = 4


def request(index: int) -> dict[str, Any]:
    return {
        "submission_id": f"race-{index}",
        "name": f"Client {index}",
        "email": f"client{index}@example.com",
        "timezone": "America/Phoenix",
        "requested_start": START,
    }


def test_many_clients_racing_for_one_slot_book_each_free_rep_once(
    migrated_db, example_config, clock
):
    replicas = []
    for _ in range(2):
        db = Database(migrated_db.url)
        parts = build_components(make_settings(db.url), example_config, db=db, clock=clock)
        replicas.append((TestClient(create_app(parts, recover_on_start=False)), db))
    total = 2 * CLIENTS_PER_REPLICA
    barrier = threading.Barrier(total)
    responses: list[Any] = [None] * total

    def post(index: int) -> None:
        client = replicas[index % 2][0]
        barrier.wait()
        responses[index] = post_signed(client, request(index))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(total)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert [r.status_code for r in responses] == [200] * total, [r.text for r in responses]
        outcomes = Counter(r.json()["status"] for r in responses)
        assert outcomes == {"booked_auto": 2, "escalated_manual_review": total - 2}
        booked = sorted(r.json()["booking"]["rep"] for r in responses if "booking" in r.json())
        assert booked == ["alice@ourco.example", "chen@ourco.example"]
        with migrated_db.connection() as conn:
            held = conn.execute(
                BOOKINGS.select().where(
                    BOOKINGS.c.status.in_((BookingStatus.RESERVED, BookingStatus.CONFIRMED))
                )
            ).all()
        assert sorted(row.rep_email for row in held) == booked  # no hold left behind
        assert all(row.status == BookingStatus.CONFIRMED for row in held)
    finally:
        for _, db in replicas:
            db.dispose()
