"""Validation of an intake form into a request the pipeline can trust.

Shape and types come from a pydantic model (also published in the OpenAPI document);
the checks that need the config, the clock or two fields at once follow it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from bot.config import Config
from bot.phone import PhoneError, to_e164

MAX_START_AHEAD = timedelta(days=366)


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


BlankIsNone = BeforeValidator(_blank_to_none)
Stripped = BeforeValidator(_strip)


class IntakeForm(BaseModel):
    """The booking form (SPEC §3.1); JSON and form-encoded bodies share these names."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    submission_id: Annotated[str | None, BlankIsNone] = Field(
        default=None, max_length=200, description="Idempotency key of the submission"
    )
    name: Annotated[str, Stripped] = Field(min_length=1, max_length=200)
    email: Annotated[str, Stripped] = Field(min_length=3, max_length=320)
    phone: Annotated[str | None, BlankIsNone] = Field(
        default=None, description="Any common written form with the country code; stored as E.164"
    )
    sms_opt_in: Annotated[bool, BeforeValidator(lambda v: False if v in ("", None) else v)] = False
    company: Annotated[str | None, BlankIsNone] = Field(default=None, max_length=200)
    notes: Annotated[str, BeforeValidator(lambda v: "" if v is None else v)] = Field(
        default="", max_length=5000
    )
    timezone: Annotated[str, Stripped] = Field(min_length=1, description="Client's IANA zone")
    requested_start: Annotated[str | None, BlankIsNone] = Field(
        default=None, description="ISO 8601 with an offset, or local time in `timezone`"
    )
    duration_minutes: Annotated[int | None, BlankIsNone] = Field(default=None, ge=5, le=480)
    rep: Annotated[str | None, BlankIsNone] = Field(default=None, description="A rep's email")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class IntakeValidationError(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class ValidRequest:
    submission_id: str | None
    name: str
    email: str
    phone: str | None
    sms_opt_in: bool
    company: str | None
    notes: str
    timezone: str
    requested_start: datetime | None  # aware, UTC
    duration_minutes: int
    rep: str | None


def _pydantic_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "body"
        message = "is required" if error["type"] == "missing" else error["msg"]
        errors.append(FieldError(field, message))
    return errors


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta()).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_start(text: str, zone: ZoneInfo) -> datetime:
    """Resolve the requested start to a UTC instant, refusing times the zone never shows.

    A naive local time must exist and be unambiguous in the zone. A time with an offset
    must carry the offset the zone really has then (which is how an offset settles the
    repeated hour of a fall-back, and how a time inside a spring-forward gap is caught);
    a UTC time ("Z" or +00:00) is an unambiguous instant and always accepted.
    """
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date-time") from None
    try:
        return _resolve(parsed, zone)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the range of supported dates") from None


def _resolve(parsed: datetime, zone: ZoneInfo) -> datetime:
    if parsed.tzinfo is not None:
        if parsed.utcoffset() == timedelta(0):
            return parsed.astimezone(UTC)
        local = parsed.astimezone(zone)
        if local.utcoffset() != parsed.utcoffset():
            wall = parsed.replace(tzinfo=None)
            if _wall_time_exists(wall, zone):
                raise ValueError(
                    f"offset {_offset(parsed.utcoffset())} does not match {zone.key} on "
                    f"{wall:%Y-%m-%d} (it is {_offset(local.utcoffset())} there)"
                )
            raise ValueError(_gap_message(wall, zone))
        return parsed.astimezone(UTC)
    if not _wall_time_exists(parsed, zone):
        raise ValueError(_gap_message(parsed, zone))
    first = parsed.replace(tzinfo=zone, fold=0)
    second = parsed.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        raise ValueError(
            f"{parsed:%Y-%m-%d %H:%M} happens twice in {zone.key} (clocks fall back); add the "
            f"offset: {_offset(first.utcoffset())} or {_offset(second.utcoffset())}"
        )
    return first.astimezone(UTC)


def _wall_time_exists(wall: datetime, zone: ZoneInfo) -> bool:
    roundtrip = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return roundtrip.replace(tzinfo=None) == wall


def _gap_message(wall: datetime, zone: ZoneInfo) -> str:
    return (
        f"{wall:%Y-%m-%d %H:%M} does not exist in {zone.key} "
        "(clocks spring forward over it); pick another time"
    )


def _text(form: IntakeForm | None, payload: Mapping[str, Any], name: str) -> str | None:
    """A field's value for the checks below, also when the shape check failed elsewhere."""
    if form is not None:
        value = getattr(form, name)
    else:
        value = payload.get(name)
        value = value.strip() or None if isinstance(value, str) else None
    return value if isinstance(value, str) else None


def validate_request(payload: Mapping[str, Any], config: Config, now: datetime) -> ValidRequest:
    """Validate a parsed body; raise IntakeValidationError listing every bad field."""
    form: IntakeForm | None = None
    try:
        form = IntakeForm.model_validate(payload)
        errors: list[FieldError] = []
    except ValidationError as exc:
        errors = _pydantic_errors(exc)
    bad = {error.field for error in errors}

    def check(name: str) -> str | None:
        return None if name in bad else _text(form, payload, name)

    email = check("email")
    if email is not None:
        try:
            checked = validate_email(email, check_deliverability=False)
            email = f"{checked.local_part}@{checked.domain.lower()}"
        except EmailNotValidError as exc:
            errors.append(FieldError("email", f"is not a valid email address: {exc}"))

    phone = check("phone")
    if phone is not None:
        try:
            phone = to_e164(phone)
        except PhoneError as exc:
            errors.append(FieldError("phone", str(exc)))

    zone: ZoneInfo | None = None
    zone_name = check("timezone")
    if zone_name is not None:
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            errors.append(FieldError("timezone", f"{zone_name[:100]!r} is not an IANA time zone"))

    start: datetime | None = None
    start_text = check("requested_start")
    if start_text is not None and zone is not None:
        try:
            start = parse_start(start_text, zone)
        except ValueError as exc:
            errors.append(FieldError("requested_start", str(exc)))
        else:
            if start <= now:
                errors.append(FieldError("requested_start", "is in the past"))
            elif start > now + MAX_START_AHEAD:
                errors.append(FieldError("requested_start", "is more than a year ahead"))

    rep = check("rep")
    if rep is not None and config.rep(rep) is None:
        errors.append(FieldError("rep", f"{rep[:320]!r} is not one of the configured reps"))

    if errors or form is None:
        raise IntakeValidationError(errors)
    return ValidRequest(
        submission_id=form.submission_id,
        name=form.name,
        email=email or form.email,
        phone=phone,
        sms_opt_in=form.sms_opt_in,
        company=form.company,
        notes=form.notes,
        timezone=form.timezone,
        requested_start=start,
        duration_minutes=form.duration_minutes or config.booking.default_duration_minutes,
        rep=rep.lower() if rep else None,
    )
