"""The client's manage page (SPEC §11), server-rendered with Jinja2 (autoescaped): the
meeting in the client's zone, Cancel with an optional reason, and Reschedule with radio
buttons grouped by day — no JavaScript needed, every control labelled, errors announced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from bot.domain.intervals import Interval
from bot.messages.confirmation import local_time_label
from storage.models import BookingStatus, StoredBooking, StoredRequest

PAGE_TITLE = "Your meeting"
MOVED_NOTICE = "Your meeting has moved. We have emailed you the new details and a new link."
RESCHEDULE_HEADING = "Pick another time"
RESCHEDULE_HINT = "Times are shown in your time zone ({zone}). Same length, same host."
RESCHEDULE_BUTTON = "Move my meeting"
EARLIER_TIMES = "Earlier times"
LATER_TIMES = "Later times"
WINDOW = "Free times from {first} to {last}"
NO_SLOTS_HERE = "No free times on these days. Try later times."
NO_SLOTS = "There are no free times in the next weeks. Reply to our email and we will help."
SLOTS_UNREADABLE = "We cannot show other times right now. Please try again in a few minutes."
CANCEL_HEADING = "Cancel the meeting"
CANCEL_REASON_LABEL = "Reason (optional)"
CANCEL_REASON_HINT = "Your host will see this."
CANCEL_BUTTON = "Cancel my meeting"
ERROR_SUMMARY_TITLE = "There is a problem"
CHOOSE_A_TIME = "Choose a new time for your meeting"
SLOT_NOT_FREE = "That slot is no longer free. Choose another time."
REASON_TOO_LONG = "The reason must be 500 characters or fewer"

CANCELLED_TITLE = "Your meeting is cancelled"
CANCELLED_TEXT = "We have emailed you a confirmation. Your host has been told."
CANCELLED_BY_OTHERS = "This meeting was cancelled."
SHORTLY_TITLE = "Thanks — we will confirm shortly"
SHORTLY_TEXT = (
    "We could not finish this change automatically, so a person is on it and will email "
    "you shortly. Your meeting stays as it was until then."
)
VIP_TITLE = "Your account manager will confirm"
VIP_TEXT = (
    "We have passed your new time ({when}) to your account manager, who will confirm it "
    "by email. Your meeting stays as it was until then."
)
REPLACED_TITLE = "This link was replaced"
REPLACED_TEXT = (
    "Your meeting was moved, so this link no longer works. The newest details are below; "
    "to change the meeting again, use the link in our latest email."
)
FORGED_TITLE = "This link is not valid"
FORGED_TEXT = "Check that you copied the whole link from our email."
EXPIRED_TITLE = "This link has expired"
EXPIRED_TEXT = "The meeting it was for is over. To meet again, reply to our email."
FORM_EXPIRED_TITLE = "This form has expired"
FORM_EXPIRED_TEXT = "For your security, a form works for 2 hours. Nothing was changed."
RELOAD = "Open the page again"
NOT_ACTIVE_TITLE = "This meeting can no longer be changed"
NOT_ACTIVE_TEXT = "It has already started, ended or been cancelled. Reply to our email for help."
UNREADABLE_TITLE = "Sorry, the form could not be read"
UNREADABLE_TEXT = "Nothing was changed. Please open the page again and try once more."

_templates = Environment(
    loader=PackageLoader("bot.messages", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class SlotOption:
    value: str  # the start, UTC ISO 8601
    label: str  # "2:30 PM MST"
    element_id: str
    checked: bool = False


@dataclass(frozen=True)
class SlotDay:
    label: str  # "Tuesday 8 December"
    element_id: str
    slots: tuple[SlotOption, ...]


@dataclass
class ManageForm:
    """What the page's forms need besides the meeting: tokens, errors, what was typed."""

    action_base: str  # /manage/<token>
    form_token: str
    slots: Sequence[Interval] | None  # None: the calendars could not be read
    chosen: str | None = None
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)  # field id -> message
    notice: str | None = None
    window: str = ""  # "Tuesday 1 December to Monday 7 December"
    earlier: str | None = None  # the picker's previous days (a link; no JavaScript)
    later: str | None = None


def summary(booking: StoredBooking, request: StoredRequest) -> list[tuple[str, str]]:
    """The meeting as the client reads it, in their zone with its abbreviation."""
    minutes = int((booking.end - booking.start).total_seconds() // 60)
    rows = [
        ("When", local_time_label(booking.start, request.timezone)),
        ("Time zone", request.timezone),
        ("Length", f"{minutes} minutes"),
        ("With", booking.rep_email),
    ]
    if booking.video_url:
        rows.append(("Video link", booking.video_url))
    return rows


def slot_days(slots: Sequence[Interval], zone: str, chosen: str | None) -> list[SlotDay]:
    """Free slots grouped by day in the client's zone."""
    local_zone = ZoneInfo(zone)
    days: dict[str, list[SlotOption]] = {}
    for slot in slots:
        local = slot.start.astimezone(local_zone)
        day = f"{local:%A} {local.day} {local:%B}"
        value = _stamp(slot.start)
        hour = local.strftime("%I").lstrip("0")
        days.setdefault(day, []).append(
            SlotOption(
                value,
                f"{hour}:{local:%M %p} {local.tzname()}",
                f"slot-{value.replace(':', '')}",
                value == chosen,
            )
        )
    return [
        SlotDay(label, f"day-{index}", tuple(options))
        for index, (label, options) in enumerate(days.items())
    ]


def day_label(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B}"


def window_label(first: date, after: date) -> str:
    return WINDOW.format(first=day_label(first), last=day_label(after - timedelta(days=1)))


def _stamp(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def render_manage(booking: StoredBooking, request: StoredRequest, form: ManageForm) -> str:
    active = booking.status == BookingStatus.CONFIRMED
    return _templates.get_template("manage/manage.html").render(
        title=PAGE_TITLE,
        text=_TEXT,
        rows=summary(booking, request),
        active=active,
        form=form,
        zone=request.timezone,
        days=slot_days(form.slots or [], request.timezone, form.chosen) if active else [],
        slots_unreadable=form.slots is None,
        hint=RESCHEDULE_HINT.format(zone=request.timezone),
        inactive_text=(
            CANCELLED_BY_OTHERS if booking.status == BookingStatus.CANCELLED else NOT_ACTIVE_TEXT
        ),
    )


def render_message(
    title: str,
    paragraphs: Sequence[str],
    *,
    rows: Sequence[tuple[str, str]] = (),
    link: tuple[str, str] | None = None,
) -> str:
    """A page that only says something: a result, a refusal, a replaced link."""
    return _templates.get_template("manage/message.html").render(
        title=title, paragraphs=paragraphs, rows=rows, link=link
    )


def vip_text(start: datetime, zone: str) -> str:
    return VIP_TEXT.format(when=local_time_label(start, zone))


_TEXT = {
    "moved": MOVED_NOTICE,
    "reschedule_heading": RESCHEDULE_HEADING,
    "reschedule_button": RESCHEDULE_BUTTON,
    "no_slots": NO_SLOTS,
    "no_slots_here": NO_SLOTS_HERE,
    "earlier": EARLIER_TIMES,
    "later": LATER_TIMES,
    "slots_unreadable": SLOTS_UNREADABLE,
    "cancel_heading": CANCEL_HEADING,
    "reason_label": CANCEL_REASON_LABEL,
    "reason_hint": CANCEL_REASON_HINT,
    "cancel_button": CANCEL_BUTTON,
    "error_summary": ERROR_SUMMARY_TITLE,
}
