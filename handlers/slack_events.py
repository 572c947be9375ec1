"""POST /slack/events: every Slack request (events, interactivity, slash commands) goes to
the Bolt app, dispatched on a worker thread so the event loop never waits on it.

The signature is checked here, before Bolt parses anything: Bolt parses the body first,
and a malformed unsigned body (`{not json`, `payload=%7Bnot-json`) made it log two ERROR
tracebacks per request, a log-flooding vector open to anyone.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt import BoltRequest
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


def _bolt_request(request: Request, body: bytes) -> BoltRequest | None:
    """The signed body as Bolt reads it, parsed once (a claim's form is kilobytes of
    percent-encoded JSON, and parsing it is a good part of the ack), or None when it is
    not a Slack request (JSON, or a form with a JSON payload): Bolt would fail on it later,
    with tracebacks in the log.
    """
    try:
        bolt_request = to_bolt_request(request, body)
    except (ValueError, RecursionError, AttributeError, TypeError):  # not JSON, not an object
        return None
    return bolt_request if isinstance(bolt_request.body, dict) else None


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
    bolt_request = _bolt_request(request, body)
    if bolt_request is None:
        return JSONResponse({"error": "malformed_body", "message": MALFORMED_SLACK_BODY}, 400)
    add_lambda_context(bolt_request, request.scope)
    bolt_response = await run_in_threadpool(slack_app.dispatch, bolt_request)
    return to_starlette_response(bolt_response)
