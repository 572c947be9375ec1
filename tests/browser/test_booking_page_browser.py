"""The booking page in a real browser (Chromium through Playwright): the visitor's own zone,
booking by keyboard alone, axe-core's verdict, and the page embedded on another origin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.services.booking_page import FIELD_MESSAGES
from tests.browser.conftest import HostPage, LiveServer

SERIOUS = ("serious", "critical")


def _open(chromium: Any, zone: str, width: int = 1280) -> Any:
    context = chromium.new_context(
        timezone_id=zone, locale="en-US", viewport={"width": width, "height": 900}
    )
    return context, context.new_page()


def _wait_for_zone(page: Any, zone: str) -> None:
    # Locator expectations, not wait_for_function: the page's CSP forbids eval.
    from playwright.sync_api import expect

    expect(page.locator("#book input[name=tz]")).to_have_value(zone)


def test_the_browsers_zone_is_used_when_the_address_names_none(
    chromium: Any, live: LiveServer
) -> None:
    context, page = _open(chromium, "Asia/Kolkata")
    try:
        page.goto(f"{live.url}/book/alice")
        _wait_for_zone(page, "Asia/Kolkata")
        assert page.locator("#zone-abbr").inner_text() == "IST"
        assert page.locator("#tz").input_value() == "Asia/Kolkata"
        labels = page.locator("#slots label").all_inner_texts()
        assert labels and all(label.endswith(" IST") for label in labels)
        # Alice's 09:00 in New York (EST) is 19:30 in Kolkata.
        assert "7:30 PM IST" in labels
        assert "Asia%2FKolkata" in page.url  # the address now says which zone is shown
        # Naming a zone in the address wins over the browser's.
        page.goto(f"{live.url}/book/alice?tz=America/Phoenix")
        page.wait_for_load_state("networkidle")
        assert page.locator("#zone-abbr").inner_text() == "MST"
    finally:
        context.close()


def test_slot_changes_need_no_reload(chromium: Any, live: LiveServer) -> None:
    from playwright.sync_api import expect

    context, page = _open(chromium, "America/New_York")
    try:
        page.goto(f"{live.url}/book/alice")
        page.evaluate("window.stillHere = true")
        first = page.locator("#slots label").first.inner_text()
        page.locator("#next-week").click()
        expect(page.locator("#week-label")).to_have_text("Week of 14 December")
        expect(page.locator("#book input[name=week]")).to_have_value("2026-12-14")
        # Monday 14 December opens at 09:00: no notice cuts into it, unlike today.
        assert page.locator("#slots label").first.inner_text() == "9:00 AM EST" != first
        page.select_option("#duration", "45")
        expect(page.locator("#book input[name=duration]")).to_have_value("45")
        page.fill("#tz_other", "America/Bogota")
        page.locator("#tz_other").press("Tab")
        _wait_for_zone(page, "America/Bogota")
        assert page.locator("#slots label").first.inner_text().endswith(" -05")
        assert page.evaluate("window.stillHere") is True
        page.fill("#tz_other", "Mars/Olympus")
        page.locator("#tz_other").press("Tab")
        page.wait_for_selector("#tz_other-error")
        assert FIELD_MESSAGES["tz"] in page.locator("#tz_other-error").inner_text()
    finally:
        context.close()


def test_a_slot_is_chosen_and_booked_with_the_keyboard_only(
    chromium: Any, live: LiveServer
) -> None:
    context, page = _open(chromium, "America/Phoenix", width=375)
    try:
        page.goto(f"{live.url}/book/alice")
        _wait_for_zone(page, "America/Phoenix")
        for _ in range(40):  # Tab until the slot list has the focus
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.name") == "slot":
                break
        else:
            pytest.fail("the slot list cannot be reached with Tab")
        # The focused slot is visibly marked.
        outline = page.evaluate(
            "getComputedStyle(document.activeElement.nextElementSibling).outlineStyle"
        )
        assert outline not in ("", "none")
        page.keyboard.press("ArrowRight")  # the next time, chosen by the arrow as radios are
        chosen = page.evaluate("document.activeElement.nextElementSibling.textContent")
        assert page.evaluate("document.activeElement.checked") is True
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "name"
        page.keyboard.type("Dana Reyes")
        page.keyboard.press("Tab")
        page.keyboard.type("dana@northwind.example")
        page.keyboard.press("Enter")
        page.wait_for_url("**/book/done/**")
        assert page.locator("h1").inner_text() == "You're booked"
        when = page.locator(".summary").inner_text()
        # The done page shows the very time chosen, in the client's zone (MST, no DST).
        assert chosen.split(" ")[0] in when
        assert "MST" in when
        assert "Alice Martin" in when
    finally:
        context.close()


def _axe(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in SERIOUS
    ]


def test_axe_finds_no_serious_violation(chromium: Any, live: LiveServer, tmp_path: Path) -> None:
    context, page = _open(chromium, "Europe/Berlin")
    try:
        page.goto(f"{live.url}/book/alice")
        _wait_for_zone(page, "Europe/Berlin")
        assert _axe(page) == []
        # The form sent with mistakes (422): the same page with its errors.
        page.locator("#submit").click()
        page.wait_for_selector("#error-summary")
        assert page.evaluate("document.activeElement.id") == "error-summary"
        assert _axe(page) == []
        # A form whose token is no good (403).
        page.evaluate("document.querySelector('#book input[name=token]').value = 'forged'")
        page.locator("#slots input").first.check()
        page.fill("#name", "Dana Reyes")
        page.fill("#email", "dana@northwind.example")
        page.locator("#submit").click()
        page.wait_for_selector("text=This form has expired")
        assert _axe(page) == []
        page.locator("a.button").click()
        page.locator("#slots input").first.check()
        page.fill("#name", "Dana Reyes")
        page.fill("#email", "dana@northwind.example")
        page.locator("#submit").click()
        page.wait_for_url("**/book/done/**")
        assert _axe(page) == []
    finally:
        context.close()


def test_pages_fit_a_phone_and_a_desktop(chromium: Any, live: LiveServer, tmp_path: Path) -> None:
    for width in (375, 1280):
        context, page = _open(chromium, "America/Chicago", width=width)
        try:
            page.goto(f"{live.url}/book/alice")
            _wait_for_zone(page, "America/Chicago")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(tmp_path / f"book-{width}.png"), full_page=True)
            page.locator("#slots input").nth(width // 100).check()
            page.fill("#name", "Dana Reyes")
            page.fill("#email", "dana@northwind.example")
            page.locator("#submit").click()
            page.wait_for_url("**/book/done/**")
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(tmp_path / f"done-{width}.png"), full_page=True)
        finally:
            context.close()


def test_embedded_on_another_origin(chromium: Any, live: LiveServer, host_page: HostPage) -> None:
    host_page.html = f"""<!DOCTYPE html><html lang="en"><head><title>Ourco</title></head>
