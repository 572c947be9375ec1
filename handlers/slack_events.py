"""POST /slack/events: every Slack request (events, interactivity, slash commands) goes to
the Bolt app, dispatched on a worker thread so the event loop never waits on it.

The signature is checked here, before Bolt parses anything: Bolt parses the body first,
and a malformed unsigned body (`{not json`, `payload=%7Bnot-json`) made it log two ERROR
tracebacks per request, a log-flooding vector open to anyone.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.concurrency import run_in_threadpool

from handlers.deps import app_parts
from handlers.slack_runtime import add_lambda_context

router = APIRouter()

SLACK_NOT_CONFIGURED = (
    "Slack is not configured (sandbox mode): set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"
)
MAX_SLACK_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller; refuse junk early
BAD_SLACK_SIGNATURE = "X-Slack-Signature or X-Slack-Request-Timestamp is missing, stale or wrong"
MALFORMED_SLACK_BODY = "the body is not a Slack request (JSON, or a form with a JSON payload)"


def _parses(body: bytes, content_type: str) -> bool:
    """Whether Bolt can read this signed body without raising."""
    try:
        text = body.decode("utf-8")
        if content_type == "application/json":
            return isinstance(json.loads(text), dict)
        form = dict(parse_qsl(text, keep_blank_values=True))
        return "payload" not in form or isinstance(json.loads(form["payload"]), dict)
    except (ValueError, RecursionError):
        return False


@router.post("/slack/events", include_in_schema=False)
async def slack_events(request: Request) -> Response:
    slack_app = request.app.state.slack_app
    if slack_app is None:
        return JSONResponse({"error": "slack_not_configured", "message": SLACK_NOT_CONFIGURED}, 404)
    body = await request.body()
    if len(body) > MAX_SLACK_BODY_BYTES:
        return JSONResponse({"error": "payload_too_large"}, 413)
    secret = app_parts(request).settings.slack_signing_secret
    verifier = SignatureVerifier(secret.get_secret_value() if secret else "")
    if not verifier.is_valid_request(body, dict(request.headers)):
        return JSONResponse({"error": "invalid_signature", "message": BAD_SLACK_SIGNATURE}, 401)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not _parses(body, content_type):
        return JSONResponse({"error": "malformed_body", "message": MALFORMED_SLACK_BODY}, 400)
    bolt_request = to_bolt_request(request, body)
    add_lambda_context(bolt_request, request.scope)
    bolt_response = await run_in_threadpool(slack_app.dispatch, bolt_request)
    return to_starlette_response(bolt_response)
