"""A rep's Google consent through the real FastAPI app, the real google-auth-oauthlib Flow and
our fake Google (tests/fakes/google.py): start, Google's consent screen, the callback, and
what ends up stored. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.components import build_components
from bot.domain.config import Config
from bot.domain.intervals import Interval
from integrations import google_oauth
from integrations.bundle import Integrations
from integrations.google import GoogleCalendar
from integrations.google_oauth import OAuthState
from integrations.sandbox import SandboxCalendar, SandboxChat, SandboxEmail, SandboxSms
from storage.db import Database
from storage.repositories import BookingRepository, OutboxRepository
from storage.repositories.connections import CONNECTIONS
from testkit.fakes.google import EVENTS_SCOPE, FREEBUSY_SCOPE, FakeGoogle
from tests.conftest import make_settings

ALICE = "alice@ourco.example"
BRUNO = "bruno@ourco.example"  # provider = "microsoft" in the example config
PUBLIC_URL = "http://testserver"
KEY = Fernet.generate_key().decode()

App = Callable[..., TestClient]


@pytest.fixture(autouse=True)
def _plain_http_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    # oauthlib refuses http:// endpoints unless told the transport is a local test one.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    with FakeGoogle(calendars=[ALICE]) as server:
        yield server


@pytest.fixture
def make_client(migrated_db: Database, example_config: Config, fake: FakeGoogle) -> Iterator[App]:
    """The real app (the Google routes included) on the test database, sandbox elsewhere."""
    clients: list[TestClient] = []

    def factory(**overrides: Any) -> TestClient:
        values: dict[str, Any] = {
            **fake.settings(),
            "frontdesk_encryption_key": KEY,
            "frontdesk_public_url": PUBLIC_URL,
            **overrides,
        }
        settings = make_settings(migrated_db.url, **values)
        outbox, bookings = OutboxRepository(migrated_db), BookingRepository(migrated_db)
        sandbox = SandboxCalendar(example_config, outbox, bookings)
        integrations = Integrations(
            calendars={"google": sandbox, "microsoft": sandbox},
            email=SandboxEmail(outbox),
            chat=SandboxChat(outbox),
            sms=SandboxSms(outbox),
        )
        components = build_components(
            settings, example_config, db=migrated_db, integrations=integrations
        )
        client = TestClient(create_app(components, recover_on_start=False))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: App) -> TestClient:
    return make_client()


def consent(client: TestClient, rep: str = ALICE) -> str:
    """Start the consent and let the fake Google answer: the callback URL it sends back to."""
    start = client.get("/oauth/google/start", params={"rep": rep}, follow_redirects=False)
    assert start.status_code == 302, start.text
    google = requests.get(start.headers["location"], allow_redirects=False, timeout=5)
    assert google.status_code == 302
    back = str(google.headers["location"])
    assert back.startswith(PUBLIC_URL + "/oauth/google/callback?")
    return back.removeprefix(PUBLIC_URL)


def stored_raw(db: Database) -> list[Any]:
    with db.connection() as conn:
        return list(conn.execute(select(CONNECTIONS)).all())


def test_consent_stores_the_refresh_token_encrypted(client, fake, migrated_db):
    callback = client.get(consent(client))

    assert callback.status_code == 200, callback.text
    assert "Connected alice@ourco.example" in callback.text
    assert callback.headers["cache-control"] == "no-store"

    (authorize,) = fake.calls("authorize")
    asked = authorize.query
    assert asked["access_type"] == "offline"
    assert asked["prompt"] == "consent"
    assert asked["include_granted_scopes"] == "true"
    assert asked["redirect_uri"] == PUBLIC_URL + "/oauth/google/callback"
    assert set(asked["scope"].split()) == {EVENTS_SCOPE, FREEBUSY_SCOPE, "openid", "email"}
    assert asked["code_challenge_method"] == "S256"
    assert asked["login_hint"] == ALICE

    (token_call,) = fake.calls("token")
    assert token_call.body["grant_type"] == "authorization_code"
    (refresh_token,) = fake.grants
    (row,) = stored_raw(migrated_db)
    assert row.rep_email == ALICE and row.status == "connected"
    assert refresh_token.encode() not in row.refresh_token_encrypted
    assert sorted(row.scopes) == sorted([EVENTS_SCOPE, FREEBUSY_SCOPE])

    connections = client.app.state.components.connections
    stored = connections.get(ALICE, "google")
    assert stored.refresh_token == refresh_token


def test_the_stored_consent_serves_the_calendar(client, fake, example_config):
    client.get(consent(client))
    components = client.app.state.components
    fake.add_busy(
        ALICE, datetime(2026, 12, 1, 14, tzinfo=UTC), datetime(2026, 12, 1, 15, tzinfo=UTC)
    )
    calendar = GoogleCalendar(components.settings, components.connections, timeout=5)

    busy = calendar.busy(
        example_config.rep(ALICE).model_copy(update={"calendars": (ALICE,)}),
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 2, tzinfo=UTC),
    )

    assert busy == [
        Interval(datetime(2026, 12, 1, 14, tzinfo=UTC), datetime(2026, 12, 1, 15, tzinfo=UTC))
    ]


def test_a_callback_on_another_replica_completes_the_consent(make_client, fake):
    first, second = make_client(), make_client()

    callback_url = consent(first)
    second.cookies.update(first.cookies)  # the same browser, another replica behind the LB
    callback = second.get(callback_url)

    assert callback.status_code == 200, callback.text
    assert second.app.state.components.connections.get(ALICE, "google") is not None


def test_reconnecting_heals_a_broken_connection(client):
    connections = client.app.state.components.connections
    client.get(consent(client))
    assert connections.mark_broken(ALICE, "google", "invalid_grant")

    assert client.get(consent(client)).status_code == 200

    assert not connections.get(ALICE, "google").broken


@pytest.mark.parametrize(
    "tamper",
    [
        lambda state: state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB"),
        lambda state: Fernet(Fernet.generate_key()).encrypt(b'{"rep":"x"}').decode(),
        lambda state: "",
    ],
    ids=["altered", "foreign-key", "missing"],
)
def test_a_bad_state_is_refused(client, fake, migrated_db, tamper):
    url = urlsplit(consent(client))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    query["state"] = tamper(query["state"])

    response = client.get(url.path, params=query)

    assert response.status_code == 400
    assert google_oauth.BAD_STATE_TITLE in response.text
    assert fake.calls("token") == []
    assert stored_raw(migrated_db) == []


def test_the_state_expires_after_ten_minutes():
    state = OAuthState(KEY)
    sealed = state.seal(ALICE, "v" * 64)

    assert state.open(sealed, now=time.time() + 500) == (ALICE, "v" * 64)
    with pytest.raises(ValueError):
        state.open(sealed, now=time.time() + 11 * 60)


def test_refused_consent_says_so(client, fake, migrated_db):
    fake.deny_next()

    response = client.get(consent(client))

    assert response.status_code == 400
    assert google_oauth.DENIED_TITLE in response.text
    assert "alice@ourco.example" in response.text
    assert fake.calls("token") == []
    assert stored_raw(migrated_db) == []


def test_a_missing_scope_at_consent_stores_nothing(client, fake, migrated_db):
    fake.grant_next([FREEBUSY_SCOPE])

    response = client.get(consent(client))

    assert response.status_code == 400
    assert google_oauth.MISSING_SCOPES_TITLE in response.text
    assert "calendar.events" in response.text
    assert stored_raw(migrated_db) == []


def test_the_broad_calendar_scope_covers_both(client, fake, migrated_db):
    # Google never lets a user untick the identity scopes, only the calendar ones.
    fake.grant_next(["https://www.googleapis.com/auth/calendar", "openid", "email"])

    assert client.get(consent(client)).status_code == 200

    (row,) = stored_raw(migrated_db)
    assert row.scopes == ["https://www.googleapis.com/auth/calendar"]


def test_no_refresh_token_explains_how_to_retry(client, fake, migrated_db):
    fake.withhold_refresh_token_next()

    response = client.get(consent(client))

    assert response.status_code == 400
    assert "myaccount.google.com/permissions" in response.text
    assert stored_raw(migrated_db) == []


def test_a_code_works_once(client, fake):
    callback = consent(client)
    assert client.get(callback).status_code == 200

    replay = client.get(callback)

    assert replay.status_code == 400
    # The state is single-use now: the replay is refused before the code is even tried.
    assert google_oauth.STATE_USED_TITLE in replay.text
    assert len(fake.calls("token")) == 1


def test_unknown_rep_is_404_and_escaped(client, fake):
    response = client.get("/oauth/google/start", params={"rep": "<b>eve</b>@ourco.example"})

    assert response.status_code == 404
    assert "&lt;b&gt;eve&lt;/b&gt;" in response.text
    assert "<b>eve" not in response.text
    assert fake.calls() == []


def test_a_microsoft_rep_cannot_connect_google(client):
    response = client.get("/oauth/google/start", params={"rep": BRUNO}, follow_redirects=False)

    assert response.status_code == 400
    assert 'provider = "microsoft"' in html.unescape(response.text)


def test_no_rep_named_is_400(client):
    response = client.get("/oauth/google/start", follow_redirects=False)

    assert response.status_code == 400
    assert "?rep=" in response.text


@pytest.mark.parametrize(
    ("missing", "variable"),
    [
        ({"google_client_id": None}, "GOOGLE_CLIENT_ID"),
        ({"google_client_secret": None}, "GOOGLE_CLIENT_SECRET"),
        ({"frontdesk_encryption_key": None}, "FRONTDESK_ENCRYPTION_KEY"),
    ],
)
def test_not_configured_is_503_naming_the_variable(make_client, missing, variable):
    client = make_client(**missing)

    start = client.get("/oauth/google/start", params={"rep": ALICE}, follow_redirects=False)
    callback = client.get("/oauth/google/callback", params={"code": "x", "state": "y"})

    for response in (start, callback):
        assert response.status_code == 503
        assert variable in response.text


def test_an_http_google_url_is_refused_without_the_test_switch(client, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT")

    response = client.get("/oauth/google/start", params={"rep": ALICE}, follow_redirects=False)

    assert response.status_code == 503
    assert "GOOGLE_AUTH_URL" in response.text


def test_no_token_or_code_reaches_our_logs(client, fake, caplog):
    caplog.set_level(logging.DEBUG, logger="frontdesk")
    callback = consent(client)
    client.get(callback)
    components = client.app.state.components
    calendar = GoogleCalendar(components.settings, components.connections, timeout=5)
    calendar.busy(
        components.config.rep(ALICE).model_copy(update={"calendars": (ALICE,)}),
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 2, tzinfo=UTC),
    )

    ours = [r for r in caplog.records if r.name.startswith("frontdesk")]
    assert any(r.getMessage() == "google calendar connected" for r in ours)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    secrets = [code, *fake.grants, *fake.access_tokens]
    text = "\n".join(f"{r.getMessage()} {vars(r)}" for r in ours)
    assert not [secret for secret in secrets if secret in text]


def test_consent_by_another_google_account_is_refused(client, fake, migrated_db):
    # The start link needs no login: whoever opens it must still be the rep on Google.
    fake.sign_in_as_next("mallory@evil.example")
    callback = client.get(consent(client))

    assert callback.status_code == 403, callback.text
    assert "mallory@evil.example" in callback.text
    assert "alice@ourco.example" in callback.text
    assert client.app.state.components.connections.get(ALICE, "google") is None


def test_consent_by_the_reps_account_in_other_case_is_accepted(client, fake, migrated_db):
    fake.sign_in_as_next(ALICE.upper())
    callback = client.get(consent(client))

    assert callback.status_code == 200, callback.text
    assert client.app.state.components.connections.get(ALICE, "google") is not None


def test_a_grant_without_identity_is_refused(client, fake, migrated_db):
    fake.grant_next([EVENTS_SCOPE, FREEBUSY_SCOPE])  # no openid: no ID token to check
    response = client.get(consent(client))

    assert response.status_code == 400
    assert "did not name a verified account" in response.text
    assert stored_raw(migrated_db) == []


def test_the_state_is_single_use_on_every_replica(make_client, fake):
    first, second = make_client(), make_client()
    callback_url = consent(first)
    second.cookies.update(first.cookies)
    assert first.get(callback_url).status_code == 200

    again = second.get(callback_url)

    assert again.status_code == 400
    assert google_oauth.STATE_USED_TITLE in again.text
    assert len(fake.calls("token")) == 1


def test_the_state_only_works_in_the_browser_that_started_it(make_client, fake):
    rep_browser, other_browser = make_client(), make_client()
    callback_url = consent(rep_browser)

    stolen = other_browser.get(callback_url)

    assert stolen.status_code == 400
    assert google_oauth.OTHER_BROWSER_TITLE in stolen.text
    assert fake.calls("token") == []
    assert rep_browser.get(callback_url).status_code == 200  # not used up by the refusal


def test_the_state_cookie_is_private_to_the_callback(client):
    start = client.get("/oauth/google/start", params={"rep": ALICE}, follow_redirects=False)
    cookie = start.headers["set-cookie"].lower()
    assert cookie.startswith(google_oauth.STATE_COOKIE + "=")
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/oauth/google/callback" in cookie
