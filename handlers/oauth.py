"""GET /oauth/google/start and /oauth/google/callback: a rep's Google consent (SPEC §3).

The pages are for a person in a browser: plain HTML, escaped, never a stack trace.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Cookie
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from handlers.deps import Parts
from integrations import google_oauth
from integrations.google_oauth import CALLBACK_PATH, START_PATH, STATE_COOKIE, ConsentError
from storage.repositories.oauth_states import OAuthStateRepository

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
    nonce = google_oauth.new_nonce()
    try:
        url = google_oauth.consent_url(parts.settings, parts.config, rep, nonce)
    except ConsentError as error:
        return _page(error.status, error.title, error.message)
    response = RedirectResponse(url, status_code=302, headers=_PRIVATE)
    # Binds the state to this browser: the callback must come back with the same nonce.
    response.set_cookie(
        STATE_COOKIE,
        nonce,
        max_age=google_oauth.STATE_TTL_SECONDS,
        path=CALLBACK_PATH,
        secure=parts.settings.frontdesk_public_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(CALLBACK_PATH, include_in_schema=False)
def google_callback(
    parts: Parts,
    code: str = "",
    state: str = "",
    error: str = "",
    browser_nonce: Annotated[str | None, Cookie(alias=STATE_COOKIE)] = None,
) -> Response:
    try:
        connected = google_oauth.complete_consent(
            parts.settings,
            parts.config,
            parts.connections,
            code=code,
            state=state,
            error=error,
            browser_nonce=browser_nonce,
            state_uses=OAuthStateRepository(parts.db),
        )
    except ConsentError as refusal:
        return _page(refusal.status, refusal.title, refusal.message)
    # The cookie is left to expire: a replay from this browser is then told "already used".
    return _page(
        200,
        google_oauth.CONNECTED_TITLE,
        google_oauth.CONNECTED_MESSAGE.format(rep=connected.rep_email),
    )
