"""The real app with SMS through the real twilio client against our fake Twilio, for the tests
that follow reminders from a booking to their sends (reminders, metrics).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.components import Components, build_components
from bot.domain.config import Config
from storage.db import Database
from testkit.fakes.twilio import FakeTwilio
from tests.conftest import FixedClock, make_settings

PUBLIC_URL = "https://frontdesk.example.test"  # what Twilio's callbacks are signed against


@contextlib.contextmanager
def twilio_app(
    db: Database, config: Config, clock: FixedClock, twilio: FakeTwilio, *, wait: bool = True
) -> Iterator[tuple[TestClient, Components]]:
    """The client and components of the app on `db`; with `wait=False` a send never sleeps
    for real (the 429 Retry-After path), so a test that meets one stays quick.
    """
    settings = make_settings(
        db.url,
        **twilio.settings(),
        frontdesk_public_url=PUBLIC_URL,
    )
    components = build_components(settings, config, db=db, clock=clock)
    if not wait:
        components.integrations.sms._sleep = lambda _seconds: None  # type: ignore[attr-defined]
    with TestClient(create_app(components, recover_on_start=False)) as client:
        yield client, components
