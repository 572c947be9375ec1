"""The configuration of SPEC §2 as typed, immutable values the rules read (reps, working
hours, VIP accounts, booking policy). Pure: `bot/config.py` reads and reports the file.
"""

from __future__ import annotations

import re
from datetime import time
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from bot.domain.gate import GateRules

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_SLACK_USER_RE = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_CHANNEL_RE = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_SLACK_GROUP_RE = re.compile(r"^S[A-Z0-9]{2,}$")
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
_ORIGIN_RE = re.compile(r"^https?://[a-z0-9.-]+(?::\d{1,5})?$")
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


def _email(value: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"malformed email {value!r}: {exc}") from exc


def _parse_time(hour: str, minute: str, text: str) -> time:
    h, m = int(hour), int(minute)
    if h == 24 and m == 0:
        return time.max
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ValueError(f"malformed working hours {text!r}: {hour}:{minute} is not a time of day")
    return time(h, m)


def parse_hours(text: str) -> tuple[tuple[time, time], ...]:
    """Parse "09:00-17:00" or "09:00-12:00, 13:00-17:00" into ordered (start, end) pairs."""
    ranges: list[tuple[time, time]] = []
    for part in text.split(","):
        match = _HOURS_RE.match(part)
        if not match:
            raise ValueError(f"malformed working hours {text!r}: expected HH:MM-HH:MM")
        start = _parse_time(match[1], match[2], text)
        end = _parse_time(match[3], match[4], text)
        if end <= start:
            raise ValueError(f"malformed working hours {text!r}: end is not after start")
        if ranges and start < ranges[-1][1]:
            raise ValueError(f"malformed working hours {text!r}: ranges overlap or are unordered")
        ranges.append((start, end))
    return tuple(ranges)


def _slack_user(value: str) -> str:
    if not _SLACK_USER_RE.match(value):
        raise ValueError(f"{value!r} is not a Slack user id (like U0123ABCD)")
    return value


Zone = Annotated[str, AfterValidator(_zone)]
SlackUserId = Annotated[str, AfterValidator(_slack_user)]
Email = Annotated[str, AfterValidator(_email)]


class _Strict(BaseModel):
    # Unknown keys are almost always typos ("escalation_chanel"): refuse them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlackConfig(_Strict):
    escalation_channel: str
    ops_usergroup: str | None = None
    sla_minutes: int = Field(default=15, ge=1)

    @field_validator("escalation_channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _SLACK_CHANNEL_RE.match(value):
            raise ValueError(f"{value!r} is not a Slack channel id (like C0123ABCD)")
        return value

    @field_validator("ops_usergroup")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_GROUP_RE.match(value):
            raise ValueError(f"{value!r} is not a Slack user group id (like S0123ABCD)")
        return value


class GateConfig(_Strict):
    escalation_keywords: tuple[str, ...] = ("group", "urgent", "custom", "reschedule")
    group_size_threshold: int = Field(default=5, ge=2, le=1000)

    @field_validator("escalation_keywords")
    @classmethod
    def _keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(" ".join(k.lower().split()) for k in value)
        for keyword in cleaned:
            if not keyword or not re.fullmatch(r"[\w' -]+", keyword):
                raise ValueError(f"keyword {keyword!r} must be words (letters, digits, spaces)")
        duplicates = sorted({k for k in cleaned if cleaned.count(k) > 1})
        if duplicates:
            raise ValueError(f"keyword listed twice: {', '.join(duplicates)}")
        return cleaned


class VipAccount(_Strict):
    domain: str
    owner_email: Email
    owner_slack_id: SlackUserId | None = None

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        domain = value.strip().lower().rstrip(".")
        if not _DOMAIN_RE.match(domain):
            raise ValueError(f"{value!r} is not a domain name (like majorclient.com)")
        return domain


class Rep(_Strict):
    email: Email
    slack_id: SlackUserId | None = None
    timezone: Zone
    working_hours: dict[str, str]
    provider: Literal["google", "microsoft"]
    booking_calendar: str
    calendars: tuple[str, ...] = ()
    # The booking page's address (/book/<slug>) and the name it shows; both default to
    # the part of the email before "@".
    slug: str | None = None
    name: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not _SLUG_RE.match(value):
            raise ValueError(
                f"{value!r} is not a page slug (lower-case letters, digits, '.', '_', '-')"
            )
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, text in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(WEEKDAYS)}")
            try:
                parse_hours(text)
            except ValueError as exc:
                raise ValueError(f"{day}: {exc}") from None
        if not value:
            raise ValueError("at least one working day is needed")
        return value

    @model_validator(mode="after")
    def _booking_calendar_is_consulted(self) -> Rep:
        # Busy time on the calendar we book into always counts, listed or not.
        if self.booking_calendar not in self.calendars:
            object.__setattr__(self, "calendars", (self.booking_calendar, *self.calendars))
        return self

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def page_slug(self) -> str:
        return self.slug or self.email.split("@", 1)[0]

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@", 1)[0]

    @cached_property
    def hours_by_weekday(self) -> dict[int, tuple[tuple[time, time], ...]]:
        """Working ranges keyed by `date.weekday()` (0 = Monday); missing days are off."""
        return {WEEKDAYS.index(day): parse_hours(text) for day, text in self.working_hours.items()}


