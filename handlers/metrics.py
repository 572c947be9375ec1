"""GET /metrics: Prometheus text format (SPEC §7); what it holds is bot/metrics.py's."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.concurrency import run_in_threadpool

router = APIRouter()


# Not in the OpenAPI document: the answer is Prometheus text, not JSON.
@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry  # built by create_app
    # The scrape queries the database: off the event loop, like every other database call.
    body = await run_in_threadpool(generate_latest, registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
