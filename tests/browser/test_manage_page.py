"""The manage page in a real browser (SPEC §11): open the link from the sandbox's
confirmation email, move the meeting with the keyboard alone, and read the new time in the
client's zone; axe-core finds no serious or critical violation, at 375 px and on a desktop.

The live server and the browser are the ones of tests/browser/conftest.py: without Chromium at
/usr/bin/chromium, or without the `playwright` package, the tests are skipped and say why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.components import Components, build_components
from bot.config import load_config
from storage.migrate import upgrade
from tests.browser.conftest import LiveServer, free_port
from tests.conftest import EXAMPLE_CONFIG, FixedClock, make_settings, post_signed

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # Monday 8:00 in Phoenix
MEETING = "2026-12-01T10:00:00"  # Tuesday, Phoenix time, with chen
LINK = re.compile(r"https?://[^\s]+/manage/[A-Za-z0-9._-]+")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Components]]:
    """(base URL, components) of a live sandboxed Frontdesk whose clock is NOW."""
    url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    upgrade(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(url, frontdesk_public_url=base)
    components = build_components(settings, load_config(EXAMPLE_CONFIG), clock=FixedClock(NOW))
    with LiveServer(components, port):
        yield base, components
    components.db.dispose()


def booked_link(components: Components) -> str:
    """Book with chen through the signed intake; the link in the sandbox's email."""
    with TestClient(create_app(components, recover_on_start=False)) as client:
        answer = post_signed(
            client,
            {
                "submission_id": "browser-1",
                "name": "Dana Reyes",
                "email": "dana@northwind.example",
                "timezone": "America/Phoenix",
                "requested_start": MEETING,
                "rep": "chen@ourco.example",
            },
        ).json()
        assert answer["status"] == "booked_auto", answer
        items = client.get("/sandbox.json", params={"service": "email"}).json()["items"]
    (email,) = [item for item in items if item["action"] == "send"]
    return str(LINK.findall(email["payload"]["text_body"])[0])


def serious_violations(page: Any) -> list[str]:
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")
    results = axe_module.Axe().run(page)
    return [
        f"{violation['id']}: {violation['help']}"
        for violation in results.response["violations"]
        if violation.get("impact") in ("serious", "critical")
    ]


@pytest.mark.parametrize("width", [375, 1280], ids=["phone", "desktop"])
def test_a_client_reschedules_with_the_keyboard_and_sees_the_new_time(
    served: tuple[str, Components], chromium: Any, width: int
) -> None:
    base, components = served
    link = booked_link(components)
    assert link.startswith(base)
    page = chromium.new_page(viewport={"width": width, "height": 800})

    page.goto(link)

    assert "Tuesday 1 December 2026, 10:00 AM MST" in page.inner_text("main")
    assert serious_violations(page) == []
    # Only the keyboard: Tab to the first time, arrow to the next, Tab to the button, Enter.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "radio":
            break
    else:
        raise AssertionError("no time could be reached with Tab")
    page.keyboard.press("ArrowDown")
    chosen = page.evaluate("document.activeElement.id")
    assert page.is_checked(f"#{chosen}")
    label = page.inner_text(f"label[for={chosen}]")
    day = page.evaluate(f"document.getElementById('{chosen}').closest('fieldset').innerText")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"
    with page.expect_navigation():
        page.keyboard.press("Enter")

    shown = page.inner_text("main")
    assert "Your meeting has moved" in shown
    assert label.endswith("MST") and label in shown
    assert day.split("\n")[0] in shown  # "Monday 23 November"
    assert "/manage/" in page.url and page.url.split("?")[0] != link
    assert serious_violations(page) == []
    # The old link now answers 410, pointing at the newest details.
    answer = page.goto(link)
    assert answer is not None and answer.status == 410
    assert label in page.inner_text("main")
    booking = components.bookings.get(int(link.rsplit("/", 1)[1].split(".")[0], 16))
    assert booking is not None and booking.version == 2
