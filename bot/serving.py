"""How `frontdesk serve` runs uvicorn: connection limits and timeouts (README "Security and
limits").

uvicorn's own keep-alive timer only runs between requests, and h11 has no deadline for a
request's head: a client that opens a socket and trickles a header a byte at a time (slow
loris) held its connection forever. The protocol below gives every request head a deadline
counted from its first byte (or from the connection), and closes the connection when it
passes. The body's deadline is handlers/limits.py's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.settings import Settings

# h11 refuses a request head larger than this (uvicorn's default, stated here on purpose).
MAX_HEAD_BYTES = 16 * 1024
# Connections the OS may queue before uvicorn accepts them.
BACKLOG = 256


class HeadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head takes too long."""

    head_timeout_seconds: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm_head_timer()  # the next request's head has begun: its deadline runs
        else:
            self._cancel_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout_seconds, self._head_late)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def on_response_complete(self) -> None:
        self._cancel_head_timer()  # between requests the keep-alive timer rules
        super().on_response_complete()


def protocol_with_head_timeout(seconds: float) -> type[HeadTimeoutH11Protocol]:
    return type(
        "FrontdeskH11Protocol", (HeadTimeoutH11Protocol,), {"head_timeout_seconds": seconds}
    )


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run beyond the app, host and port."""
    return {
        "http": protocol_with_head_timeout(settings.frontdesk_header_timeout_seconds),
        "timeout_keep_alive": settings.frontdesk_keep_alive_seconds,
        "limit_concurrency": settings.frontdesk_max_concurrency,
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
        "backlog": BACKLOG,
        "log_config": None,
        "access_log": False,
    }
