"""The client's manage link (SPEC §11), thin: `GET /manage/<token>` shows the meeting with
Cancel and Reschedule; the two form posts check their form token, call the booking
changes service and render its answer. Forged or expired links get 403, replaced ones 410.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.domain.manage_links import LinkError
from bot.messages import manage_page as page
from bot.services.booking_changes import PICKER_DAYS, ChangeResult, Opened, Replaced
from handlers.deps import Parts
from integrations.base import IntegrationError
from storage.statuses import BookingStatus

log = logging.getLogger("frontdesk.manage")

router = APIRouter(include_in_schema=False)

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 8 * 1024
# Never cached or indexed: the page is one client's, and changes with every action.
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_STATUS_FOR_RESULT = {"escalated": 202, "owner_asked": 202, "not_active": 409, "taken": 409}


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _refused(error: LinkError) -> HTMLResponse:
    if error.reason == "expired":
        return _html(page.render_message(page.EXPIRED_TITLE, [page.EXPIRED_TEXT]), 403)
    return _html(page.render_message(page.FORGED_TITLE, [page.FORGED_TEXT]), 403)


def _replaced(error: Replaced) -> HTMLResponse:
    rows = page.summary(error.booking, error.request)
    body = page.render_message(page.REPLACED_TITLE, [page.REPLACED_TEXT], rows=rows)
    return _html(body, 410)


async def _open(parts: Parts, token: str) -> Opened | HTMLResponse:
    try:
        return await run_in_threadpool(parts.booking_changes.open, token)
    except LinkError as error:
        return _refused(error)
    except Replaced as error:
        return _replaced(error)


def _manage_form(
    parts: Parts,
    opened: Opened,
    first_day: date | None,
    notice: str | None,
    errors: dict[str, str],
    reason: str,
) -> page.ManageForm:
    changes = parts.booking_changes
    first, after, today = changes.picker_window(opened, first_day)
    try:
        slots = changes.slots(opened, first)
    except IntegrationError:
        slots = None  # the page still offers Cancel; it says why no times are listed
    base = f"/manage/{opened.token.text}"
    back = max(first - timedelta(days=PICKER_DAYS), today)
    horizon = today + timedelta(days=changes.config.booking.horizon_days)
    return page.ManageForm(
        action_base=base,
        form_token=changes.links.form_token(opened.token.text, changes.clock()),
        slots=slots,
        reason=reason,
        errors=errors,
        notice=notice,
        window=page.window_label(first, after),
        earlier=f"{base}?from={back.isoformat()}" if first > today else None,
        later=f"{base}?from={after.isoformat()}" if after <= horizon else None,
    )


async def _manage(
    parts: Parts,
    opened: Opened,
    status: int = 200,
    *,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    reason: str = "",
    first_day: date | None = None,
) -> Response:
    form = await run_in_threadpool(
        _manage_form, parts, opened, first_day, notice, errors or {}, reason
    )
    return _html(page.render_manage(opened.booking, opened.request, form), status)


@router.get("/manage/{token}", response_class=HTMLResponse)
async def manage(request: Request, parts: Parts, token: str) -> Response:
    opened = await _open(parts, token)
    if isinstance(opened, HTMLResponse):
        return opened
    if opened.booking.status == BookingStatus.CANCELLED:
        rows = page.summary(opened.booking, opened.request)
        return _html(
            page.render_message(page.CANCELLED_TITLE, [page.CANCELLED_BY_OTHERS], rows=rows)
        )
    notice = page.MOVED_NOTICE if request.query_params.get("moved") else None
    try:
        first_day = date.fromisoformat(request.query_params.get("from") or "")
    except ValueError:
        first_day = None  # no (or an unreadable) day: from today
    return await _manage(parts, opened, notice=notice, first_day=first_day)


async def _form(request: Request) -> dict[str, str] | None:
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        return None
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return None


async def _posted(
    request: Request, parts: Parts, token: str
) -> tuple[Opened, dict[str, str]] | Response:
    """The link and the form of a post, or the page that refuses it."""
    opened = await _open(parts, token)
    if isinstance(opened, HTMLResponse):
        return opened
    form = await _form(request)
    if form is None:
        return _html(page.render_message(page.UNREADABLE_TITLE, [page.UNREADABLE_TEXT]), 400)
    changes = parts.booking_changes
    try:
        changes.links.check_form(form.get("form_token"), token, changes.clock())
    except LinkError:
        link = (f"/manage/{token}", page.RELOAD)
        body = page.render_message(page.FORM_EXPIRED_TITLE, [page.FORM_EXPIRED_TEXT], link=link)
        return _html(body, 403)
    return opened, form


@router.post("/manage/{token}/cancel", response_class=HTMLResponse)
async def cancel(request: Request, parts: Parts, token: str) -> Response:
    posted = await _posted(request, parts, token)
    if isinstance(posted, Response):
        return posted
    opened, form = posted
    reason = form.get("reason", "").strip()
    if len(reason) > 500:
        errors = {"reason": page.REASON_TOO_LONG}
        return await _manage(parts, opened, 422, reason=reason, errors=errors)
    result = await run_in_threadpool(parts.booking_changes.cancel, opened, reason or None)
    return _result(result)


def _slot(value: str | None) -> datetime | None:
    try:
        start = datetime.fromisoformat(value or "")
    except ValueError:
        return None
    return start.astimezone(UTC) if start.tzinfo is not None else None


@router.post("/manage/{token}/reschedule", response_class=HTMLResponse)
async def reschedule(request: Request, parts: Parts, token: str) -> Response:
    posted = await _posted(request, parts, token)
    if isinstance(posted, Response):
        return posted
    opened, form = posted
    start = _slot(form.get("slot"))
    if start is None:
        return await _manage(parts, opened, 422, errors={"slot": page.CHOOSE_A_TIME})
    result = await run_in_threadpool(parts.booking_changes.reschedule, opened, start)
    if result.outcome == "taken":
        return await _manage(parts, opened, 409, errors={"slot": page.SLOT_NOT_FREE})
    if result.outcome in ("moved", "unchanged") and result.url:
        target = result.url.removeprefix(parts.booking_changes.links.public_url)
        return RedirectResponse(f"{target}?moved=1", status_code=303, headers=_HEADERS)
    if result.outcome == "owner_asked":
        text = page.vip_text(start, result.request.timezone)
        return _html(page.render_message(page.VIP_TITLE, [text]), 202)
    return _result(result)


def _result(result: ChangeResult) -> HTMLResponse:
    rows = page.summary(result.booking, result.request)
    status = _STATUS_FOR_RESULT.get(result.outcome, 200)
    if result.outcome == "cancelled":
        body = page.render_message(page.CANCELLED_TITLE, [page.CANCELLED_TEXT], rows=rows)
    elif result.outcome == "escalated":
        body = page.render_message(page.SHORTLY_TITLE, [page.SHORTLY_TEXT], rows=rows)
    else:
        body = page.render_message(page.NOT_ACTIVE_TITLE, [page.NOT_ACTIVE_TEXT], rows=rows)
    return _html(body, status)