<body><h1>Talk to us</h1>
<div data-frontdesk-book data-rep="alice"></div>
<script src="{live.url}/embed.js"></script>
<script>
document.querySelector("[data-frontdesk-book]").addEventListener("frontdesk:booked",
  function (event) {{ window.booked = event.detail; }});
</script></body></html>"""
    context, page = _open(chromium, "America/New_York")
    try:
        page.goto(host_page.url)
        frame = page.frame_locator("iframe")
        frame.locator("#slots input").first.check()
        frame.locator("#name").fill("Dana Reyes")
        frame.locator("#email").fill("dana@northwind.example")
        # The iframe grew to its content (the resize message was heard).
        page.wait_for_function("document.querySelector('iframe').offsetHeight > 1000")
        frame.locator("#submit").click()
        page.wait_for_function("window.booked !== undefined")
        booked = page.evaluate("window.booked")
        assert booked["status"] == "booked_auto"
        assert booked["request_id"].startswith("req_")
        assert frame.locator("h1").inner_text() == "You're booked"
    finally:
        context.close()


def test_everything_works_with_javascript_off(chromium: Any, live: LiveServer) -> None:
    context = chromium.new_context(
        timezone_id="Asia/Kolkata", locale="en-US", java_script_enabled=False
    )
    page = context.new_page()
    try:
        page.goto(f"{live.url}/book/alice")
        # Without a script the browser's zone is unknown: the rep's zone is shown...
        assert page.locator("#zone-abbr").inner_text() == "EST"
        # ...and the zone picker changes it with a plain GET.
        page.fill("#tz_other", "America/Phoenix")
        page.locator("#show-times").click()
        page.wait_for_load_state()
        assert page.locator("#zone-abbr").inner_text() == "MST"
        page.locator("#next-week").click()
        page.wait_for_load_state()
        assert page.locator("#week-label").inner_text() == "Week of 14 December"
        page.locator("#slots label").first.click()
        page.fill("#name", "Dana Reyes")
        page.fill("#email", "dana@northwind.example")
        page.locator("#submit").click()
        page.wait_for_url("**/book/done/**")
        assert page.locator("h1").inner_text() == "You're booked"
        assert "Monday 14 December 2026" in page.locator(".summary").inner_text()
        assert "7:00 AM to 7:30 AM MST" in page.locator(".summary").inner_text()
    finally:
        context.close()
