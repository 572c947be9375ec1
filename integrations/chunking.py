"""Splitting provider queries to fit their limits (calendars per call, days per call)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta


def batches(items: tuple[str, ...], size: int) -> Iterator[tuple[str, ...]]:
    """Consecutive groups of at most `size` items, in order."""
    for index in range(0, len(items), size):
        yield items[index : index + size]


def time_ranges(
    start: datetime, end: datetime, longest: timedelta
) -> Iterator[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive ranges no longer than `longest`."""
    while start < end:
        yield start, min(start + longest, end)
        start += longest
