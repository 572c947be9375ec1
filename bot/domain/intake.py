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

from bot.domain.config import Config
from bot.domain.phone import PhoneError, to_e164

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
    # Campaign tags the booking page passes along; the webhook has none.
    utm: dict[str, str] | None = None


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


class _FieldChecks:
    """The checks that need more than a field's own shape, each run only on a field whose
    shape passed; every problem is collected so the sender hears of all of them at once.
    """

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        self.form: IntakeForm | None = None
        try:
            self.form = IntakeForm.model_validate(payload)
            self.errors: list[FieldError] = []
        except ValidationError as exc:
            self.errors = _pydantic_errors(exc)
        self._bad = {error.field for error in self.errors}

    def value(self, name: str) -> str | None:
        return None if name in self._bad else _text(self.form, self.payload, name)

    def fail(self, name: str, message: str) -> None:
        self.errors.append(FieldError(name, message))

    def email(self) -> str | None:
        email = self.value("email")
        if email is None:
            return None
        try:
            checked = validate_email(email, check_deliverability=False)
        except EmailNotValidError as exc:
            self.fail("email", f"is not a valid email address: {exc}")
            return None
        return f"{checked.local_part}@{checked.domain.lower()}"

    def phone(self) -> str | None:
        phone = self.value("phone")
        if phone is None:
            return None
        try:
            return to_e164(phone)
        except PhoneError as exc:
            self.fail("phone", str(exc))
            return None

    def zone(self) -> ZoneInfo | None:
        zone_name = self.value("timezone")
        if zone_name is None:
            return None
        try:
            return ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.fail("timezone", f"{zone_name[:100]!r} is not an IANA time zone")
            return None

    def start(self, zone: ZoneInfo | None, now: datetime) -> datetime | None:
        start_text = self.value("requested_start")
        if start_text is None or zone is None:
            return None
        try:
            start = parse_start(start_text, zone)
        except ValueError as exc:
            self.fail("requested_start", str(exc))
            return None
        if start <= now:
            self.fail("requested_start", "is in the past")
        elif start > now + MAX_START_AHEAD:
            self.fail("requested_start", "is more than a year ahead")
        return start

    def rep(self, config: Config) -> str | None:
        rep = self.value("rep")
        if rep is not None and config.rep(rep) is None:
            self.fail("rep", f"{rep[:320]!r} is not one of the configured reps")
        return rep


def validate_request(payload: Mapping[str, Any], config: Config, now: datetime) -> ValidRequest:
    """Validate a parsed body; raise IntakeValidationError listing every bad field."""
    checks = _FieldChecks(payload)
    email = checks.email()
    phone = checks.phone()
    start = checks.start(checks.zone(), now)
    rep = checks.rep(config)
    form = checks.form
    if checks.errors or form is None:
        raise IntakeValidationError(checks.errors)
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
