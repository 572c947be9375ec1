"""The client's booking page (SPEC §10), thin: parse, rate-limit, call the booking page
service, render its answer with the templates, and set the headers (CSP, CORS, caching).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from bot.domain.form_token import TokenError
from bot.services.booking_page import (
    ERROR_SUMMARY_TITLE,
    NO_SLOTS_THIS_WEEK,
    BadParameter,
    DoneView,
    Failed,
    Forbidden,
    PageView,
    Redirect,
    UnknownRep,
)
from bot.services.rate_limits import BOOK_POSTS, SLOT_READS
from handlers.deps import AppParts, Parts

log = logging.getLogger("frontdesk.booking_page")

FORM_TYPE = "application/x-www-form-urlencoded"
GZIP_MIN_BYTES = 1024

# Page wording (the service owns the booking page's own messages).
NOT_FOUND_TITLE = "Page not found"
NOT_FOUND_TEXT = "There is no booking page at this address. Check the link you were given."
FORBIDDEN_TITLE = "This form has expired"
FORBIDDEN_TEXT = (
    "For your security, a booking form can be sent once, within 2 hours of opening it. "
    "Nothing was booked. Please choose your time again."
)
TOO_MANY_TITLE = "Too many attempts"
TOO_MANY_TEXT = "Please wait {seconds} seconds, then try again."
UNAVAILABLE_TITLE = "Sorry, there is a problem with the service"
UNAVAILABLE_TEXT = "Nothing was booked. Please try again in a few minutes."
UNREADABLE_TITLE = "Sorry, the form could not be read"
UNREADABLE_TEXT = "Nothing was booked. Please open the booking page and try again."
FRESH_FORM = "Open a new booking form"

router = APIRouter()

_templates = Environment(
    loader=PackageLoader("bot.messages", "templates/booking"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals.update(
    ERROR_SUMMARY_TITLE=ERROR_SUMMARY_TITLE, NO_SLOTS_THIS_WEEK=NO_SLOTS_THIS_WEEK
)


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    etag: str


def _asset(name: str, media_type: str) -> _Asset:
    body = resources.files("bot.messages").joinpath("static", name).read_bytes()
    return _Asset(
        body, gzip.compress(body, 9, mtime=0), media_type, hashlib.sha256(body).hexdigest()[:16]
    )


_ASSETS = {
    "book.css": _asset("book.css", "text/css; charset=utf-8"),
    "book.js": _asset("book.js", "text/javascript; charset=utf-8"),
}
_EMBED = _asset("embed.js", "text/javascript; charset=utf-8")


def _accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


def _security_headers(parts: AppParts) -> dict[str, str]:
    ancestors = " ".join(["'self'", *parts.config.booking_page.embed_origins])
    return {
        "Content-Security-Policy": (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            f"form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
        ),
        "X-Content-Type-Options": "nosniff",
        # The done page's address holds the form token: never hand it to another site.
        "Referrer-Policy": "no-referrer",
    }


def _html(
    request: Request, parts: AppParts, template: str, status: int, **context: Any
) -> Response:
    body = _templates.get_template(template).render(
        embed_origins=parts.config.booking_page.embed_origins,
        site_title=parts.config.booking_page.title,
        asset_version={name: asset.etag for name, asset in _ASSETS.items()},
        **context,
    )
    data = body.encode()
    headers = {**_security_headers(parts), "Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if _accepts_gzip(request) and len(data) >= GZIP_MIN_BYTES:
        data = gzip.compress(data, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(
        data, status_code=status, media_type="text/html; charset=utf-8", headers=headers
    )


def _page(request: Request, parts: AppParts, view: PageView) -> Response:
    return _html(request, parts, "book.html", view.status_code, page=view)


def _message(
    request: Request,
    parts: AppParts,
    status: int,
    title: str,
    text: str,
    *,
    again: str | None = None,
    embed: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    response = _html(
        request,
        parts,
        "message.html",
        status,
        title=title,
        text=text,
        again=again,
        again_text=FRESH_FORM,
        embed=embed,
    )
    response.headers.update(headers or {})
    return response


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _page_path(slug: str | None) -> str:
    return f"/book/{slug}" if slug else "/book"


# ------------------------------------------------------------------------- the page


async def _show(request: Request, parts: AppParts, slug: str | None) -> Response:
    params = dict(request.query_params)
    try:
        view = await run_in_threadpool(parts.booking_page.view, slug, params)
    except UnknownRep:
        return _message(request, parts, 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)
    return _page(request, parts, view)


@router.get("/book", include_in_schema=False)
async def team_page(request: Request, parts: Parts) -> Response:
    return await _show(request, parts, None)


@router.get("/book/{slug}", include_in_schema=False)
async def rep_page(request: Request, parts: Parts, slug: str) -> Response:
    return await _show(request, parts, slug)


async def _post(request: Request, parts: AppParts, slug: str | None) -> Response:
    embed = request.query_params.get("embed") == "1"
    retry = parts.rate_limits.hit(BOOK_POSTS, _client(request))
    if retry is not None:
        return _message(
            request,
            parts,
            429,
            TOO_MANY_TITLE,
            TOO_MANY_TEXT.format(seconds=retry),
            embed=embed,
            headers={"Retry-After": str(retry)},
        )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if content_type != FORM_TYPE or len(body) > parts.settings.frontdesk_max_body_bytes:
        return _message(
            request,
            parts,
            415 if content_type != FORM_TYPE else 413,
            UNREADABLE_TITLE,
            UNREADABLE_TEXT,
            again=_page_path(slug),
            embed=embed,
        )
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        form = {}
    embed = embed or form.get("embed") == "1"
    try:
        result = await run_in_threadpool(parts.booking_page.submit, slug, form, body)
    except UnknownRep:
        return _message(request, parts, 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)
    if isinstance(result, Redirect):
        query = "?embed=1" if result.embed else ""
        return RedirectResponse(f"/book/done/{result.token}{query}", status_code=303)
    if isinstance(result, Forbidden):
        fresh = {
            k: form[k]
            for k in ("tz", "duration", "name", "email", "company", "notes")
            if form.get(k)
        }
        if embed:
            fresh["embed"] = "1"
        again = _page_path(slug) + (f"?{urlencode(fresh)}" if fresh else "")
        return _message(
            request, parts, 403, FORBIDDEN_TITLE, FORBIDDEN_TEXT, again=again, embed=embed
        )
    if isinstance(result, Failed):
        return _message(
            request,
            parts,
            503,
            UNAVAILABLE_TITLE,
            UNAVAILABLE_TEXT,
            again=_page_path(slug),
            embed=embed,
            headers={"Retry-After": "30"},
        )
    return _page(request, parts, result)


@router.post("/book", include_in_schema=False)
async def team_post(request: Request, parts: Parts) -> Response:
    return await _post(request, parts, None)


@router.post("/book/{slug}", include_in_schema=False)
async def rep_post(request: Request, parts: Parts, slug: str) -> Response:
    return await _post(request, parts, slug)


@router.get("/book/done/{token}", include_in_schema=False)
async def done_page(request: Request, parts: Parts, token: str) -> Response:
    embed = request.query_params.get("embed") == "1"
    try:
        view = await run_in_threadpool(parts.booking_page.done, token, embed=embed)
    except TokenError:
        return _message(request, parts, 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT, again="/book")
    if isinstance(view, DoneView):
        return _html(request, parts, "done.html", 200, done=view)
    return _page(request, parts, view)


@router.get("/book/done/{token}/calendar.ics", include_in_schema=False)
async def done_calendar(request: Request, parts: Parts, token: str) -> Response:
    try:
        data = await run_in_threadpool(parts.booking_page.ics, token)
    except TokenError:
        data = None
    if data is None:
        return _message(request, parts, 404, NOT_FOUND_TITLE, NOT_FOUND_TEXT)
    return Response(
        data,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="meeting.ics"',
            "Cache-Control": "no-store",
        },
    )


# ------------------------------------------------------------------------- the API


def _cors(request: Request, parts: AppParts) -> dict[str, str]:
    origin = request.headers.get("origin", "").lower().rstrip("/")
    if origin and origin in parts.config.booking_page.embed_origins:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


@router.get(
    "/api/slots",
    tags=["booking page"],
    summary="Free slots of the team or one rep, in a time zone",
    responses={
        422: {"description": "Bad parameter: `{error, errors: [{field, message}]}`"},
        429: {"description": "Over 120 requests a minute from this address; see Retry-After"},
    },
)
async def api_slots(request: Request, parts: Parts) -> Response:
    headers = _cors(request, parts)
    retry = parts.rate_limits.hit(SLOT_READS, _client(request))
    if retry is not None:
        return JSONResponse(
            {"error": "rate_limited", "message": f"too many requests; retry in {retry} s"},
            status_code=429,
            headers={**headers, "Retry-After": str(retry)},
        )
    q = request.query_params
    try:
        data = await run_in_threadpool(
            parts.booking_page.api_slots,
            q.get("rep") or None,
            q.get("from"),
            q.get("days"),
            q.get("tz"),
            q.get("duration"),
        )
    except BadParameter as exc:
        return JSONResponse(
            {
                "error": "validation_failed",
                "errors": [{"field": exc.field, "message": exc.message}],
            },
            status_code=422,
            headers=headers,
        )
    except UnknownRep:
        return JSONResponse(
            {
                "error": "validation_failed",
                "errors": [{"field": "rep", "message": "no booking page has this slug"}],
            },
            status_code=422,
            headers=headers,
        )
    body = json.dumps(data, separators=(",", ":")).encode()
    headers["Cache-Control"] = "no-store"
    if _accepts_gzip(request) and len(body) >= GZIP_MIN_BYTES:
        body = gzip.compress(body, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


# ------------------------------------------------------------------------- static files


def _serve(request: Request, asset: _Asset, max_age: int) -> Response:
    headers = {
        "ETag": f'"{asset.etag}"',
        "Cache-Control": f"public, max-age={max_age}",
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == f'"{asset.etag}"':
        return Response(status_code=304, headers=headers)
    if _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/book/static/{name}", include_in_schema=False)
async def static_file(request: Request, name: str) -> Response:
    asset = _ASSETS.get(name)
    if asset is None:
        return Response("not found", status_code=404, media_type="text/plain")
    # The page links each file with its hash in the query, so a long cache is safe.
    return _serve(request, asset, 86400)


@router.get("/embed.js", include_in_schema=False)
async def embed_script(request: Request) -> Response:
    # Host pages link this address without a hash: a short cache picks changes up.
    response = _serve(request, _EMBED, 3600)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
