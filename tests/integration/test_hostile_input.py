"""Input a hostile or careless client sends (issue: hardening): text no database stores,
Unicode look-alikes, other scripts' digits, phone numbers in written forms. Every one gets
a 422 naming the field, or is accepted and stored normalised, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from bot.components import Components
from tests.conftest import post_signed
from tests.integration.doubles import quiet, stored_requests

FORM = "application/x-www-form-urlencoded"
VALID: dict[str, Any] = {
    "submission_id": "hostile-1",
    "name": "Dana Reyes",
    "email": "dana@northwind.example",
    "phone": "+16025550143",
    "sms_opt_in": True,
    "company": "Northwind",
    "notes": "Intro call",
    "timezone": "America/Phoenix",
    "requested_start": "2026-12-01T14:00:00-07:00",
    "duration_minutes": 30,
}


@pytest.fixture
def api(make_app) -> Iterator[tuple[TestClient, Components]]:
    client, components = make_app()
    yield quiet(client), components


def _fields(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    return {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize("field", ["name", "notes", "company", "submission_id", "email"])
def test_nul_in_a_text_field_is_422_naming_it_on_every_database(api, field):
    client, components = api
    response = post_signed(client, {**VALID, field: "Dana\x00Reyes"})
    assert _fields(response) == {field}
    assert "NUL" in response.json()["errors"][0]["message"]
    assert stored_requests(components) == 0


def test_nul_in_a_form_post_is_422(api):
    client, components = api
    body = urlencode({**VALID, "sms_opt_in": "on", "duration_minutes": "30"})
    response = post_signed(client, body.replace("Intro", "In%00tro"), content_type=FORM)
    assert _fields(response) == {"notes"}
    assert stored_requests(components) == 0


@pytest.mark.parametrize("field", ["submission_id", "name", "notes"])
def test_lone_surrogate_is_422_not_503(api, field):
    client, components = api
    body = json.dumps({**VALID, field: "form-\ud800"})  # ensure_ascii: the "\ud800" escape
    response = post_signed(client, body)
    assert _fields(response) == {field}
    assert stored_requests(components) == 0


@pytest.mark.parametrize("notes", ["team of \u017fix", "team of \u017feven", "party of f\u0131ve"])
def test_look_alike_number_words_are_booked_not_503(api, notes):
    client, _ = api
    response = post_signed(client, {**VALID, "notes": notes})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "booked_auto"


def test_a_phone_in_a_common_written_form_is_stored_as_e164(api):
    client, components = api
    response = post_signed(client, {**VALID, "phone": "+1 (602) 555-0143"})
    assert response.status_code == 200, response.text
    stored = components.requests.get(response.json()["request_id"])
    assert stored is not None
    assert stored.phone == "+16025550143"


@pytest.mark.parametrize(
    "phone",
    [
        "+1\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660",  # Arabic-Indic
        "+1\uff16\uff10\uff12\uff15\uff15\uff15\uff10\uff11\uff14\uff13",  # full-width digits
        "+10000000000",  # no such area code
        "+1 555 0143",  # too short for its country
        "+999 1234567",  # no such country code
        "+16025550143\x00",
    ],
)
def test_an_impossible_phone_is_422_on_phone(api, phone):
    client, components = api
    response = post_signed(client, {**VALID, "phone": phone})
    assert _fields(response) == {"phone"}
    assert stored_requests(components) == 0
