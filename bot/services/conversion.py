"""Revenue, not just bookings (SPEC §12): for each finished request whose client is a CRM
contact, whether a deal of that contact or its company was won within `[crm]
conversion_days` after the request, and for how much.

Read-only and paced well under the CRM's rate limits (HubSpot private apps: 190 requests
per 10 s; a lookup costs a handful of calls). Resumable: each request's answer is stored
as it comes, a rate limit or an outage ends the run, and the next run picks up the
requests not yet read; a request is read again at most daily until its window has passed,
then never.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.services.telemetry import count_integration_error
from integrations.tickets import CrmError, TicketSink
from storage.models import DealConversion, utcnow
from storage.repositories import TicketRepository

log = logging.getLogger("frontdesk.conversion")

CONVERSION_INTERVAL_SECONDS = 3600
# Requests looked at per run, and the pause between two: ~2 lookups a second, a small
# share of HubSpot's 19 calls a second, leaving the rest to tickets.
BATCH = 200
PACE_SECONDS = 0.5
RECHECK_AFTER = timedelta(days=1)
HISTORY = timedelta(days=365)  # how far back a fresh install reads


class DealConversions:
    """The job that reads won deals back from the CRM, request by request."""

    def __init__(
        self,
        sink: TicketSink,
        repo: TicketRepository,
        *,
        conversion_days: int,
        clock: Callable[[], datetime] = utcnow,
        pace_seconds: float = PACE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sink = sink
        self.repo = repo
        self.window = timedelta(days=conversion_days)
        self.clock = clock
        self.pace_seconds = pace_seconds
        self._sleep = sleep

    def tick(self, stop: threading.Event | None = None, limit: int = BATCH) -> dict[str, int]:
        """One run: up to `limit` requests, oldest first; returns counts for the job log."""
        counts = {"conversions_read": 0, "conversions_won": 0}
        if self.sink.name == "sandbox":
            return counts  # no CRM contacts to read
        now = self.clock()
        candidates = self.repo.conversion_candidates(
            received_after=now - HISTORY, checked_before=now - RECHECK_AFTER, limit=limit
        )
        for index, (request_id, email, received_at) in enumerate(candidates):
            if stop is not None and stop.is_set():
                break
            if index:
                self._sleep(self.pace_seconds)
            ends = received_at + self.window
            try:
                found = self.sink.won_deals(email, received_at, ends)
            except CrmError as error:
                count_integration_error(error)
                log.warning(
                    "deal conversion read stopped; the next run resumes it",
                    extra={"request_id": request_id, "error": error.code},
                )
                break
            won = found.won if found is not None else ()
            amounts = [deal.amount for deal in won if deal.amount is not None]
            self.repo.record_conversion(
                DealConversion(
                    request_id=request_id,
                    provider=self.sink.name,
                    contact_id=found.contact_id if found is not None else None,
                    won=bool(won),
                    amount=sum(amounts) if amounts else None,
                    won_at=won[0].closed_at if won else None,
                    checked_at=now,
                    final=now >= ends,
                )
            )
            counts["conversions_read"] += 1
            counts["conversions_won"] += bool(won)
        return counts
