"""Fuzz target (issue: hardening): thousands of signed hostile bodies against the real
app on SQLite and PostgreSQL; any 5xx fails. The bodies come from a seeded generator
(tests/fuzz_bodies.py), so a failure replays exactly; bench/fuzz_intake.py runs the same
generator for longer, with other seeds.

`FRONTDESK_FUZZ_BODIES` changes the number of bodies per database (default 2,600, so
more than 5,000 in all).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

from bot.domain.signing import signed_headers
from testkit.fuzz_bodies import bodies
from tests.conftest import WEBHOOK_SECRET
from tests.integration.doubles import quiet

BODIES = int(os.environ.get("FRONTDESK_FUZZ_BODIES", "2600"))
SEED = 19


@pytest.mark.fuzz
def test_no_hostile_body_gets_a_5xx(make_app):
    client, _ = make_app()
    client = quiet(client)
    statuses: Counter[int] = Counter()
    failures = []
    for serial, fuzz in enumerate(bodies(BODIES, SEED)):
        headers = {
            **signed_headers(WEBHOOK_SECRET, fuzz.body),
            "Content-Type": fuzz.content_type,
        }
        response = client.post("/webhooks/booking", content=fuzz.body, headers=headers)
        statuses[response.status_code] += 1
        if response.status_code >= 500 or "Traceback" in response.text:
            failures.append((serial, fuzz.kind, fuzz.body[:200], response.status_code))
    print(f"\nfuzz: {BODIES} bodies, seed {SEED}, statuses {dict(sorted(statuses.items()))}")
    assert failures == []
    assert sum(statuses.values()) == BODIES
    # The generator reaches every kind of answer, not only the first check.
    assert {200, 400, 422} <= set(statuses)
