"""The client's booking page (SPEC §10): which slots a visitor sees, in their own zone, and
what happens to the form they post. A booking goes through the intake pipeline of
`POST /webhooks/booking` (validation, idempotency, gate, audit, outcomes), never around it.

The handler (handlers/booking_page.py) only parses and renders; everything it shows is
decided here, as plain data.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.config import Config, Rep
from bot.domain.form_token import FormToken, FormTokens, TokenError
from bot.domain.intake import FieldError, IntakeValidationError, ValidRequest, validate_request
from bot.domain.slots import local_instant
from bot.messages.availability import clock_label
from bot.messages.confirmation import ics_invitation
from bot.services.availability import AvailabilityService
from bot.services.processing import RequestProcessor, StillProcessing
from bot.services.telemetry import BOOKING_PAGE_SPAM
from integrations.base import IntegrationError
from storage.models import BookingStatus, RequestStatus, StoredRequest, utcnow
from storage.repositories import BookingRepository, RequestRepository

log = logging.getLogger("frontdesk.booking_page")

MAX_API_DAYS = 31
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign")
PREFILL_FIELDS = ("name", "email", "company", "notes")
FORM_FIELDS = ("name", "email", "company", "phone", "notes")

# What the page says; tests import these so the wording changes in one place.
ERROR_SUMMARY_TITLE = "There is a problem"
NO_SLOTS_THIS_WEEK = "No free times this week."
SLOT_TAKEN = (
    "Sorry, that time was taken just before you confirmed it. Here are the next free times."
)
FIELD_MESSAGES = {
    "name": "Enter your name",
    "email": "Enter an email address in the correct format, like name@example.com",
    "email_missing": "Enter your email address",
    "phone": "Enter a phone number in international format, like +16025550143, or leave it empty",
    "company": "Company must be 200 characters or fewer",
    "notes": "Notes must be 5000 characters or fewer",
    "slot": "Choose a time",
    "tz": "Enter a time zone from the list, like America/New_York",
    "duration": "Choose a meeting length from the list",
}
SLOT_IN_PAST = "That time has passed: choose another"

COMMON_ZONES = (
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Phoenix",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Sao_Paulo",
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
)

# Old names some browsers still report (Chromium's ICU says "Asia/Calcutta"), shown and
# stored under today's name so the zone picker finds them.
ZONE_ALIASES = {
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Europe/Kiev": "Europe/Kyiv",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Indianapolis": "America/Indiana/Indianapolis",
    "Pacific/Truk": "Pacific/Chuuk",
    "Pacific/Ponape": "Pacific/Pohnpei",
}

# The intake's field names, as the page names them.
_PAGE_FIELD = {"requested_start": "slot", "timezone": "tz", "duration_minutes": "duration"}


# -------------------------------------------------------------------------- availability


# -------------------------------------------------------------------------- page data


class UnknownRep(LookupError):
    """No rep has this page slug (the page answers 404)."""


class BadParameter(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class ShownSlot:
    value: str  # the UTC start, as the form posts it
    label: str  # "9:30 AM EST"
    start: datetime
    end: datetime
    local: datetime

    @property
    def id(self) -> str:
        return "slot-" + "".join(c for c in self.value if c.isdigit())

    def as_json(self) -> dict[str, str]:
        return {
            "start": _z(self.start),
            "end": _z(self.end),
            "local": self.local.isoformat(),
            "label": self.label,
        }


@dataclass(frozen=True)
class ShownDay:
    day: date
    label: str  # "Tuesday 8 December"
    slots: list[ShownSlot]


@dataclass
class PageView:
    """Everything the booking page template shows."""

    title: str
    rep: Rep | None
    zone: str
    zone_abbreviation: str
    zone_options: list[str]
    duration: int
    durations: tuple[int, ...]
    week: date
    this_week: date
    last_week: date
    days: list[ShownDay]
    token: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    embed: bool = False
    notice: str | None = None
    unreadable: bool = False
    status_code: int = 200
    zone_chosen: bool = False  # named by the visitor (else the script may use the browser's)

    @property
    def action(self) -> str:
        return f"/book/{self.rep.page_slug}" if self.rep else "/book"

    @property
    def previous_week(self) -> date | None:
        return self.week - timedelta(days=7) if self.week > self.this_week else None

    @property
    def next_week(self) -> date | None:
        return self.week + timedelta(days=7) if self.week < self.last_week else None

    @property
    def week_label(self) -> str:
        return f"Week of {self.week.day} {self.week:%B}"

    def week_url(self, week: date | None) -> str:
        query = {
            "week": (week or self.week).isoformat(),
            "tz": self.zone,
            "duration": self.duration,
        }
        if self.embed:
            query["embed"] = "1"
        return "?" + urlencode(query)

    @property
    def first_slot_id(self) -> str:
        return self.days[0].slots[0].id if self.days else "times-title"

    @property
    def error_list(self) -> list[tuple[str, str]]:
        order = ["slot", "name", "email", "phone", "company", "notes", "tz", "duration"]
        return sorted(
            self.errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99
        )


@dataclass(frozen=True)
class Forbidden:
    reason: str  # missing | forged | expired


@dataclass(frozen=True)
class Redirect:
    token: str
    embed: bool


@dataclass(frozen=True)
class Failed:
    """The pipeline could not take the form now (the database is down): try again."""


@dataclass
class DoneView:
    kind: str  # "booked" | "received"
    title: str
    request_id: str | None = None
    status: str | None = None  # what the embedding page is told: booked_auto | received
    when_date: str = ""
    when_time: str = ""
    rep_name: str = ""
    video_url: str | None = None
    ics_url: str | None = None
    embed: bool = False


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_label(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def zone_or_none(name: str | None) -> ZoneInfo | None:
    if not name or len(name) > 64:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


class BookingPageService:
    def __init__(
        self,
        config: Config,
        availability: AvailabilityService,
        processor: RequestProcessor,
        requests: RequestRepository,
        bookings: BookingRepository,
        tokens: FormTokens,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.page = config.booking_page
        self.availability = availability
        self.processor = processor
        self.requests = requests
        self.bookings = bookings
        self.tokens = tokens
        self.clock = clock

    # ---------------------------------------------------------------- reading parameters

    def rep_for(self, slug: str | None) -> Rep | None:
        if slug is None:
            return None
        rep = self.config.rep_by_slug(slug)
        if rep is None:
            raise UnknownRep(slug)
        return rep

    def default_zone(self, rep: Rep | None) -> str:
        return rep.timezone if rep else self.config.timezone

    def parse_duration(self, text: str | None) -> int:
        if text is None or text == "":
            return self.page.default_duration
        if not text.isdigit() or int(text) not in self.page.durations:
            allowed = ", ".join(str(minutes) for minutes in self.page.durations)
            raise BadParameter("duration", f"must be one of {allowed} (minutes)")
        return int(text)

    def parse_zone(self, text: str | None, rep: Rep | None) -> str:
        if text is None or not text.strip():
            return self.default_zone(rep)
        name = ZONE_ALIASES.get(text.strip(), text.strip())
        if zone_or_none(name) is None:
            raise BadParameter("tz", f"{name[:64]!r} is not an IANA time zone")
        return name

    # ---------------------------------------------------------------- slots

    def week_start(self, day: date) -> date:
        return day - timedelta(days=day.weekday())

    def slots_between(
        self, rep: Rep | None, zone: ZoneInfo, first: date, last: date, duration: int
    ) -> tuple[list[ShownSlot], bool]:
        """Free slots starting on the local days [first, last] of `zone`; and whether a
        calendar could not be read (the team page then shows the others' slots)."""
        start = local_instant(first, time(0), zone).astimezone(UTC)
        end = local_instant(last + timedelta(days=1), time(0), zone).astimezone(UTC)
        length = timedelta(minutes=duration)
        step = timedelta(minutes=self.page.slot_step_minutes)
        unreadable = False
        if rep is not None:
            try:
                intervals = self.availability.offered_rep_slots(rep, start, end, length, step=step)
            except IntegrationError as exc:
                log.warning("busy lookup failed", extra={"rep": rep.email, "error": exc.message})
                intervals, unreadable = [], True
        else:
            pairs, skipped = self.availability.offered_team_slots(start, end, length, step=step)
            intervals, unreadable = [slot for slot, _ in pairs], bool(skipped)
        shown = []
        for slot in intervals:
            local = slot.start.astimezone(zone)
            shown.append(
                ShownSlot(
                    value=_z(slot.start),
                    label=f"{clock_label(local)} {local.tzname()}",
                    start=slot.start,
                    end=slot.end,
                    local=local,
                )
            )
        return shown, unreadable

    def api_slots(
        self,
        slug: str | None,
        from_text: str | None,
        days_text: str | None,
        tz: str | None,
        duration_text: str | None,
    ) -> dict[str, Any]:
        """`GET /api/slots`; raise BadParameter (422) or UnknownRep."""
        rep = self.rep_for(slug) if slug else None
        zone_name = self.parse_zone(tz, rep)
        zone = ZoneInfo(zone_name)
        duration = self.parse_duration(duration_text)
        today = self.clock().astimezone(zone).date()
        if from_text:
            try:
                first = date.fromisoformat(from_text)
            except ValueError:
                raise BadParameter(
                    "from", f"{from_text[:40]!r} is not a date (YYYY-MM-DD)"
                ) from None
        else:
            first = today
        if days_text is None or days_text == "":
            days = 7
        elif not days_text.isdigit() or not 1 <= int(days_text) <= MAX_API_DAYS:
            raise BadParameter("days", f"must be a whole number from 1 to {MAX_API_DAYS}")
        else:
            days = int(days_text)
        last = first + timedelta(days=days - 1)
        slots, unreadable = self.slots_between(rep, zone, first, last, duration)
        by_day = self._group(slots)
        return {
            "timezone": zone_name,
            "duration_minutes": duration,
            "slots": [slot.as_json() for slot in slots],
            # For the page's script: the same day names and labels the server renders.
            "days": [
                {
                    "date": day.day.isoformat(),
                    "label": day.label,
                    "slots": [{"value": slot.value, "label": slot.label} for slot in day.slots],
                }
                for day in by_day
            ],
            "zone_abbreviation": self._abbreviation(zone, slots),
            "partial": unreadable,
        }

    def _abbreviation(self, zone: ZoneInfo, slots: list[ShownSlot]) -> str:
        moment = slots[0].start if slots else self.clock()
        return moment.astimezone(zone).tzname() or ""

    @staticmethod
    def _group(slots: list[ShownSlot]) -> list[ShownDay]:
        days: dict[date, list[ShownSlot]] = {}
        for slot in slots:
            days.setdefault(slot.local.date(), []).append(slot)
        return [ShownDay(day, day_label(day), group) for day, group in days.items()]

    # ---------------------------------------------------------------- the page

    def view(
        self,
        slug: str | None,
        params: Mapping[str, str],
        *,
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        notice: str | None = None,
        status_code: int = 200,
    ) -> PageView:
        """The page for GET /book[/<slug>] (raise UnknownRep); a bad `tz` or `duration`
        is shown beside its field, with the default in its place.
        """
        rep = self.rep_for(slug)
        errors = dict(errors or {})
        try:
            zone_name = self.parse_zone(params.get("tz_other") or params.get("tz"), rep)
        except BadParameter:
            errors["tz"] = FIELD_MESSAGES["tz"]
            zone_name = self.default_zone(rep)
            status_code = 422
        try:
            duration = self.parse_duration(params.get("duration"))
        except BadParameter:
            errors["duration"] = FIELD_MESSAGES["duration"]
            duration = self.page.default_duration
            status_code = 422
        zone = ZoneInfo(zone_name)
        now = self.clock()
        this_week = self.week_start(now.astimezone(zone).date())
        week = this_week
        week_text = params.get("week")
        if week_text:
            try:
                week = max(this_week, self.week_start(date.fromisoformat(week_text)))
            except ValueError:
                week = this_week
        last_bookable = (now + timedelta(days=self.config.booking.horizon_days)).astimezone(zone)
        week = min(week, self.week_start(last_bookable.date()))
        last_week = self.week_start(last_bookable.date())
        while True:
            first = max(week, now.astimezone(zone).date())
            slots, unreadable = self.slots_between(
                rep, zone, first, week + timedelta(days=6), duration
            )
            # No week asked for and none free in this one (a Friday evening): show the
            # first week that has a free time rather than an empty page.
            if slots or week_text or week >= last_week:
                break
            week += timedelta(days=7)
        shown_values = {name: params.get(name, "") for name in PREFILL_FIELDS}
        shown_values.update({name: params.get(name, "") for name in UTM_FIELDS})
        shown_values.update(values or {})
        return PageView(
            title=self.page.title,
            rep=rep,
            zone=zone_name,
            zone_abbreviation=self._abbreviation(zone, slots),
            zone_options=list(COMMON_ZONES)
            if zone_name in COMMON_ZONES
            else sorted([*COMMON_ZONES, zone_name]),
            duration=duration,
            durations=self.page.durations,
            week=week,
            this_week=this_week,
            last_week=last_week,
            days=self._group(slots),
            token=self.tokens.issue(now).text,
            values=shown_values,
            errors=errors,
            embed=params.get("embed") == "1",
            notice=notice,
            unreadable=unreadable,
            status_code=status_code,
            zone_chosen=bool(params.get("tz") or params.get("tz_other")),
        )

    # ---------------------------------------------------------------- the form post

    def read_token(self, text: str | None) -> FormToken:
        return self.tokens.read(text, self.clock())

    def submit(
        self, slug: str | None, form: Mapping[str, str], body: bytes
    ) -> Redirect | Forbidden | PageView | Failed:
        """Take a posted form (raise UnknownRep). Never a second booking path: the form
        becomes an intake payload for `validate_request` and `RequestProcessor.submit`.
        """
        rep = self.rep_for(slug)
        embed = form.get("embed") == "1"
        if form.get("website"):
            # A bot filled the field people never see: it is told "thanks", nothing more.
            BOOKING_PAGE_SPAM.inc()
            try:
                return Redirect(self.read_token(form.get("token")).text, embed)
            except TokenError:
                return Redirect(self.tokens.issue(self.clock()).text, embed)
        try:
            token = self.read_token(form.get("token"))
        except TokenError as exc:
            return Forbidden(exc.reason)
        key = token.idempotency_key
        if self.processor.replay(key) is not None:
            return Redirect(token.text, embed)
        values = {name: form.get(name, "") for name in (*FORM_FIELDS, *UTM_FIELDS)}
        values["sms_opt_in"] = "1" if form.get("sms_opt_in") else ""
        values["slot"] = form.get("slot", "")
        errors: dict[str, str] = {}
        valid = self._validated(rep, form, values, errors)
        if valid is None:
            params = {name: form.get(name, "") for name in ("tz", "duration", "week", "embed")}
            return self.view(slug, params, values=values, errors=errors, status_code=422)
        utm = {name: values[name][:200] for name in UTM_FIELDS if values[name]}
        valid = replace(valid, utm=utm or None)
        try:
            self.processor.submit(valid, key, hashlib.sha256(body).hexdigest())
        except StillProcessing:
            pass  # the first post of this form is being booked; the done page waits for it
        except Exception:
            log.exception("booking page submission failed")
            return Failed()
        return Redirect(token.text, embed)

    def _validated(
        self,
        rep: Rep | None,
        form: Mapping[str, str],
        values: dict[str, str],
        errors: dict[str, str],
    ) -> ValidRequest | None:
        """The intake request the form makes, or None with `errors` filled per field."""
        try:
            zone_name = self.parse_zone(form.get("tz"), rep)
        except BadParameter:
            errors["tz"] = FIELD_MESSAGES["tz"]
            zone_name = self.default_zone(rep)
        try:
            duration = self.parse_duration(form.get("duration"))
        except BadParameter:
            errors["duration"] = FIELD_MESSAGES["duration"]
            duration = self.page.default_duration
        if not values["slot"]:
            errors["slot"] = FIELD_MESSAGES["slot"]
        payload: dict[str, Any] = {
            "name": values["name"],
            "email": values["email"],
            "company": values["company"],
            "phone": values["phone"],
            "sms_opt_in": bool(values["sms_opt_in"]),
            "notes": values["notes"],
            "timezone": zone_name,
            "requested_start": values["slot"] or None,
            "duration_minutes": duration,
            "rep": rep.email if rep else None,
        }
        valid = None
        try:
            valid = validate_request(payload, self.config, self.clock())
        except IntakeValidationError as exc:
            for error in exc.errors:
                errors.setdefault(*self._page_error(error))
        if "email" in errors and not values["email"].strip():
            errors["email"] = FIELD_MESSAGES["email_missing"]
        return None if errors else valid

    @staticmethod
    def _page_error(error: FieldError) -> tuple[str, str]:
        name = _PAGE_FIELD.get(error.field, error.field)
        if name == "slot" and "past" in error.message:
            return name, SLOT_IN_PAST
        return name, FIELD_MESSAGES.get(name, f"{name} {error.message}")

    # ---------------------------------------------------------------- after the post

    def stored(self, token_text: str) -> tuple[FormToken, StoredRequest | None]:
        """The request a form token made (raise TokenError); expiry does not matter here,
        the done page stays readable."""
        token = self.tokens.read(token_text, self.clock(), check_expiry=False)
        return token, self.requests.get_by_key(token.idempotency_key)

    def done(self, token_text: str, *, embed: bool) -> DoneView | PageView:
        """What the client sees after posting: booked, received, or (a slot taken
        meanwhile) the page again with the next free slots. Raise TokenError.
        """
        token, request = self.stored(token_text)
        received = DoneView("received", "Thanks — we'll be in touch shortly", embed=embed)
        if request is None or request.response is None:
            return received
        received.request_id = request.id
        received.status = "received"
        status = RequestStatus(request.status)
        booking = request.response.get("booking")
        if status is RequestStatus.BOOKED_AUTO and booking:
            zone = zone_or_none(request.timezone) or UTC
            start = datetime.fromisoformat(booking["start"].replace("Z", "+00:00"))
            local = start.astimezone(zone)
            end_local = datetime.fromisoformat(booking["end"].replace("Z", "+00:00")).astimezone(
                zone
            )
            rep = self.config.rep(booking["rep"])
            return DoneView(
                "booked",
                "You're booked",
                request_id=request.id,
                status=RequestStatus.BOOKED_AUTO.value,
                when_date=f"{local:%A} {local.day} {local:%B} {local.year}",
                when_time=(
                    f"{clock_label(local)} to {clock_label(end_local)} {end_local.tzname()}"
                    if local.tzname() == end_local.tzname()
                    else f"{clock_label(local)} {local.tzname()} to "
                    f"{clock_label(end_local)} {end_local.tzname()}"
                ),
                rep_name=rep.display_name if rep else booking["rep"].split("@")[0],
                video_url=booking.get("video_url"),
                ics_url=f"/book/done/{token.text}/calendar.ics",
                embed=embed,
            )
        if status is RequestStatus.ESCALATED_MANUAL_REVIEW and "slot_unavailable" in (
            request.reasons or []
        ):
            return self._offer_again(request, embed)
        return received

    def _offer_again(self, request: StoredRequest, embed: bool) -> PageView:
        rep = self.config.rep(request.rep_email) if request.rep_email else None
        zone = zone_or_none(request.timezone) or self.config.zone
        week = (request.requested_start or self.clock()).astimezone(zone).date()
        params = {
            "tz": request.timezone,
            "duration": str(request.duration_minutes)
            if request.duration_minutes in self.page.durations
            else "",
            "week": week.isoformat(),
            "embed": "1" if embed else "",
        }
        values = {
            "name": request.name,
            "email": request.email,
            "company": request.company or "",
            "phone": request.phone or "",
            "notes": request.notes,
            "sms_opt_in": "1" if request.sms_opt_in else "",
        }
        values.update((request.utm or {}).items())
        return self.view(rep.page_slug if rep else None, params, values=values, notice=SLOT_TAKEN)

    def ics(self, token_text: str) -> bytes | None:
        """The booked meeting as an iCalendar file, or None when nothing is booked: the same
        invitation as the confirmation email's (same UID, the current time and SEQUENCE, so
        a meeting moved since through the manage link is filed as the moved one).
        """
        _, request = self.stored(token_text)
        if request is None or request.status != RequestStatus.BOOKED_AUTO:
            return None
        booking = self.bookings.get_by_request(request.id)
        if booking is None or booking.status != BookingStatus.CONFIRMED:
            return None
        return ics_invitation(request, booking)
