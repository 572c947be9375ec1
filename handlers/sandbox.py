"""GET /sandbox and /sandbox.json: what sandbox mode would have sent (SPEC §8)."""

from __future__ import annotations

import html
import json
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from handlers.deps import Parts
from handlers.schemas import VALIDATION_FAILED, SandboxList
from storage.models import OutboxMessage, OutboxStatus

router = APIRouter(tags=["sandbox"])

Service = Literal["slack", "calendar", "email", "sms"]


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


@router.get("/sandbox", response_class=HTMLResponse, include_in_schema=False)
async def sandbox_page(
    parts: Parts,
    service: Service | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
) -> HTMLResponse:
    items = await _items(parts, service, limit)
    rows = "".join(
        "<tr><td>{at}</td><td>{service}</td><td>{action}</td><td>{request}</td>"
        "<td>{status}</td><td><pre>{payload}</pre></td></tr>".format(
            at=html.escape(item["at"]),
            service=html.escape(item["service"]),
            action=html.escape(item["action"]),
            request=html.escape(item["request_id"] or ""),
            status=html.escape(item["status"] + (f": {item['error']}" if item["error"] else "")),
            payload=html.escape(json.dumps(item["payload"], indent=2, ensure_ascii=False)),
        )
        for item in items
    )
    empty = "<p>Nothing recorded yet. Try <code>frontdesk submit</code>.</p>" if not items else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Frontdesk sandbox</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem}}
table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ddd;padding:.4rem;vertical-align:top;text-align:left}}
pre{{margin:0;white-space:pre-wrap;max-height:20rem;overflow:auto;font-size:.8rem}}
</style></head><body>
<h1>Sandbox outbox</h1>
<p>What Frontdesk would have sent (sandboxed services) or sent and failed to send (real
ones), newest first. Filter:
<a href="/sandbox">all</a> · <a href="/sandbox?service=slack">slack</a> ·
<a href="/sandbox?service=calendar">calendar</a> · <a href="/sandbox?service=email">email</a> ·
<a href="/sandbox?service=sms">sms</a> · <a href="/sandbox.json">JSON</a></p>
{empty}<table><tr><th>at</th><th>service</th><th>action</th><th>request</th><th>status</th><th>payload</th></tr>
{rows}</table></body></html>"""
    return HTMLResponse(page)
