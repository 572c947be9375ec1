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
        deadline = asyncio.get_running_loop().time() + self.timeout_seconds
        body = _LimitedBody(receive, send, limit, deadline)
        try:
            await self.app(scope, body.receive, body.send)
        except _BodyTooLarge:
            if not body.started:
                message = TOO_LARGE_MESSAGE.format(limit=limit // 1024)
                await _refuse(send, 413, "payload_too_large", message)
        except _BodyTooSlow:
            if not body.started:
                message = TOO_SLOW_MESSAGE.format(seconds=self.timeout_seconds)
                await _refuse(send, 408, "request_timeout", message)


class _LimitedBody:
    """One request's body, counted while it streams and due by a deadline."""

    def __init__(self, receive: Receive, send: Send, limit: int, deadline: float) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.deadline = deadline
        self.received = 0
        self.body_done = False
        self.started = False  # whether the app began its answer

    async def receive(self) -> Message:
        if self.body_done:  # afterwards the app only listens for a disconnect: no deadline
            return await self._receive()
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            raise _BodyTooSlow from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                raise _BodyTooLarge
            self.body_done = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


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
