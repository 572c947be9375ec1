"""POST /webhooks/booking: check, parse and hand the form to the processing service."""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import suppress
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from bot.domain.intake import FieldError, IntakeForm, IntakeValidationError, validate_request
from bot.domain.intake_guard import unstorable_fields
from bot.domain.phone import PhoneError, to_e164
from bot.domain.privacy import client_data
from bot.domain.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify
from bot.services.processing import StillProcessing, Submitted
from handlers.deps import AppParts, Parts
from handlers.duplicates import await_original
from handlers.errors import error_response
from handlers.schemas import IntakeResponse, ValidationFailed, error

log = logging.getLogger("frontdesk.intake")

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
REPLAY_HEADER = "Idempotent-Replay"
# The client's own words: never in a log line (SPEC §9).
CLIENT_FIELDS = ("name", "phone", "company", "notes")

router = APIRouter()


class BodyTooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _client_values(payload: dict[str, Any]) -> list[Any]:
    """The client's words as sent, and the phone also as it will be stored."""
    values = [payload.get(field) for field in CLIENT_FIELDS]
    phone = payload.get("phone")
    if isinstance(phone, str):
        with suppress(PhoneError):
            values.append(to_e164(phone))
    return values


def _parse(content_type: str, body: bytes) -> dict[str, Any]:
    """Raise ValueError with a reason when the body does not parse into an object."""
    text = body.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if content_type == JSON_TYPE:
        try:
            data = json.loads(text)
        except RecursionError:
            raise ValueError("the JSON is nested too deeply") from None
        if not isinstance(data, dict):
            raise ValueError("the JSON body must be an object")
        return data
    pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    return dict(pairs)


MAX_KEY_LENGTH = 200


def _idempotency_key(payload: dict[str, Any], header: str | None, body_sha: str) -> str:
    """Raise IntakeValidationError for an over-long key (submission_id has its own check)."""
    submission_id = payload.get("submission_id")
    key = submission_id.strip() if isinstance(submission_id, str) else ""
    if not key and header and len(header.strip()) > MAX_KEY_LENGTH:
        message = f"must be at most {MAX_KEY_LENGTH} characters"
        raise IntakeValidationError([FieldError("Idempotency-Key", message)])
    # An over-long submission_id is refused by validation; cut it so the replay lookup
    # before validation never overflows the column.
    key = key[: MAX_KEY_LENGTH + 1] or (header or "").strip()
    # No key at all: the exact same body is the same submission.
    return f"key:{key}" if key else f"body:{body_sha}"


def _accept(
    parts: AppParts, payload: dict[str, Any], header_key: str | None, body_sha: str
) -> Submitted:
    """Validate and submit, or replay a submission seen before (one trip to the threadpool)."""
    unstorable = unstorable_fields(payload, IntakeForm.model_fields)
    if header_key is not None:
        unstorable += unstorable_fields({"Idempotency-Key": header_key}, ["Idempotency-Key"])
    if unstorable:  # before anything reads a field: no database can store these
        raise IntakeValidationError(unstorable)
    key = _idempotency_key(payload, header_key, body_sha)
    try:
        valid = validate_request(payload, parts.config, parts.processor.clock())
    except IntakeValidationError:
        # A seen submission is answered from storage, even if it would not validate today.
        replayed = parts.processor.replay(key, wait=0.0)
        if replayed is None:
            raise
        return replayed
    return parts.processor.submit(valid, key, body_sha, wait=0.0)


def _result(submitted: Submitted) -> JSONResponse:
    headers = {REPLAY_HEADER: "true"} if submitted.replay else {}
    return JSONResponse(submitted.response, headers=headers)


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The request's outcome; a replay of a seen submission gets the original "
        "answer again",
        "headers": {
            REPLAY_HEADER: {
                "description": "`true` when this answers a submission seen before",
                "schema": {"type": "string", "enum": ["true"]},
            }
        },
    },
    400: error("Body does not parse"),
    401: error("Missing, bad or stale signature"),
    409: {**error("A duplicate is still being processed; retry after Retry-After")}
    | {"headers": _RETRY_AFTER},
    413: error("Body over 64 KiB"),
    415: error("Content type other than JSON or form"),
    422: {"model": ValidationFailed, "description": "Validation failed, per field"},
    503: {**error("The database is unreachable; retry with the same submission_id")}
    | {"headers": _RETRY_AFTER},
}


@router.post(
    "/webhooks/booking",
    tags=["intake"],
    summary="Submit a booking request (signed)",
    response_model=IntakeResponse,
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                JSON_TYPE: {"schema": IntakeForm.model_json_schema()},
                FORM_TYPE: {"schema": IntakeForm.model_json_schema()},
            },
        },
        "parameters": [
            {
                "name": TIMESTAMP_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "v0=hex(HMAC-SHA256)",
            },
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
        ],
    },
)
async def booking_webhook(request: Request, parts: Parts) -> Response:
    settings = parts.settings
    log_fields: dict[str, Any] = {}
    request.state.log = log_fields
    try:
        body = await _read_body(request, settings.frontdesk_max_body_bytes)
    except BodyTooLarge:
        limit = settings.frontdesk_max_body_bytes // 1024
        return error_response(413, "payload_too_large", f"the body is over {limit} KiB")

    secret = settings.frontdesk_webhook_secret
    try:
        verify(
            secret.get_secret_value() if secret else "",
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            body,
            tolerance_seconds=settings.frontdesk_signature_tolerance_seconds,
        )
    except SignatureError as exc:
        return error_response(401, "invalid_signature", str(exc))

    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in (JSON_TYPE, FORM_TYPE):
        return error_response(
            415, "unsupported_media_type", f"send {JSON_TYPE} or {FORM_TYPE}, not {content_type!r}"
        )
    try:
        payload = _parse(content_type, body)
    except ValueError as exc:
        return error_response(400, "malformed_body", f"the body does not parse: {exc}")

    body_sha = hashlib.sha256(body).hexdigest()
    header_key = request.headers.get("idempotency-key")
    with client_data(*_client_values(payload)):
        return await _submit(parts, payload, header_key, body_sha, log_fields)


async def _submit(
    parts: AppParts,
    payload: dict[str, Any],
    header_key: str | None,
    body_sha: str,
    log_fields: dict[str, Any],
) -> Response:
    settings = parts.settings
    try:
        try:
            submitted = await run_in_threadpool(_accept, parts, payload, header_key, body_sha)
        except StillProcessing as still:
            # A duplicate: wait for the original on the event loop, not in a thread.
            budget = settings.frontdesk_duplicate_wait_seconds
            response = await await_original(parts.processor, still, budget)
            submitted = Submitted(still.request_id, response, replay=True)
    except IntakeValidationError as exc:
        log_fields["outcome"] = "rejected"
        errors = [{"field": e.field, "message": e.message} for e in exc.errors]
        return JSONResponse({"error": "validation_failed", "errors": errors}, status_code=422)
    except StillProcessing as exc:
        log_fields.update(request_id=exc.request_id, outcome="in_progress")
        return error_response(
            409,
            "in_progress",
            "this submission is still being processed; retry shortly",
            request_id=exc.request_id,
            retry_after=exc.retry_after,
        )
    except Exception:
        log.exception("intake failed after validation")
        return error_response(
            503,
            "temporarily_unavailable",
            "the request could not be processed now; retry with the same submission_id",
            retry_after=30,
        )
    log_fields.update(
        request_id=submitted.request_id,
        outcome=submitted.response.get("status"),
        replay=submitted.replay,
    )
    return _result(submitted)
