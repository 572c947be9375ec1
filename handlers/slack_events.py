"""POST /slack/events: every Slack request (events, interactivity, slash commands) goes to
the Bolt app, dispatched on a worker thread so the event loop never waits on it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.concurrency import run_in_threadpool

from handlers.slack_runtime import add_lambda_context

router = APIRouter()

SLACK_NOT_CONFIGURED = (
    "Slack is not configured (sandbox mode): set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"
)
MAX_SLACK_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller; refuse junk early


@router.post("/slack/events", include_in_schema=False)
async def slack_events(request: Request) -> Response:
    slack_app = request.app.state.slack_app
    if slack_app is None:
        return JSONResponse({"error": "slack_not_configured", "message": SLACK_NOT_CONFIGURED}, 404)
    body = await request.body()
    if len(body) > MAX_SLACK_BODY_BYTES:
        return JSONResponse({"error": "payload_too_large"}, 413)
    bolt_request = to_bolt_request(request, body)
    add_lambda_context(bolt_request, request.scope)
    bolt_response = await run_in_threadpool(slack_app.dispatch, bolt_request)
    return to_starlette_response(bolt_response)
