"""Round-robin candidates (SPEC §3.1): the named rep only, else least recently booked first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest

from bot.domain.config import Config
from bot.services.booking import Booker
from integrations.bundle import Integrations
from storage.models import BookingRequest
from storage.repositories import BookingRepository

ALICE, BRUNO, CHEN, DMITRI = (
    "alice@ourco.example",
    "bruno@ourco.example",
    "chen@ourco.example",
    "dmitri@ourco.example",
)


class StubBookings:
    """Only what `candidates` reads: when each rep was last booked."""

    def __init__(self, last: dict[str, datetime]) -> None:
        self.last = last
        self.calls = 0

    def last_booked_at(self, _reps: Any = ()) -> dict[str, datetime]:
        self.calls += 1
        return dict(self.last)


def _booker(config: Config, last: dict[str, datetime]) -> tuple[Booker, StubBookings]:
    stub = StubBookings(last)
    integrations = cast(Integrations, None)  # candidates() never touches an integration
    return Booker(config, integrations, cast(BookingRepository, stub)), stub


def _request(rep: str | None = None) -> BookingRequest:
    return BookingRequest(
        idempotency_key="k",
        body_sha256="0" * 64,
        name="Dana",
        email="dana@example.org",
        timezone="America/New_York",
        duration_minutes=30,
        rep_email=rep,
    )


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def _emails(booker: Booker, request: BookingRequest) -> list[str]:
    return [rep.email for rep in booker.candidates(request)]


def test_nobody_booked_yet_keeps_config_order(example_config: Config) -> None:
    booker, _ = _booker(example_config, {})
    assert _emails(booker, _request()) == [ALICE, BRUNO, CHEN, DMITRI]


def test_least_recently_booked_first(example_config: Config) -> None:
    booker, _ = _booker(
        example_config,
        {ALICE: _at(20), BRUNO: _at(18), CHEN: _at(19), DMITRI: _at(17)},
    )
    assert _emails(booker, _request()) == [DMITRI, BRUNO, CHEN, ALICE]


def test_never_booked_reps_come_first_in_config_order(example_config: Config) -> None:
    booker, _ = _booker(example_config, {ALICE: _at(1), CHEN: _at(2)})
    assert _emails(booker, _request()) == [BRUNO, DMITRI, ALICE, CHEN]


def test_ties_broken_by_config_order(example_config: Config) -> None:
    same = _at(10, 9)
    booker, _ = _booker(example_config, {DMITRI: same, BRUNO: same, ALICE: same, CHEN: _at(9)})
    assert _emails(booker, _request()) == [CHEN, ALICE, BRUNO, DMITRI]


def test_round_robin_rotates_as_bookings_happen(example_config: Config) -> None:
    last: dict[str, datetime] = {}
    chosen = []
    for hour in range(8):
        booker, _ = _booker(example_config, last)
        first = _emails(booker, _request())[0]
        chosen.append(first)
        last[first] = _at(20, hour)
    assert chosen == [ALICE, BRUNO, CHEN, DMITRI] * 2


@pytest.mark.parametrize("named", [BRUNO, "Bruno@OurCo.Example", "  bruno@ourco.example "])
def test_named_rep_is_the_only_candidate(example_config: Config, named: str) -> None:
    booker, stub = _booker(example_config, {BRUNO: _at(20)})
    assert _emails(booker, _request(named)) == [BRUNO]
    assert stub.calls == 0  # no round-robin lookup is needed


def test_unknown_named_rep_has_no_candidates(example_config: Config) -> None:
    booker, _ = _booker(example_config, {})
    assert booker.candidates(_request("zed@ourco.example")) == []
