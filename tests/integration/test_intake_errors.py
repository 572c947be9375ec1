"""Every error row of SPEC §3.1 against the real HTTP app: a clear 4xx, never a 500, never a
stack trace, and nothing stored for a rejected request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.components import Components
from bot.domain.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_headers
from tests.conftest import WEBHOOK_SECRET, post_signed
from tests.integration.doubles import quiet, stored_requests

# Intake validation does not depend on the database engine; idempotency and recovery
# tests cover both engines.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

VALID: dict[str, Any] = {
    "submission_id": "form-1",
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
MISSING = object()
KIB = 1024


@pytest.fixture
def api(make_app) -> Iterator[tuple[TestClient, Components]]:
    client, components = make_app()
    yield quiet(client), components


def payload(**changes: Any) -> dict[str, Any]:
    data = dict(VALID)
    for field, value in changes.items():
        if value is MISSING:
            data.pop(field, None)
        else:
            data[field] = value
    return data


def assert_rejected(response: Any, status: int, error: str, components: Components) -> None:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    body = response.json()
    assert body["error"] == error
    assert stored_requests(components) == 0


def post_raw(client: TestClient, body: Any, headers: dict[str, str]) -> Any:
    return client.post("/webhooks/booking", content=body, headers=headers)


# -- 401 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "drop", [(TIMESTAMP_HEADER, SIGNATURE_HEADER), (TIMESTAMP_HEADER,), (SIGNATURE_HEADER,)]
)
def test_missing_signature_headers_401(api, drop):
    client, components = api
    body = b'{"name": "Dana"}'
    headers = {**signed_headers(WEBHOOK_SECRET, body), "Content-Type": "application/json"}
    for name in drop:
        del headers[name]
    assert_rejected(post_raw(client, body, headers), 401, "invalid_signature", components)


def test_signature_with_wrong_secret_401(api):
    client, components = api
    response = post_signed(client, VALID, secret="not-the-secret")
    assert_rejected(response, 401, "invalid_signature", components)


def test_signature_over_a_different_body_401(api):
    client, components = api
    signed_body = b'{"name": "Dana"}'
    headers = {**signed_headers(WEBHOOK_SECRET, signed_body), "Content-Type": "application/json"}
    response = post_raw(client, b'{"name": "Mallory"}', headers)
    assert_rejected(response, 401, "invalid_signature", components)


@pytest.mark.parametrize("skew", [-305, -3600, 305, 3600], ids=["old", "old_1h", "future", "1h"])
def test_stale_or_future_timestamp_401(api, skew):
    client, components = api
    response = post_signed(client, VALID, timestamp=time.time() + skew)
    assert_rejected(response, 401, "invalid_signature", components)
    assert "300 seconds" in response.json()["message"]


@pytest.mark.parametrize("skew", [-240, 240])
def test_timestamp_within_tolerance_is_accepted(api, skew):
    client, _ = api
    response = post_signed(client, VALID, timestamp=time.time() + skew)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("timestamp", ["yesterday", "1.7e9", "", "0x65f"])
def test_non_numeric_timestamp_401(api, timestamp):
    client, components = api
    body = b'{"name": "Dana"}'
    headers = {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(WEBHOOK_SECRET, timestamp, body),
        "Content-Type": "application/json",
    }
    assert_rejected(post_raw(client, body, headers), 401, "invalid_signature", components)


def test_non_ascii_signature_401(api):
    client, components = api
    body = b'{"name": "Dana"}'
    headers: dict[str, Any] = {
        **signed_headers(WEBHOOK_SECRET, body),
        "Content-Type": "application/json",
    }
    headers[SIGNATURE_HEADER] = "v0=caf\xe9".encode("latin-1")
    assert_rejected(post_raw(client, body, headers), 401, "invalid_signature", components)


# -- 415 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=xyz", "application/xml", "application/jsonx"],
)
def test_unsupported_content_type_415(api, content_type):
    client, components = api
    body = b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nDana\r\n--xyz--\r\n'
    response = post_signed(client, body, content_type=content_type)
    assert_rejected(response, 415, "unsupported_media_type", components)


def test_missing_content_type_415(api):
    client, components = api
    body = b'{"name": "Dana"}'
    headers = signed_headers(WEBHOOK_SECRET, body)
    assert_rejected(post_raw(client, body, headers), 415, "unsupported_media_type", components)


def test_json_content_type_with_charset_is_accepted(api):
    client, _ = api
    response = post_signed(client, VALID, content_type="Application/JSON; charset=utf-8")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "booked_auto"


# -- 400 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"name": "Dana", ', "application/json"),
        (b"", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'["name", "Dana"]', "application/json"),
        (b'"just a string"', "application/json"),
        (b"null", "application/json"),
        (b'{"name": "Dan\xff\xfea"}', "application/json"),
        (b"name=Dan\xffa&email=x%40y.example", "application/x-www-form-urlencoded"),
        (b"name=Dana&&email", "application/x-www-form-urlencoded"),
        (b"name=Dana&timezone", "application/x-www-form-urlencoded"),
    ],
    ids=[
        "truncated_json",
        "empty_json",
        "json_array",
        "json_array_of_pairs",
        "json_string",
        "json_null",
        "json_not_utf8",
        "form_not_utf8",
        "form_empty_field",
        "form_field_without_value",
    ],
)
def test_body_that_does_not_parse_400(api, body, content_type):
    client, components = api
    response = post_signed(client, body, content_type=content_type)
    assert_rejected(response, 400, "malformed_body", components)


def test_deeply_nested_json_400(api):
    client, components = api
    response = post_signed(client, b"[" * 30_000 + b"]" * 30_000)
    assert_rejected(response, 400, "malformed_body", components)


# -- 413 ------------------------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A valid JSON request of exactly `size` bytes (padding goes in an ignored field)."""
    base = payload(padding="")
    without = len(json.dumps(base).encode())
    body = json.dumps(payload(padding="x" * (size - without))).encode()
    assert len(body) == size
    return body


def test_body_over_64_kib_with_content_length_413(api):
    client, components = api
    response = post_signed(client, padded(64 * KIB + 1))
    assert_rejected(response, 413, "payload_too_large", components)


def test_body_of_exactly_64_kib_is_accepted(api):
    client, _ = api
    response = post_signed(client, padded(64 * KIB))
    assert response.status_code == 200, response.text


def test_streamed_body_over_64_kib_413(api):
    client, components = api
    chunk = b"x" * KIB

    def chunks() -> Iterator[bytes]:
        yield from (chunk for _ in range(80))

    headers = {
        **signed_headers(WEBHOOK_SECRET, chunk * 80),
        "Content-Type": "application/json",
    }
    response = post_raw(client, chunks(), headers)
    assert_rejected(response, 413, "payload_too_large", components)


def test_body_bigger_than_its_declared_length_413(api):
    client, components = api
    body = b"x" * (80 * KIB)
    headers = {
        **signed_headers(WEBHOOK_SECRET, body),
        "Content-Type": "application/json",
        "Content-Length": "10",
    }
    chunks = iter([body[i : i + KIB] for i in range(0, len(body), KIB)])
    response = post_raw(client, chunks, headers)
    assert_rejected(response, 413, "payload_too_large", components)


# -- 422 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "needle"),
    [
        ({"name": MISSING}, "name", "required"),
        ({"name": "   "}, "name", ""),
        ({"email": MISSING}, "email", "required"),
        ({"timezone": MISSING}, "timezone", "required"),
        ({"email": "dana-at-northwind.example"}, "email", "email"),
        ({"email": "dana@"}, "email", "email"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "IANA"),
        ({"timezone": "EST5EDT/../UTC"}, "timezone", "IANA"),
        ({"phone": "602-555-0143"}, "phone", "E.164"),
        ({"phone": "+0123456789"}, "phone", "E.164"),
        ({"duration_minutes": 4}, "duration_minutes", ""),
        ({"duration_minutes": 481}, "duration_minutes", ""),
        ({"duration_minutes": "half an hour"}, "duration_minutes", ""),
        ({"rep": "zoe@ourco.example"}, "rep", "configured reps"),
        ({"requested_start": "next Tuesday at 2"}, "requested_start", "ISO 8601"),
        ({"requested_start": "2026-12-01 2pm"}, "requested_start", "ISO 8601"),
        # the clock says 2026-11-23T15:00Z, 08:00 in Phoenix
        ({"requested_start": "2026-11-23T07:00:00-07:00"}, "requested_start", "past"),
        ({"requested_start": "2026-11-23T07:00:00"}, "requested_start", "past"),
        (
            {"timezone": "America/New_York", "requested_start": "2027-03-14T02:30:00"},
            "requested_start",
            "does not exist",
        ),
        (
            {"timezone": "America/New_York", "requested_start": "2027-11-07T01:30:00"},
            "requested_start",
            "twice",
        ),
        (
            {"timezone": "America/Phoenix", "requested_start": "2026-12-01T14:00:00-06:00"},
            "requested_start",
            "does not match",
        ),
        (
            {"timezone": "America/New_York", "requested_start": "2026-12-01T14:00:00-04:00"},
            "requested_start",
            "does not match",
        ),
        ({"sms_opt_in": "perhaps"}, "sms_opt_in", ""),
        ({"notes": "x" * 5001}, "notes", ""),
    ],
    ids=[
        "missing_name",
        "blank_name",
        "missing_email",
        "missing_timezone",
        "email_without_at",
        "email_without_domain",
        "unknown_timezone",
        "timezone_path_trick",
        "phone_not_e164",
        "phone_leading_zero",
        "duration_too_short",
        "duration_too_long",
        "duration_not_a_number",
        "unknown_rep",
        "start_not_iso",
        "start_not_iso_2",
        "start_in_past",
        "start_in_past_naive",
        "start_in_spring_forward_gap",
        "start_ambiguous_fall_back",
        "offset_not_zone_offset",
        "offset_is_summer_offset_in_winter",
        "sms_opt_in_not_bool",
        "notes_too_long",
    ],
)
def test_invalid_field_422(api, changes, field, needle):
    client, components = api
    response = post_signed(client, payload(**changes))
    assert_rejected(response, 422, "validation_failed", components)
    errors = response.json()["errors"]
    assert [error["field"] for error in errors] == [field]
    assert isinstance(errors[0]["message"], str) and errors[0]["message"]
    assert needle in errors[0]["message"]


