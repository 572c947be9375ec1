"""The ops pages (SPEC §9): open in full sandbox mode; once any service is real they need
the admin token (401 without, 403 wrong), the metrics token opens /metrics alone, and with
no admin token configured they stay closed.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.components import build_components
from bot.domain.config import Config
from storage.db import Database
from tests.conftest import make_settings

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PAGES = ["/sandbox", "/sandbox.json", "/metrics", "/docs", "/openapi.json", "/redoc"]
ADMIN = "admin-token-for-tests"
SCRAPE = "metrics-token-for-tests"
# Postmark credentials make email real; nothing is sent in these tests.
REAL_EMAIL = {"postmark_server_token": "pm-token", "postmark_from": "desk@ourco.example"}


def _client(db: Database, config: Config, **settings: Any) -> TestClient:
    components = build_components(make_settings(db.url, **settings), config, db=db)
    return TestClient(create_app(components, recover_on_start=False))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@SQLITE_ONLY
@pytest.mark.parametrize("path", PAGES)
def test_open_without_a_token_in_full_sandbox_mode(migrated_db, example_config, path):
    client = _client(migrated_db, example_config)
    assert client.get(path).status_code == 200


@SQLITE_ONLY
@pytest.mark.parametrize("path", PAGES)
def test_a_real_service_closes_them_to_anyone_without_the_admin_token(
    migrated_db, example_config, path
):
    client = _client(
        migrated_db,
        example_config,
        frontdesk_admin_token=ADMIN,
        frontdesk_metrics_token=SCRAPE,
        frontdesk_allow_mixed=True,
        **REAL_EMAIL,
    )
    missing = client.get(path)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "FRONTDESK_ADMIN_TOKEN" in missing.json()["message"]
    assert client.get(path, headers=_bearer("wrong")).status_code == 403
    assert client.get(path, headers={"Authorization": f"Basic {ADMIN}"}).status_code == 403
    assert client.get(path, headers=_bearer(ADMIN)).status_code == 200
    scraped = client.get(path, headers=_bearer(SCRAPE)).status_code
    assert scraped == (200 if path == "/metrics" else 403)


@SQLITE_ONLY
def test_with_no_admin_token_configured_they_stay_closed(migrated_db, example_config):
    client = _client(migrated_db, example_config, frontdesk_admin_token=None, **REAL_EMAIL)
    for path in PAGES:
        refused = client.get(path)
        assert refused.status_code == 401
        assert "is not set" in refused.json()["message"]
        assert client.get(path, headers=_bearer("")).status_code == 403
        assert client.get(path, headers=_bearer("anything")).status_code == 403


@SQLITE_ONLY
def test_the_public_endpoints_stay_open(migrated_db, example_config):
    client = _client(migrated_db, example_config, frontdesk_admin_token=ADMIN, **REAL_EMAIL)
    assert client.get("/healthz").status_code == 200
    # Not an ops page: the refusal is the intake's own (a missing signature).
    assert client.post("/webhooks/booking", content=b"{}").status_code == 401


@SQLITE_ONLY
def test_the_workers_metrics_port_takes_the_same_tokens(migrated_db, example_config):
    import httpx

    from bot.metrics import build_registry
    from handlers.worker_metrics import serve_metrics

    def metrics_server(**values: Any) -> str:
        settings = make_settings(migrated_db.url, **values)
        server = serve_metrics(settings, build_registry(migrated_db), "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/metrics"

    servers: list[Any] = []
    try:
        sandboxed = metrics_server()
        assert httpx.get(sandboxed, timeout=5).status_code == 200
        real = metrics_server(
            frontdesk_admin_token=ADMIN, frontdesk_metrics_token=SCRAPE, **REAL_EMAIL
        )
        assert httpx.get(real, timeout=5).status_code == 401
        assert httpx.get(real, headers=_bearer("wrong"), timeout=5).status_code == 403
        scraped = httpx.get(real, headers=_bearer(SCRAPE), timeout=5)
        assert scraped.status_code == 200
        assert "frontdesk_database_up" in scraped.text
        assert httpx.get(real, headers=_bearer(ADMIN), timeout=5).status_code == 200
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
