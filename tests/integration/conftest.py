"""Fixtures for the integration tests: sandbox integrations on the test database, wrapped
in doubles the tests can slow down, break or "crash"."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.domain.config import Config
from integrations.sandbox import SandboxCalendar, SandboxChat, SandboxEmail
from storage.db import Database
from storage.repositories import BookingRepository, OutboxRepository
from testkit.fakes.slack import FakeSlack, FakeUser
from testkit.fakes.twilio import FakeTwilio
from testkit.slack_payloads import BOT_TOKEN
from tests.conftest import FixedClock
from tests.integration.doubles import CalendarDouble, EmailDouble
from tests.slack_requests import SlackHarness, harnesses

StartApp = Callable[..., SlackHarness]


@pytest.fixture
def sandbox_calendar(migrated_db: Database, example_config: Config) -> SandboxCalendar:
    return SandboxCalendar(
        example_config, OutboxRepository(migrated_db), BookingRepository(migrated_db)
    )


@pytest.fixture
def sandbox_email(migrated_db: Database) -> SandboxEmail:
    return SandboxEmail(OutboxRepository(migrated_db))


@pytest.fixture
def sandbox_chat(migrated_db: Database) -> SandboxChat:
    return SandboxChat(OutboxRepository(migrated_db))


@pytest.fixture
def calendar_double(sandbox_calendar: SandboxCalendar) -> CalendarDouble:
    return CalendarDouble(sandbox_calendar)


@pytest.fixture
def email_double(sandbox_email: SandboxEmail) -> EmailDouble:
    return EmailDouble(sandbox_email)


# ------------------------------------------------------------------ Slack harnesses
# A module names its workspace by overriding `slack_users` / `slack_usergroups`, and how
# `start` starts Frontdesk by overriding `harness_options` (see tests/slack_requests.py).


@pytest.fixture
def slack_users() -> list[FakeUser]:
    return []


@pytest.fixture
def slack_usergroups() -> dict[str, list[str]]:
    return {}


@pytest.fixture
def harness_options() -> dict[str, Any]:
    """`harnesses` keywords: unpaced (Slack's 1/s pacing would only slow tests) unless a
    module overrides this; config keywords here apply to every app `start` starts.
    """
    return {"paced": False}


@pytest.fixture
def fake(
    slack_users: list[FakeUser], slack_usergroups: dict[str, list[str]]
) -> Iterator[FakeSlack]:
    with FakeSlack(token=BOT_TOKEN, users=slack_users, usergroups=slack_usergroups) as fake:
        yield fake


@pytest.fixture
def start(
    database_url: str, fake: FakeSlack, clock: FixedClock, harness_options: dict[str, Any]
) -> Iterator[StartApp]:
    with harnesses(database_url, fake, clock, **harness_options) as start_app:
        yield start_app


# ------------------------------------------------------------------ Twilio


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake
