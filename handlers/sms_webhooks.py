"""POST /webhooks/twilio/status and /webhooks/twilio/inbound: Twilio's delivery reports
and the texts clients send back (STOP), each signed with our auth token (X-Twilio-Signature,
checked with twilio's RequestValidator over the public URL Twilio was given).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from handlers.deps import app_parts

router = APIRouter()
log = logging.getLogger("frontdesk.twilio.webhooks")

TWILIO_NOT_CONFIGURED = (
    "Twilio is not configured (sandbox mode): set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
    "TWILIO_FROM"
)
BAD_SIGNATURE = (
    "X-Twilio-Signature does not match: the request is not from Twilio, or Twilio was given "
    "a URL other than FRONTDESK_PUBLIC_URL + this path"
)
MAX_TWILIO_BODY_BYTES = 64 * 1024


async def _verified_form(request: Request) -> dict[str, str] | Response:
    """The form Twilio posted, or the error response when it is not a signed Twilio post."""
    components = app_parts(request)
    token = components.settings.twilio_auth_token
    if token is None or not components.settings.twilio_configured:
        return JSONResponse(
            {"error": "twilio_not_configured", "message": TWILIO_NOT_CONFIGURED}, 404
        )
    body = await request.body()
    if len(body) > MAX_TWILIO_BODY_BYTES:
        return JSONResponse({"error": "payload_too_large"}, 413)
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        return JSONResponse({"error": "bad_request", "message": "the form is not UTF-8"}, 400)
    # Twilio signs the URL it was configured with; behind a proxy that is the public one.
    url = components.settings.frontdesk_public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    if not RequestValidator(token.get_secret_value()).validate(url, form, signature):
        log.warning("Twilio webhook with a bad signature", extra={"path": request.url.path})
        return JSONResponse({"error": "invalid_signature", "message": BAD_SIGNATURE}, 403)
    return form


@router.post("/webhooks/twilio/status", include_in_schema=False)
async def status_callback(request: Request) -> Response:
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    sid, status = form.get("MessageSid") or form.get("SmsSid"), form.get("MessageStatus")
    if not sid or not status:
        field = "MessageSid" if not sid else "MessageStatus"
        return JSONResponse(
            {"error": "validation_failed", "errors": [{"field": field, "message": "missing"}]},
            422,
        )
    reminder = request.query_params.get("reminder")
    components = app_parts(request)
    await run_in_threadpool(
        components.sms_feedback.delivery_report,
        reminder_id=int(reminder)
        if reminder and reminder.isascii() and reminder.isdigit()
        else None,
        meeting=request.query_params.get("meeting"),
        sid=sid,
        status=status,
        error_code=form.get("ErrorCode") or None,
    )
    # 200 also for a message we do not know: Twilio would only retry it.
    return Response(status_code=204)


@router.post("/webhooks/twilio/inbound", include_in_schema=False)
async def inbound_message(request: Request) -> Response:
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    phone = form.get("From")
    if not phone:
        return JSONResponse(
            {"error": "validation_failed", "errors": [{"field": "From", "message": "missing"}]},
            422,
        )
    components = app_parts(request)
    await run_in_threadpool(
        components.sms_feedback.inbound,
        phone,
        form.get("Body", ""),
        form.get("OptOutType") or None,
    )
    # An empty TwiML answer: Twilio's own opt-out handling already replies to STOP.
    return Response(str(MessagingResponse()), media_type="application/xml")
