"""Two replicas, two people, one instant (SPEC §4 "Claim"): each person clicks Claim on
their own Frontdesk instance (its own database engine, same database) at the same moment.
Exactly one claim is stored, exactly one message update says who has it, and the other
person is told so. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot.messages.ids import ActionId
from bot.services.triage import ALREADY_CLAIMED
from storage.migrate import upgrade
from testkit.fakes.slack import FakeSlack, FakeUser
from testkit.slack_payloads import BOT_TOKEN, FORM, interactive_body
from tests.conftest import FixedClock
from tests.slack_requests import SlackHarness, slack_config, wait_for

OMAR = FakeUser("U0OMAR", "omar@ourco.example", tz="Europe/London")
PRIYA = FakeUser("U0PRIYA", "priya@ourco.example", tz="Asia/Kolkata")
ROUNDS = 3  # claim race, winner unclaims, race again


@pytest.fixture
def replicas(database_url: str, clock: FixedClock) -> Iterator[tuple[SlackHarness, SlackHarness]]:
    upgrade(database_url)
    with FakeSlack(token=BOT_TOKEN, users=[OMAR, PRIYA]) as fake:
        config = slack_config()
        first = SlackHarness.start(database_url, config, fake, clock)
        second = SlackHarness.start(database_url, config, fake, clock)
        try:
            yield first, second
        finally:
            first.close()
            second.close()


def claim_texts(fake: FakeSlack) -> list[str]:
    return [
        str(call.params["blocks"])
        for call in fake.calls("chat.update")
        if "Claimed by" in str(call.params["blocks"])
    ]


def claim_at_once(
    clickers: list[tuple[SlackHarness, FakeUser]], request_id: str
) -> list[httpx.Response]:
    """Everyone clicks Claim on their own instance, released together by a barrier."""
    bodies = [
        interactive_body(harness.click_payload(user.id, request_id, ActionId.CLAIM))
        for harness, user in clickers
    ]
    barrier = threading.Barrier(len(clickers))

    def click(harness: SlackHarness, body: bytes) -> httpx.Response:
        barrier.wait(timeout=5)
        return harness.post(body, FORM)

    with ThreadPoolExecutor(max_workers=len(clickers)) as pool:
        futures = [
            pool.submit(click, h, body) for (h, _), body in zip(clickers, bodies, strict=True)
        ]
        return [future.result() for future in futures]


def count_reaches(count: Callable[[], int], expected: int) -> Callable[[], bool]:
    return lambda: count() == expected


def test_two_replicas_and_two_people_claiming_at_once_make_one_claim(
    replicas: tuple[SlackHarness, SlackHarness],
) -> None:
    first, second = replicas
    fake = first.fake
    assert first.components.db is not second.components.db
    request_id = first.intake(
        {
            "submission_id": "race-1",
            "name": "Dana Reyes",
            "email": "dana@northwind.example",
            "notes": "urgent: a demo for the board",
            "timezone": "America/Phoenix",
            "requested_start": "2026-12-01T14:00:00-07:00",
        }
    )["request_id"]
    clickers = [(first, OMAR), (second, PRIYA)]

    def ephemerals() -> int:
        return len(fake.calls("chat.postEphemeral"))

    def updates() -> int:
        return len(fake.calls("chat.update"))

    for round_number in range(1, ROUNDS + 1):
        responses = claim_at_once(clickers, request_id)

        assert [r.status_code for r in responses] == [200, 200]
        wait_for(count_reaches(ephemerals, round_number), what="the loser's refusal")
        first.executor.drain()
        second.executor.drain()
        winner = first.escalation(request_id).claimed_by
        assert winner in (OMAR.id, PRIYA.id)
        loser = PRIYA.id if winner == OMAR.id else OMAR.id
        assert len(claim_texts(fake)) == round_number  # one "Claimed by" per round
        assert f"Claimed by <@{winner}>" in claim_texts(fake)[-1]
        refusal = fake.calls("chat.postEphemeral")[-1].params
        assert refusal["user"] == loser
        assert refusal["text"] == ALREADY_CLAIMED.format(user=winner)

        # The winner gives it back, so the next round starts unclaimed.
        harness = first if winner == OMAR.id else second
        redraws = updates()
        harness.click(winner, request_id, ActionId.UNCLAIM)
        wait_for(count_reaches(updates, redraws + 1), what="the unclaim's redraw")
        harness.executor.drain()
        assert first.escalation(request_id).claimed_by is None