def test_several_errors_are_listed_together(api):
    client, components = api
    response = post_signed(
        client,
        payload(
            email="not-an-email",
            phone="12345",
            timezone="Nowhere/Special",
            rep="nobody@ourco.example",
        ),
    )
    assert_rejected(response, 422, "validation_failed", components)
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"email", "phone", "timezone", "rep"}


def test_several_missing_fields_are_listed_together(api):
    client, components = api
    response = post_signed(client, {"submission_id": "empty", "notes": "hello"})
    assert_rejected(response, 422, "validation_failed", components)
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"name", "email", "timezone"}
    assert all(error["message"] == "is required" for error in response.json()["errors"])


def test_shape_and_semantic_errors_are_listed_together(api):
    client, components = api
    response = post_signed(
        client, payload(name=MISSING, duration_minutes=2, email="not-an-email", phone="12345")
    )
    assert_rejected(response, 422, "validation_failed", components)
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"name", "duration_minutes", "email", "phone"}


@pytest.mark.parametrize(
    ("timezone", "start"),
    [
        ("America/New_York", "9999-12-31T23:00:00"),
        ("America/New_York", "9999-12-31T23:59:59-12:00"),
        ("Pacific/Kiritimati", "0001-01-01T00:00:00+14:00"),
    ],
)
def test_start_at_the_edge_of_the_calendar_422(api, timezone, start):
    client, components = api
    response = post_signed(client, payload(timezone=timezone, requested_start=start))
    assert_rejected(response, 422, "validation_failed", components)
    assert [error["field"] for error in response.json()["errors"]] == ["requested_start"]


def test_over_long_timezone_422(api):
    client, components = api
    response = post_signed(client, payload(timezone="A" * 300))
    assert_rejected(response, 422, "validation_failed", components)
    assert [error["field"] for error in response.json()["errors"]] == ["timezone"]


def test_rejected_submission_id_can_be_sent_again_fixed(api):
    client, components = api
    rejected = post_signed(client, payload(email="not-an-email"))
    assert_rejected(rejected, 422, "validation_failed", components)
    accepted = post_signed(client, VALID)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "booked_auto"
    assert "Idempotent-Replay" not in accepted.headers
    assert stored_requests(components) == 1


# -- form-encoded ---------------------------------------------------------------------------


def test_form_encoded_request_is_accepted(api):
    client, components = api
    body = (
        "submission_id=html-form-7&name=Dana+Reyes&email=dana%40northwind.example"
        "&phone=%2B16025550143&sms_opt_in=on&company=&rep="
        "&notes=Intro+call%2C+nothing+special&timezone=America%2FPhoenix"
        "&requested_start=2026-12-01T14%3A00%3A00&duration_minutes=45"
    )
    response = post_signed(client, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["status"] == "booked_auto"
    assert result["booking"]["start"] == "2026-12-01T21:00:00Z"
    assert result["booking"]["end"] == "2026-12-01T21:45:00Z"
    stored = components.requests.get(result["request_id"])
    assert stored is not None
    assert stored.sms_opt_in is True
    assert stored.duration_minutes == 45
    assert stored.phone == "+16025550143"
    assert stored.company is None
    assert stored.rep_email is None
    assert stored.notes == "Intro call, nothing special"
    assert stored.idempotency_key == "key:html-form-7"


def test_form_encoded_validation_errors_422(api):
    client, components = api
    body = "name=Dana&email=nope&timezone=Nowhere%2FSpecial&phone=12"
    response = post_signed(client, body, content_type="application/x-www-form-urlencoded")
    assert_rejected(response, 422, "validation_failed", components)
    assert {error["field"] for error in response.json()["errors"]} == {"email", "timezone", "phone"}
