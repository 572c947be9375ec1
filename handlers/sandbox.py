"""GET /sandbox and /sandbox.json: what sandbox mode would have sent (SPEC §8). The page is
drawn by bot/messages/sandbox_page.py from what bot/services/sandbox_view.py reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from bot.messages import sandbox_page
from bot.messages.sandbox_page import Filters
from bot.messages.slack_render import RenderContext
from bot.services.sandbox_view import SandboxViewer
from handlers.deps import AppParts, Parts
from handlers.schemas import VALIDATION_FAILED, SandboxList
from storage.models import OutboxMessage, OutboxStatus

router = APIRouter(tags=["sandbox"])

Service = Literal["slack", "calendar", "email", "sms", "crm"]


REAL_PAYLOAD_HIDDEN = {"hidden": "sent through the real service; the content stays private"}


def _item(message: OutboxMessage) -> dict[str, Any]:
    # Rows of real services (sent, pending or failed) are listed so a failure is visible,
    # but not their content: this page has no login, and they hold clients' details.
    sandboxed = message.status == OutboxStatus.SANDBOXED
    return {
        "service": message.service,
        "action": message.action,
        "at": message.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "request_id": message.request_id,
        "status": message.status,
        "error": message.last_error,
        "payload": message.payload if sandboxed else REAL_PAYLOAD_HIDDEN,
        "result": message.result if sandboxed else None,
    }


async def _items(parts: Parts, service: str | None, limit: int) -> list[dict[str, Any]]:
    rows = await run_in_threadpool(parts.outbox.latest, limit=limit, service=service)
    return [_item(row) for row in rows]


@router.get(
    "/sandbox.json",
    summary="Recorded outgoing messages, newest first",
    response_model=SandboxList,
    responses=VALIDATION_FAILED,
)
async def sandbox_json(
    parts: Parts,
    service: Service | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> dict[str, list[dict[str, Any]]]:
    return {"items": await _items(parts, service, limit)}


def _page(parts: AppParts, filters: Filters, zone: ZoneInfo) -> str:
    viewer = SandboxViewer(
        parts.config, parts.outbox, parts.requests, parts.escalations, parts.bookings
    )
    histories = viewer.histories(request_id=filters.request, limit=filters.limit)
    context = RenderContext(zone=zone, names=viewer.names())
    return sandbox_page.render(histories, context, filters, now=datetime.now(UTC))


@router.get("/sandbox", response_class=HTMLResponse, include_in_schema=False)
async def sandbox_view(
    parts: Parts,
    service: Service | Literal[""] = "",
    request: str = Query(default="", max_length=40, pattern=r"^[A-Za-z0-9_]*$"),
    limit: int = Query(default=200, ge=1, le=1000),
    tz: str = Query(default="", max_length=64, description="IANA zone; default the business's"),
) -> HTMLResponse:
    """Each request as a timeline, every message drawn as its reader sees it."""
    try:
        zone = ZoneInfo(tz) if tz else parts.config.zone
    except (ZoneInfoNotFoundError, ValueError):
        zone = parts.config.zone
    filters = Filters(request=request.strip(), service=service, limit=limit)
    return HTMLResponse(await run_in_threadpool(_page, parts, filters, zone))
