"""The booking page without a browser (SPEC §10): plain form posts, as a client with
JavaScript off sends them, against the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.services.booking_page import FIELD_MESSAGES, NO_SLOTS_THIS_WEEK, SLOT_TAKEN
from bot.services.rate_limits import BOOK_POSTS, SLOT_READS, ClientRateLimits
from handlers.booking_page import FORBIDDEN_TITLE, NOT_FOUND_TITLE
from storage.models import BookingStatus
from tests.conftest import AppFactory, FixedClock, post_signed

TOKEN_RE = re.compile(r'name="token" value="([^"]+)"')
SLOT_RE = re.compile(r'<input type="radio" name="slot" id="[^"]+" value="([^"]+)"')
CLIENT = {
    "name": "Dana Reyes",
    "email": "dana@northwind.example",
    "company": "Northwind",
    "phone": "+16025550143",
    "notes": "A demo, please",
}


def _form(client: TestClient, path: str = "/book/alice", **query: str) -> tuple[str, list[str]]:
    response = client.get(path, params=query)
    assert response.status_code == 200, response.text
    return TOKEN_RE.search(response.text)[1], SLOT_RE.findall(response.text)  # type: ignore[index]


def _post(client: TestClient, path: str = "/book/alice", **fields: Any) -> Any:
    return client.post(path, data=fields, follow_redirects=False)


def _text(response: Any) -> str:
    """The page's visible words, for asserting on what the client reads."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", response.text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_a_form_post_without_javascript_books(make_app: AppFactory) -> None:
    client, parts = make_app()
    token, slots = _form(client, tz="America/Phoenix", utm_source="newsletter")
    # 2026-11-23 is a Monday; now is 10:00 EST, notice 2 h: Alice's first slot is at noon
    # EST, but the room is busy 12:00-13:00 (and 10 minutes' buffer), so 13:30 EST.
    assert slots[0] == "2026-11-23T18:30:00Z"
    response = _post(
        client,
        token=token,
        slot=slots[0],
        tz="America/Phoenix",
        duration="30",
        utm_source="newsletter",
        **CLIENT,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/book/done/{token}"

    done = client.get(response.headers["location"])
    assert done.status_code == 200
    words = _text(done)
    assert "You're booked" in words
    # 18:30 UTC is 11:30 in Phoenix (MST, no DST), never an hour off.
    assert "Monday 23 November 2026" in words
    assert "11:30 AM to 12:00 PM MST" in words
    assert "Alice Martin" in words
    assert "https://meet.sandbox.invalid/" in words
    ics = re.search(r'href="(/book/done/[^"]+/calendar\.ics)"', done.text)
    assert ics is not None
    calendar = client.get(ics[1])
    assert calendar.headers["content-type"].startswith("text/calendar")
    assert "DTSTART:20261123T183000Z" in calendar.text

    request = parts.requests.get_by_key(f"page:{token.split('.')[1]}")
    assert request is not None
    assert request.status == "booked_auto"
    assert request.utm == {"utm_source": "newsletter"}
    assert request.phone == "+16025550143"
    services = sorted(item["service"] for item in client.get("/sandbox.json").json()["items"])
    assert services == ["calendar", "email"]


def test_a_double_submit_books_once(make_app: AppFactory) -> None:
    client, parts = make_app()
    token, slots = _form(client)
    fields = {"token": token, "slot": slots[0], "tz": "America/New_York", **CLIENT}
    first = _post(client, **fields)
    second = _post(client, **fields)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    request = parts.requests.get_by_key(f"page:{token.split('.')[1]}")
    assert request is not None
    booking = parts.bookings.get_by_request(request.id)
    assert booking is not None and booking.status == BookingStatus.CONFIRMED
    items = client.get("/sandbox.json").json()["items"]
    assert [item["service"] for item in items].count("calendar") == 1


@pytest.mark.parametrize("token", [None, "", "abc", "1.2.3", "forged"])
def test_a_missing_or_forged_token_is_refused(make_app: AppFactory, token: str | None) -> None:
    client, parts = make_app()
    real, slots = _form(client)
    if token == "forged":  # a real token's shape with another signature
        token = real.rsplit(".", 1)[0] + ".AAAA" + real.rsplit(".", 1)[1][4:]
    fields: dict[str, Any] = {"slot": slots[0], **CLIENT}
    if token is not None:
        fields["token"] = token
    response = _post(client, **fields)
    assert response.status_code == 403
    assert FORBIDDEN_TITLE in response.text
    # ... and offers a fresh form, keeping what was typed.
    assert 'href="/book/alice?' in response.text
    assert "Dana+Reyes" in response.text
    assert parts.requests.get_by_key(f"page:{real.split('.')[1]}") is None


def test_an_expired_token_is_refused(make_app: AppFactory, clock: FixedClock) -> None:
    client, _ = make_app()
    token, _slots = _form(client, week="2026-11-30")
    clock.now += timedelta(hours=2, minutes=1)
    response = _post(client, token=token, slot="2026-12-01T15:00:00Z", **CLIENT)
    assert response.status_code == 403


def test_invalid_fields_answer_422_with_the_values_kept(make_app: AppFactory) -> None:
    client, parts = make_app()
    token, slots = _form(client)
    response = _post(
        client,
        token=token,
        slot=slots[1],
        tz="America/New_York",
        duration="30",
        name="Dana <b>Reyes</b>",
        email="dana@",
        phone="555-0143",
        company="Northwind",
        notes="Hello & welcome",
    )
    assert response.status_code == 422
    page = response.text
    # Values kept (escaped), the chosen slot still chosen.
    assert 'value="Dana &lt;b&gt;Reyes&lt;/b&gt;"' in page
    assert 'value="dana@"' in page
    assert 'value="Northwind"' in page
    assert "Hello &amp; welcome</textarea>" in page
    assert f'value="{slots[1]}" checked' in page
    # A message beside each bad field, tied to it, and a summary linking to it.
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in page
    assert 'aria-describedby="phone-hint phone-error" aria-invalid="true"' in page
    assert f'href="#email">{FIELD_MESSAGES["email"]}</a>' in page
    assert f'href="#phone">{FIELD_MESSAGES["phone"]}</a>' in page
    assert 'id="name-error"' not in page
    assert "<title>Error: " in page
    # Nothing stored, and the form still posts (a fresh token).
    assert parts.requests.get_by_key(f"page:{token.split('.')[1]}") is None
    assert TOKEN_RE.search(page)[1] != token  # type: ignore[index]


def test_no_slot_chosen_is_a_field_error(make_app: AppFactory) -> None:
    client, _ = make_app()
    token, slots = _form(client)
    response = _post(client, token=token, **CLIENT)
    assert response.status_code == 422
    assert f'href="#slot-{re.sub(r"[^0-9]", "", slots[0])}">{FIELD_MESSAGES["slot"]}' in (
        response.text
    )


def test_the_honeypot_looks_like_success_and_stores_nothing(make_app: AppFactory) -> None:
    client, parts = make_app()

    def spam() -> float:
        metrics = client.get("/metrics").text
        found = re.search(r"^frontdesk_booking_page_spam_total (\S+)$", metrics, re.M)
        return float(found[1]) if found else 0.0

    before = spam()
    token, slots = _form(client)
    response = _post(client, token=token, slot=slots[0], website="http://spam.example", **CLIENT)
    assert response.status_code == 303
    done = client.get(response.headers["location"])
    assert "Thanks — we'll be in touch shortly" in _text(done)
    assert parts.requests.get_by_key(f"page:{token.split('.')[1]}") is None
    assert client.get("/sandbox.json").json()["items"] == []
    assert spam() == before + 1


def test_the_eleventh_post_in_a_minute_is_refused(make_app: AppFactory) -> None:
    client, _ = make_app()
    for _ in range(10):
        assert _post(client, token="x").status_code == 403
    refused = _post(client, token="x")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Reading slots has its own allowance.
    assert client.get("/api/slots").status_code == 200


def test_a_vip_through_the_page_is_escalated_and_the_page_reveals_nothing(
    make_app: AppFactory,
) -> None:
    client, parts = make_app()
    token, slots = _form(client)
    fields = {**CLIENT, "email": "ceo@eu.majorclient.com", "notes": "urgent: group of 12"}
    response = _post(client, token=token, slot=slots[0], **fields)
    done = client.get(response.headers["location"])
    words = _text(done)
    assert "Thanks — we'll be in touch shortly" in words
    for secret in ("vip", "majorclient", "urgent", "group", "escalat", "keyword", "review"):
        assert secret not in words.lower()
        assert secret not in done.text.lower()
    request = parts.requests.get_by_key(f"page:{token.split('.')[1]}")
    assert request is not None and request.status == "escalated_vip"


def test_a_slot_taken_meanwhile_offers_the_next_free_slots(make_app: AppFactory) -> None:
    client, parts = make_app()
    token, slots = _form(client, tz="America/Phoenix")
    taken = slots[0]
    # Someone else books that very time through the webhook while the page is open.
    other = post_signed(
        client,
        {
            "submission_id": "other-1",
            "name": "Someone Else",
            "email": "else@contoso.example",
            "timezone": "UTC",
            "requested_start": taken,
            "rep": "alice@ourco.example",
        },
    )
    assert other.json()["status"] == "booked_auto"
    response = _post(client, token=token, slot=taken, tz="America/Phoenix", **CLIENT)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert SLOT_TAKEN in _text(page)
    offered = SLOT_RE.findall(page.text)
    assert taken not in offered
    assert offered and offered[0] > taken  # the next free ones, same week
    assert 'value="Dana Reyes"' in page.text  # what they typed is still there
    assert "America/Phoenix" in page.text
    fresh = TOKEN_RE.search(page.text)[1]  # type: ignore[index]
    assert fresh != token
    again = _post(client, token=fresh, slot=offered[0], tz="America/Phoenix", **CLIENT)
    assert "You're booked" in _text(client.get(again.headers["location"]))
    assert parts.requests.get_by_key(f"page:{token.split('.')[1]}").status == (  # type: ignore[union-attr]
        "escalated_manual_review"
    )


def test_a_booking_removes_its_slot_from_every_page_at_once(make_app: AppFactory) -> None:
    client, parts = make_app()
    token, slots = _form(client)
    reads = parts.availability.cache.reads
    _post(client, token=token, slot=slots[0], **CLIENT)
    # A second app on the same database (another replica), its cache warm before the booking.
    other, _ = make_app()
    _, other_slots = _form(other)
    _, again = _form(client)
    assert slots[0] not in again
    assert slots[0] not in other_slots
    # The slot went because of the database's hold, not because the cache was re-read.
    assert parts.availability.cache.reads == reads


def test_the_team_page_and_an_unknown_rep(make_app: AppFactory) -> None:
    client, _ = make_app()
    team = client.get("/book")
    assert team.status_code == 200
    assert "<title>Book a call with Ourco</title>" in team.text
    assert SLOT_RE.findall(team.text)
    missing = client.get("/book/nobody")
    assert missing.status_code == 404
    assert NOT_FOUND_TITLE in missing.text
    assert _post(client, "/book/nobody", token="x").status_code == 404


def test_the_team_page_books_a_free_rep(make_app: AppFactory) -> None:
    client, _ = make_app()
    token, slots = _form(client, "/book", tz="Europe/Berlin")
    response = _post(client, "/book", token=token, slot=slots[0], tz="Europe/Berlin", **CLIENT)
    done = client.get(response.headers["location"])
    assert "You're booked" in _text(done)
    assert " CET" in _text(done)


def test_weeks_beyond_the_horizon_and_an_unreadable_calendar(make_app: AppFactory) -> None:
    client, _ = make_app()
    # Now is 23 November and the horizon 21 days: the last bookable week starts 14 December.
    far = client.get("/book/alice", params={"week": "2027-06-07"})
    assert far.status_code == 200
    assert "Week of 14 December" in far.text
    assert re.search(r'id="next-week" href="[^"]*" hidden', far.text)
    # Dmitri's sandbox calendar refuses access: nothing can be vouched for, and it says so.
    dmitri = client.get("/book/dmitri")
    assert dmitri.status_code == 200
    assert NO_SLOTS_THIS_WEEK in dmitri.text
    assert "Some times may be missing right now." in dmitri.text


def test_bad_page_parameters_are_shown_beside_their_field(make_app: AppFactory) -> None:
    client, _ = make_app()
    page = client.get("/book/alice", params={"tz": "Mars/Olympus", "duration": "17"})
    assert page.status_code == 422
    assert FIELD_MESSAGES["tz"] in page.text
    assert FIELD_MESSAGES["duration"] in page.text


def test_api_slots(make_app: AppFactory) -> None:
    client, _ = make_app()
    response = client.get(
        "/api/slots",
        params={"rep": "alice", "from": "2026-11-24", "days": "1", "tz": "America/Phoenix"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "America/Phoenix"
    assert body["duration_minutes"] == 30
    first = body["slots"][0]
    # Alice opens at 09:00 New York = 14:00 UTC = 07:00 Phoenix.
    assert first == {
        "start": "2026-11-24T14:00:00Z",
        "end": "2026-11-24T14:30:00Z",
        "local": "2026-11-24T07:00:00-07:00",
        "label": "7:00 AM MST",
    }
    assert all(slot["local"].startswith("2026-11-24") for slot in body["slots"])
    for params, field in (
        ({"tz": "Nowhere/Else"}, "tz"),
        ({"days": "32"}, "days"),
        ({"days": "0"}, "days"),
        ({"from": "tomorrow"}, "from"),
        ({"duration": "60"}, "duration"),
        ({"rep": "nobody"}, "rep"),
    ):
        bad = client.get("/api/slots", params=params)
        assert bad.status_code == 422, params
        assert bad.json()["error"] == "validation_failed"
        assert bad.json()["errors"][0]["field"] == field


def test_headers_csp_and_cors(make_app: AppFactory) -> None:
    client, parts = make_app()
    origin = parts.config.booking_page.embed_origins[0]
    page = client.get("/book")
    csp = page.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {' '.join(parts.config.booking_page.embed_origins)}" in csp
    allowed = client.get("/api/slots", headers={"Origin": origin})
    assert allowed.headers["access-control-allow-origin"] == origin
    other = client.get("/api/slots", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert client.get("/embed.js").headers["content-type"].startswith("text/javascript")
    css = client.get("/book/static/book.css")
    assert css.status_code == 200
    assert client.get("/book/static/nope.css").status_code == 404


def test_with_no_free_time_left_this_week_the_page_opens_on_the_next(
    make_app: AppFactory, clock: FixedClock
) -> None:
    client, _ = make_app()
    clock.now = clock.now.replace(day=27, hour=23)  # Friday 18:00 in New York: week over
    page = client.get("/book/alice")
    assert "Week of 30 November" in page.text
    assert SLOT_RE.findall(page.text)[0] == "2026-11-30T14:00:00Z"  # Monday 09:00 EST
    asked = client.get("/book/alice", params={"week": "2026-11-27"})
    assert NO_SLOTS_THIS_WEEK in asked.text  # a week asked for is the week shown


def test_a_post_that_is_not_a_form_is_refused_plainly(make_app: AppFactory) -> None:
    client, _ = make_app()
    response = client.post("/book", json={"token": "x"})
    assert response.status_code == 415
    assert "Nothing was booked" in response.text
    schema = client.get("/openapi.json").json()
    assert "/api/slots" in schema["paths"]
    assert "/book" not in schema["paths"]


def test_slot_reads_over_the_limit_are_told_when_to_retry(make_app: AppFactory) -> None:
    client, parts = make_app()
    parts.rate_limits = ClientRateLimits(
        "memory://", {BOOK_POSTS: "10/minute", SLOT_READS: "2/minute"}
    )
    origin = parts.config.booking_page.embed_origins[0]
    for _ in range(2):
        assert client.get("/api/slots").status_code == 200
    refused = client.get("/api/slots", headers={"Origin": origin})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"] == "rate_limited"
    assert refused.headers["access-control-allow-origin"] == origin  # readable by the embed
