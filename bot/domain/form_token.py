"""The booking page's form token: issued with each form, signed with a key derived from
the server secret, good for two hours, and used once as the request's idempotency key
(a second post of the same form is a replay of the first, never a second booking).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

TOKEN_LIFETIME = timedelta(hours=2)
# A key of its own, so a form token can never pass for a webhook signature or the reverse.
_KEY_PURPOSE = b"frontdesk booking page form token v1"
_MAX_LENGTH = 200


class TokenError(Exception):
    """Why a token was refused: missing, forged or expired (the page offers a new form)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FormToken:
    text: str
    nonce: str
    issued_at: datetime

    @property
    def idempotency_key(self) -> str:
        return f"page:{self.nonce}"


def derive_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _KEY_PURPOSE, hashlib.sha256).digest()


class FormTokens:
    def __init__(self, key: bytes, lifetime: timedelta = TOKEN_LIFETIME) -> None:
        self._key = key
        self.lifetime = lifetime

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self, now: datetime) -> FormToken:
        nonce = secrets.token_urlsafe(16)
        body = f"{int(now.timestamp()):x}.{nonce}"
        return FormToken(f"{body}.{self._sign(body)}", nonce, now)

    def read(self, text: str | None, now: datetime, *, check_expiry: bool = True) -> FormToken:
        """The token, if it is ours and (unless told otherwise) not expired."""
        if not text:
            raise TokenError("missing")
        parts = text.split(".")
        if len(text) > _MAX_LENGTH or len(parts) != 3:
            raise TokenError("forged")
        issued_hex, nonce, signature = parts
        if not hmac.compare_digest(self._sign(f"{issued_hex}.{nonce}"), signature):
            raise TokenError("forged")
        try:
            issued_at = datetime.fromtimestamp(int(issued_hex, 16), tz=now.tzinfo)
        except (ValueError, OverflowError, OSError):
            raise TokenError("forged") from None
        if check_expiry and not (
            issued_at - timedelta(minutes=5) <= now < issued_at + self.lifetime
        ):
            raise TokenError("expired")
        return FormToken(text, nonce, issued_at)
