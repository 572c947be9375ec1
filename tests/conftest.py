"""Shared fixtures: configs, databases (SQLite and PostgreSQL), the real HTTP app."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from bot.app import create_app
from bot.components import Components, build_components
from bot.config import load_config
from bot.domain.config import Config
from bot.domain.signing import signed_headers
from bot.settings import Settings
from integrations.base import CalendarProvider, Chat, EmailSender
from storage.db import Database
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"
EXAMPLE_CONFIG = ROOT / "examples" / "frontdesk.toml"
WEBHOOK_SECRET = "test-webhook-secret"
# Opens the ops pages (/sandbox, /metrics…) of a test app with a real (fake-served) service.
ADMIN_TOKEN = "test-admin-token"
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
POSTGRES_ADMIN_URL = os.environ.get(
    "FRONTDESK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# The suite is deterministic: property tests replay the same examples on every run (and
# CI). `HYPOTHESIS_PROFILE=explore` searches fresh examples when hunting for bugs.
hypothesis_settings.register_profile("deterministic", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", max_examples=2000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

_postgres_problem: str | None = None


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it answers (checked once)."""
    global _postgres_problem
    if _postgres_problem is None:
        try:
            engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _postgres_problem = ""
        except Exception as exc:
            _postgres_problem = f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {exc}"
            print(f"\nSKIPPING PostgreSQL tests: {_postgres_problem}")
    return _postgres_problem or None


def pytest_report_header(config: pytest.Config) -> str:
    problem = postgres_problem()
    return f"postgres: {'skipped — ' + problem if problem else POSTGRES_ADMIN_URL}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Shown even with -q (which hides the header): a skipped database must not go unnoticed.
    problem = postgres_problem()
    if problem:
        terminalreporter.write_line(f"PostgreSQL tests were SKIPPED: {problem}", yellow=True)


@pytest.fixture
def example_config() -> Config:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture
def shared_config() -> Config:
    path = SHARED_FIXTURES / "frontdesk.toml"
    if not path.exists():
        pytest.skip(f"shared fixtures not found at {SHARED_FIXTURES}")
    return load_config(path)


@pytest.fixture
def shared_requests() -> list[dict[str, Any]]:
    path = SHARED_FIXTURES / "requests.jsonl"
    if not path.exists():
        pytest.skip(f"shared fixtures not found at {SHARED_FIXTURES}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'frontdesk.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards."""
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    schema = f"fd_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test on SQLite and on PostgreSQL (skipped with a reason when unreachable)."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def migrated_db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    db = Database(database_url)
    yield db
    db.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "frontdesk_webhook_secret": WEBHOOK_SECRET,
        "frontdesk_admin_token": ADMIN_TOKEN,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


class FixedClock:
    """A clock tests can set and move; handed to the app instead of freezing time globally."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 15, 0, tzinfo=UTC))


AppFactory = Callable[..., tuple[TestClient, Components]]


@pytest.fixture
def make_app(
    migrated_db: Database, example_config: Config, clock: FixedClock
) -> Iterator[AppFactory]:
    """Build the real app on the test database; tests may swap config and integrations."""
    clients: list[TestClient] = []

    def factory(
        config: Config | None = None,
        *,
        calendar: CalendarProvider | None = None,
        email: EmailSender | None = None,
        chat: Chat | None = None,
        recover_on_start: bool = False,
    ) -> tuple[TestClient, Components]:
        settings = make_settings(migrated_db.url)
        components = build_components(
            settings, config or example_config, db=migrated_db, clock=clock
        )
        integrations = components.integrations
        if calendar or email or chat:
            integrations = replace(
                integrations,
                calendars={k: calendar or v for k, v in integrations.calendars.items()},
                email=email or integrations.email,
                chat=chat or integrations.chat,
            )
            components = build_components(
                settings,
                config or example_config,
                db=migrated_db,
                clock=clock,
                integrations=integrations,
            )
        client = TestClient(create_app(components, recover_on_start=recover_on_start))
        client.__enter__()
        clients.append(client)
        return client, components

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


def post_signed(
    client: TestClient,
    payload: dict[str, Any] | str | bytes,
    *,
    content_type: str = "application/json",
    secret: str = WEBHOOK_SECRET,
    headers: dict[str, str] | None = None,
    timestamp: float | None = None,
) -> Any:
    """POST to the intake webhook signed exactly as a form provider would."""
    if isinstance(payload, dict):
        body = json.dumps(payload).encode()
    elif isinstance(payload, str):
        body = payload.encode()
    else:
        body = payload
    all_headers = {**signed_headers(secret, body, timestamp), "Content-Type": content_type}
    all_headers.update(headers or {})
    return client.post("/webhooks/booking", content=body, headers=all_headers)