class BookingConfig(_Strict):
    default_duration_minutes: int = Field(default=30, ge=5, le=480)
    min_notice_minutes: int = Field(default=120, ge=0)
    buffer_minutes: int = Field(default=10, ge=0, le=240)
    horizon_days: int = Field(default=21, ge=1, le=366)
    video: Literal["auto", "none"] = "auto"


class RemindersConfig(_Strict):
    sms_before_minutes: int = Field(default=1440, ge=0)
    email_before_minutes: int = Field(default=1440, ge=0)


class SandboxBusy(_Strict):
    """A weekly busy block the sandbox calendar reports (sandbox mode only)."""

    calendar: str
    days: tuple[str, ...]
    hours: str
    timezone: Zone | None = None

    @field_validator("days")
    @classmethod
    def _days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for day in value:
            if day not in WEEKDAYS:
                raise ValueError(f"unknown day {day!r}; use {', '.join(WEEKDAYS)}")
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        parse_hours(value)
        return value

    @cached_property
    def ranges(self) -> tuple[tuple[time, time], ...]:
        return parse_hours(self.hours)


class SandboxConfig(_Strict):
    """Sandbox-only realism: recurring busy blocks, and calendars that refuse access."""

    busy: tuple[SandboxBusy, ...] = ()
    broken_calendars: tuple[str, ...] = ()


class BookingPageConfig(_Strict):
    """The client's booking page (SPEC §10)."""

    title: str = Field(default="Book a call", min_length=1, max_length=120)
    durations: tuple[int, ...] = Field(default=(30,), min_length=1, max_length=6)
    slot_step_minutes: int = Field(default=30, ge=5, le=240)
    embed_origins: tuple[str, ...] = ()
    cache_seconds: int = Field(default=30, ge=0, le=600)

    @field_validator("durations")
    @classmethod
    def _durations(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        for minutes in value:
            if not 5 <= minutes <= 480:
                raise ValueError(f"duration {minutes} must be 5 to 480 minutes")
        if len(set(value)) != len(value):
            raise ValueError("a duration is listed twice")
        return value

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(origin.strip().lower().rstrip("/") for origin in value)
        for origin in cleaned:
            if not _ORIGIN_RE.match(origin):
                raise ValueError(
                    f"{origin!r} is not an origin (scheme and host, like https://www.ourco.example)"
                )
        return cleaned

    @property
    def default_duration(self) -> int:
        return self.durations[0]


class CrmConfig(_Strict):
    """`[crm]` (SPEC §12): which CRM gets tickets, for which escalations, and where."""

    provider: Literal["hubspot", "salesforce"]
    ticket_on: tuple[Literal["vip", "error", "review"], ...] = ("vip", "error")
    hubspot_pipeline: str = "0"
    hubspot_stage_open: str = "1"
    hubspot_stage_closed: str = "4"
    conversion_days: int = Field(default=90, ge=1, le=730)


class Config(_Strict):
    timezone: Zone
    slack: SlackConfig
    gate: GateConfig = GateConfig()
    vip: tuple[VipAccount, ...] = ()
    reps: tuple[Rep, ...] = Field(min_length=1)
    booking: BookingConfig = BookingConfig()
    reminders: RemindersConfig = RemindersConfig()
    sandbox: SandboxConfig = SandboxConfig()
    crm: CrmConfig | None = None
    booking_page: BookingPageConfig = BookingPageConfig()

    @field_validator("reps")
    @classmethod
    def _unique_reps(cls, reps: tuple[Rep, ...]) -> tuple[Rep, ...]:
        _reject_duplicates("reps", "email", [rep.email for rep in reps])
        _reject_duplicates("reps", "slug", [rep.page_slug for rep in reps])
        return reps

    @field_validator("vip")
    @classmethod
    def _unique_vips(cls, vips: tuple[VipAccount, ...]) -> tuple[VipAccount, ...]:
        _reject_duplicates("vip", "domain", [vip.domain for vip in vips])
        return vips

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def gate_rules(self) -> GateRules:
        return GateRules(
            vip_domains=tuple(vip.domain for vip in self.vip),
            escalation_keywords=self.gate.escalation_keywords,
            group_size_threshold=self.gate.group_size_threshold,
        )

    def rep(self, email: str) -> Rep | None:
        wanted = email.strip().lower()
        return next((rep for rep in self.reps if rep.email == wanted), None)

    def rep_by_slug(self, slug: str) -> Rep | None:
        return next((rep for rep in self.reps if rep.page_slug == slug), None)

    def vip_account(self, domain: str) -> VipAccount | None:
        return next((vip for vip in self.vip if vip.domain == domain), None)


class DuplicateKeyError(ValueError):
    def __init__(self, section: str, index: int, key: str, value: str) -> None:
        super().__init__(f"{value!r} is listed twice")
        self.loc = (section, index, key)


def _reject_duplicates(section: str, key: str, values: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise DuplicateKeyError(section, index, key, value)
        seen.add(value)
