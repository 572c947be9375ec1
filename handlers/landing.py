"""GET /: a small landing page for a person who opens the server in a browser."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from bot.messages.pages import landing_page
from handlers.deps import Parts

router = APIRouter()


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def landing(parts: Parts) -> HTMLResponse:
    modes = parts.integrations.modes()
    return HTMLResponse(
        landing_page(sandboxed=sorted(k for k, v in modes.items() if v == "sandbox"))
    )
