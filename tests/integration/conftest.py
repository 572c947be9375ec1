"""Fixtures for the integration tests: sandbox integrations on the test database, wrapped
in doubles the tests can slow down, break or "crash"."""

from __future__ import annotations

import pytest

from bot.config import Config
from integrations.sandbox import SandboxCalendar, SandboxChat, SandboxEmail
from storage.db import Database
from storage.repositories import BookingRepository, OutboxRepository
from tests.integration.doubles import CalendarDouble, EmailDouble


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
