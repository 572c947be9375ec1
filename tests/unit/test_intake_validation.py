"""Intake validation (SPEC §3.1): start times in every kind of zone, and field clean-up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.config import Config
from bot.domain.intake import IntakeValidationError, parse_start, validate_request

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _form(**overrides: Any) -> dict[str, Any]:
    return {
        "submission_id": "form-1",
        "name": "Dana Reyes",
        "email": "dana@example.org",
        "timezone": "America/Phoenix",
        "requested_start": "2026-12-01T14:00:00-07:00",
        **overrides,
    }


def _errors(payload: dict[str, Any], config: Config, now: datetime = NOW) -> dict[str, str]:
    with pytest.raises(IntakeValidationError) as info:
        validate_request(payload, config, now)
    return {error.field: error.message for error in info.value.errors}


# parse_start ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        # A naive time is local to the client's zone.
        ("2026-12-01T14:00:00", "America/New_York", _utc(2026, 12, 1, 19)),
        ("2026-07-01T14:00:00", "America/New_York", _utc(2026, 7, 1, 18)),
        # An offset that matches the zone is taken as given.
        ("2026-12-01T14:00:00-05:00", "America/New_York", _utc(2026, 12, 1, 19)),
        ("2026-07-01T14:00:00-04:00", "America/New_York", _utc(2026, 7, 1, 18)),
        ("2026-12-01T14:00:00+00:00", "UTC", _utc(2026, 12, 1, 14)),
        # A UTC instant ("Z", as many form tools send) is unambiguous in any zone, even
        # when its UTC wall time falls in the zone's spring-forward gap.
        ("2026-12-01T21:00:00Z", "America/Phoenix", _utc(2026, 12, 1, 21)),
        ("2027-03-28T02:30:00+00:00", "Europe/Berlin", _utc(2027, 3, 28, 2, 30)),
        # Arizona keeps MST (-07:00) all year.
        ("2026-01-15T14:00:00", "America/Phoenix", _utc(2026, 1, 15, 21)),
        ("2026-07-15T14:00:00", "America/Phoenix", _utc(2026, 7, 15, 21)),
        ("2026-07-15T14:00:00-07:00", "America/Phoenix", _utc(2026, 7, 15, 21)),
        # India: a half-hour offset, no DST.
        ("2026-12-01T10:00:00", "Asia/Kolkata", _utc(2026, 12, 1, 4, 30)),
        ("2026-06-01T10:00:00+05:30", "Asia/Kolkata", _utc(2026, 6, 1, 4, 30)),
        # Southern hemisphere: summer (AEDT, +11) in January, winter (AEST, +10) in July.
        ("2027-01-15T10:00:00", "Australia/Sydney", _utc(2027, 1, 14, 23)),
        ("2026-07-15T10:00:00", "Australia/Sydney", _utc(2026, 7, 15, 0)),
        # Either side of the Berlin spring-forward.
        ("2027-03-27T10:00:00", "Europe/Berlin", _utc(2027, 3, 27, 9)),
        ("2027-03-29T10:00:00", "Europe/Berlin", _utc(2027, 3, 29, 8)),
    ],
)
def test_parse_start_resolves_to_utc(text: str, zone: str, expected: datetime) -> None:
    result = parse_start(text, ZoneInfo(zone))
    assert result == expected
    assert result.utcoffset() is not None and result.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("2027-03-14T02:30:00", "America/New_York"),  # US spring-forward
        ("2027-03-28T02:30:00", "Europe/Berlin"),  # EU spring-forward
        ("2026-10-04T02:30:00", "Australia/Sydney"),  # first Sunday in October
        ("2027-03-14T02:30:00-05:00", "America/New_York"),  # offset doesn't rescue it
    ],
)
def test_spring_forward_gap_is_refused(text: str, zone: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_start(text, ZoneInfo(zone))
    message = str(info.value)
    assert "does not exist" in message
    assert zone in message
    assert text[:10] in message and "02:30" in message


def test_sydney_gap_edges_exist() -> None:
    # 01:59 AEST is the last minute before the gap and 03:00 AEDT the first after it.
    zone = ZoneInfo("Australia/Sydney")
    assert parse_start("2026-10-04T01:59:00", zone) == _utc(2026, 10, 3, 15, 59)
    assert parse_start("2026-10-04T03:00:00", zone) == _utc(2026, 10, 3, 16, 0)


@pytest.mark.parametrize(
    ("text", "zone", "offsets"),
    [
        ("2026-11-01T01:30:00", "America/New_York", ("-04:00", "-05:00")),
        ("2026-10-25T02:30:00", "Europe/Berlin", ("+02:00", "+01:00")),
        ("2026-04-05T02:30:00", "Australia/Sydney", ("+11:00", "+10:00")),
    ],
)
def test_fall_back_hour_is_ambiguous_without_offset(
    text: str, zone: str, offsets: tuple[str, str]
) -> None:
    with pytest.raises(ValueError) as info:
        parse_start(text, ZoneInfo(zone))
    message = str(info.value)
    assert "happens twice" in message
    assert offsets[0] in message and offsets[1] in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01T01:30:00-04:00", _utc(2026, 11, 1, 5, 30)),  # first 01:30 (EDT)
        ("2026-11-01T01:30:00-05:00", _utc(2026, 11, 1, 6, 30)),  # second 01:30 (EST)
    ],
)
def test_fall_back_hour_resolved_by_offset(text: str, expected: datetime) -> None:
    assert parse_start(text, ZoneInfo("America/New_York")) == expected


@pytest.mark.parametrize(
    ("text", "zone", "given", "actual"),
    [
        ("2026-07-01T14:00:00-06:00", "America/Phoenix", "-06:00", "-07:00"),
        ("2026-12-01T14:00:00-04:00", "America/New_York", "-04:00", "-05:00"),
        ("2026-12-01T10:00:00+05:00", "Asia/Kolkata", "+05:00", "+05:30"),
        ("2026-11-01T01:30:00-07:00", "America/New_York", "-07:00", "-05:00"),
    ],
)
def test_offset_mismatch_message(text: str, zone: str, given: str, actual: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_start(text, ZoneInfo(zone))
    message = str(info.value)
    assert f"offset {given} does not match {zone}" in message
    assert f"it is {actual} there" in message


def test_not_iso_is_refused() -> None:
    with pytest.raises(ValueError, match="is not an ISO 8601 date-time"):
        parse_start("next tuesday at 3", ZoneInfo("UTC"))


# validate_request ------------------------------------------------------------------------


def test_valid_request_is_normalised(example_config: Config) -> None:
    request = validate_request(
        _form(
            email="  Dana.Reyes@MajorClient.COM ",
            rep="ALICE@OurCo.Example",
            phone="+16025550143",
            sms_opt_in=True,
        ),
        example_config,
        NOW,
    )
    assert request.email == "Dana.Reyes@majorclient.com"
    assert request.rep == "alice@ourco.example"
    assert request.requested_start == _utc(2026, 12, 1, 21)
    assert request.phone == "+16025550143"
    assert request.sms_opt_in is True


def test_blank_form_strings_become_none(example_config: Config) -> None:
    request = validate_request(
        _form(
            submission_id="",
            phone="   ",
            company="",
            requested_start=" ",
            duration_minutes="",
            rep="",
            notes=None,
        ),
        example_config,
        NOW,
    )
    assert request.submission_id is None
    assert request.phone is None
    assert request.company is None
    assert request.requested_start is None
    assert request.rep is None
    assert request.notes == ""
    assert request.duration_minutes == example_config.booking.default_duration_minutes


def test_html_checkbox_value_is_accepted(example_config: Config) -> None:
    assert validate_request(_form(sms_opt_in="on"), example_config, NOW).sms_opt_in is True


def test_blank_sms_opt_in_means_not_opted_in(example_config: Config) -> None:
    assert validate_request(_form(sms_opt_in=""), example_config, NOW).sms_opt_in is False


def test_default_duration_comes_from_config(example_config: Config) -> None:
    longer = example_config.model_copy(
        update={
            "booking": example_config.booking.model_copy(update={"default_duration_minutes": 45})
        }
    )
    assert validate_request(_form(), longer, NOW).duration_minutes == 45
    assert validate_request(_form(duration_minutes=60), longer, NOW).duration_minutes == 60


def test_unknown_rep_refused(example_config: Config) -> None:
    errors = _errors(_form(rep="zed@ourco.example"), example_config)
    assert "is not one of the configured reps" in errors["rep"]


def test_gap_time_is_a_field_error(example_config: Config) -> None:
    errors = _errors(
        _form(timezone="America/New_York", requested_start="2027-03-14T02:30:00"), example_config
    )
    assert set(errors) == {"requested_start"}
    assert "does not exist in America/New_York" in errors["requested_start"]


def test_start_in_the_past_and_too_far_ahead(example_config: Config) -> None:
    past = _errors(_form(requested_start="2026-08-31T14:00:00-07:00"), example_config)
    assert past["requested_start"] == "is in the past"
    far = _errors(_form(requested_start="2027-12-01T14:00:00-07:00"), example_config)
    assert far["requested_start"] == "is more than a year ahead"


def test_every_bad_field_is_reported(example_config: Config) -> None:
    errors = _errors(
        _form(email="not-an-email", phone="555-0143", timezone="Mars/Olympus"), example_config
    )
    assert set(errors) == {"email", "phone", "timezone"}
    assert "'Mars/Olympus' is not an IANA time zone" in errors["timezone"]
    assert "E.164" in errors["phone"]


def test_missing_required_fields(example_config: Config) -> None:
    errors = _errors({"notes": "hello"}, example_config)
    assert errors == {"name": "is required", "email": "is required", "timezone": "is required"}
