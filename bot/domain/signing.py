"""Slack-style request signing for the intake webhook (SPEC §3.1)."""

from __future__ import annotations

import hashlib
import hmac
import time

VERSION = "v0"
TIMESTAMP_HEADER = "X-Frontdesk-Request-Timestamp"
SIGNATURE_HEADER = "X-Frontdesk-Signature"


class SignatureError(Exception):
    """Why a request's signature was refused (safe to show the sender)."""


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    tolerance_seconds: int = 300,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless the signature is valid and the timestamp is fresh."""
    if not timestamp or not signature:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header")
    try:
        if not timestamp.isascii():  # int() also reads other scripts' digits
            raise ValueError(timestamp)
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be unix seconds") from None
    current = now if now is not None else time.time()
    if abs(current - sent_at) > tolerance_seconds:
        raise SignatureError(
            f"timestamp is more than {tolerance_seconds} seconds from now (stale or replayed)"
        )
    expected = sign(secret, timestamp, body).encode()
    # Compare bytes: compare_digest refuses non-ASCII str, and a forged header may be anything.
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        raise SignatureError("signature does not match the body")
