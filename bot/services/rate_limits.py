"""Per-client rate limits of the public booking page, with the `limits` library: kept in
memory for one process, or in a shared storage (a Redis URL) so that several replicas
count one client together.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

BOOK_POSTS = "book"
SLOT_READS = "slots"
DEFAULT_LIMITS = {BOOK_POSTS: "10/minute", SLOT_READS: "120/minute"}


class ClientRateLimits:
    def __init__(self, storage_url: str = "memory://", limits: dict[str, str] | None = None):
        self.storage = storage_from_string(storage_url)
        self._limiter = MovingWindowRateLimiter(self.storage)
        self._items: dict[str, RateLimitItem] = {
            name: parse(text) for name, text in (limits or DEFAULT_LIMITS).items()
        }

    def hit(self, name: str, client: str) -> int | None:
        """Count one use of `name` by `client`: None when allowed, else the seconds to wait
        before the next use would be (for `Retry-After`, at least 1).
        """
        item = self._items[name]
        if self._limiter.hit(item, name, client):
            return None
        reset = self._limiter.get_window_stats(item, name, client).reset_time
        return max(1, math.ceil(reset - time.time()))
