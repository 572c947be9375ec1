"""GET /healthz: is the database answering?"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from handlers.deps import Parts
from handlers.schemas import HealthDown, HealthOk

router = APIRouter()


@router.get(
    "/healthz",
    tags=["operations"],
    summary="Liveness and database check",
    response_model=HealthOk,
    responses={503: {"model": HealthDown, "description": "The database does not answer"}},
)
async def healthz(parts: Parts) -> JSONResponse:
    if await run_in_threadpool(parts.db.ping):
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable", "reason": "database"}, status_code=503)
