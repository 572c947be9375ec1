"""GET /oauth/google/start and /oauth/google/callback: a rep's Google consent (SPEC §3).

The pages are for a person in a browser: plain HTML, escaped, never a stack trace.
"""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from handlers.deps import Parts
from integrations import google_oauth
from integrations.google_oauth import CALLBACK_PATH, START_PATH, ConsentError

router = APIRouter(tags=["oauth"])

# The callback URL carries a one-time code: keep it out of caches and other sites' referrers.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _page(status: int, title: str, message: str) -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · Frontdesk</title>
<style>body{{font-family:system-ui,sans-serif;margin:3rem auto;max-width:40rem;padding:0 1rem}}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(message)}</p>
</body></html>"""
    return HTMLResponse(page, status_code=status, headers=_PRIVATE)


# Plain `def` handlers: consent does blocking I/O (the token exchange, the database), which
# FastAPI runs in its thread pool.
@router.get(START_PATH, include_in_schema=False)
def google_start(parts: Parts, rep: str = "") -> Response:
    try:
        url = google_oauth.consent_url(parts.settings, parts.config, rep)
    except ConsentError as error:
        return _page(error.status, error.title, error.message)
    return RedirectResponse(url, status_code=302, headers=_PRIVATE)


@router.get(CALLBACK_PATH, include_in_schema=False)
def google_callback(parts: Parts, code: str = "", state: str = "", error: str = "") -> Response:
    try:
        connected = google_oauth.complete_consent(
            parts.settings, parts.config, parts.connections, code=code, state=state, error=error
        )
    except ConsentError as refusal:
        return _page(refusal.status, refusal.title, refusal.message)
    return _page(
        200,
        google_oauth.CONNECTED_TITLE,
        google_oauth.CONNECTED_MESSAGE.format(rep=connected.rep_email),
    )
