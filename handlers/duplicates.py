"""A duplicate submission waiting for the original's answer, without holding a thread.

The wait once slept in a worker thread for up to 30 s: after a replica crashed, its
clients' retries each held one of the threads every handler shares, and /healthz queued
behind them. Here the event loop does the waiting; each look at the database is one short
trip to the thread pool, which also takes over a dead holder's lease the moment it runs
out. When the budget is spent the duplicate gets 409 with Retry-After (the time left on
the holder's lease).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.concurrency import run_in_threadpool

from bot.services.processing import RequestProcessor, StillProcessing

FIRST_POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 0.5


async def await_original(
    processor: RequestProcessor, still: StillProcessing, budget_seconds: float
) -> dict[str, Any]:
    """The original's final response; raise the last StillProcessing when the budget ends."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget_seconds
    delay = FIRST_POLL_SECONDS
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise still
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, MAX_POLL_SECONDS)
        try:
            # wait=0: one look (and one claim attempt), never a sleep in the thread.
            response: dict[str, Any] = await run_in_threadpool(
                processor.process, still.request_id, 0.0
            )
        except StillProcessing as again:
            still = again
            continue
        return response
