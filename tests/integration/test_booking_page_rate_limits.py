"""The booking page's per-client rate limits hold across replicas when they share a Redis
storage (two app instances here, one Redis on 127.0.0.1:6379)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.components import build_components
from bot.domain.config import Config
from storage.db import Database
from tests.conftest import FixedClock, make_settings

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} unreachable: {exc}")
    return REDIS_URL


@pytest.fixture
def replicas(
    sqlite_url: str, example_config: Config, clock: FixedClock, redis_url: str
) -> Iterator[list[TestClient]]:
    from storage.migrate import upgrade

    upgrade(sqlite_url)
    db = Database(sqlite_url)
    # One made-up client address per run, so runs (and other users of the Redis) never
    # share a count.
    address = f"203.0.113.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:8]}"
    clients = []
    for _ in range(2):
        settings = make_settings(sqlite_url, frontdesk_rate_limit_storage=redis_url)
        components = build_components(settings, example_config, db=db, clock=clock)
        client = TestClient(create_app(components, recover_on_start=False), client=(address, 1))
        client.__enter__()
        clients.append(client)
    yield clients
    for client in clients:
        client.__exit__(None, None, None)
    db.dispose()


def test_two_replicas_share_one_count(replicas: list[TestClient]) -> None:
    first, second = replicas
    for _ in range(5):
        assert first.post("/book", data={"token": "x"}).status_code == 403
    for _ in range(5):
        assert second.post("/book", data={"token": "x"}).status_code == 403
    refused = first.post("/book", data={"token": "x"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert second.post("/book", data={"token": "x"}).status_code == 429
