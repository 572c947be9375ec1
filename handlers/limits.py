"""Bounds on what one HTTP request may cost before any handler reads it.

Every request body is counted while it streams in: a declared Content-Length over the
limit is refused before a byte is read, and a body that grows past it (chunked, or longer
than declared) is refused at the chunk that crosses it, so memory stays flat whatever a
client sends. Reading the body also has a deadline, so a body that trickles in, or never
ends, cannot hold a connection and a worker forever.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE_MESSAGE = "the body is over {limit} KiB"
TOO_SLOW_MESSAGE = "the body did not arrive within {seconds:g} seconds"


class _BodyTooLarge(Exception):
    pass


class _BodyTooSlow(Exception):
    pass


class BodyLimitMiddleware:
    """Per-path body limits (default for every other path), enforced on the stream."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        limits: Mapping[str, int] | None = None,
        timeout_seconds: float,
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.limits = dict(limits or {})
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default_limit)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(
                send, 413, "payload_too_large", TOO_LARGE_MESSAGE.format(limit=limit // 1024)
            )
            return

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_seconds
        received = 0
        body_done = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # afterwards the app only listens for a disconnect: no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
                body_done = not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except _BodyTooLarge:
            if not started:
                message = TOO_LARGE_MESSAGE.format(limit=limit // 1024)
                await _refuse(send, 413, "payload_too_large", message)
        except _BodyTooSlow:
            if not started:
                message = TOO_SLOW_MESSAGE.format(seconds=self.timeout_seconds)
                await _refuse(send, 408, "request_timeout", message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None  # bytes: ASCII digits only
    return None


async def _refuse(send: Send, status: int, error: str, message: str) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
