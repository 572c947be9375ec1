"""GET /metrics: Prometheus text format (SPEC §7); what it holds is bot/metrics.py's."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from bot.metrics import build_registry
from handlers.deps import Parts

router = APIRouter()


# Not in the OpenAPI document: the answer is Prometheus text, not JSON.
@router.get("/metrics", include_in_schema=False)
async def metrics(parts: Parts) -> Response:
    # The scrape queries the database: off the event loop, like every other database call.
    body = await run_in_threadpool(generate_latest, build_registry(parts.db))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
