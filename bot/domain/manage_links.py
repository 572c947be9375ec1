"""The client's manage link (SPEC §11): a signed token naming a booking and its version,
valid until the meeting ends, and the form token that guards the manage page's posts.

Both are HMAC-SHA256 under keys derived from the server secret, one key per purpose, so a
manage token never passes for a form token, a booking page form or a webhook signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LINK_PURPOSE = b"frontdesk manage link v1"
FORM_PURPOSE = b"frontdesk manage form v1"
FORM_LIFETIME = timedelta(hours=2)
_MAX_LENGTH = 200
# A form issued a little "in the future" by a replica whose clock runs ahead is still good.
_CLOCK_SKEW = timedelta(minutes=5)


class LinkError(Exception):
    """Why a token was refused: `forged` (not ours, or tampered with) or `expired`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def derive_key(secret: str, purpose: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()


def _mac(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class ManageToken:
    """What a manage link names: the booking, the version it was issued for, its expiry."""

    text: str
    booking_id: int
    version: int
    expires_at: datetime


class ManageLinks:
    """Issues and reads manage tokens and their pages' form tokens."""

    def __init__(self, secret: str, public_url: str) -> None:
        self._link_key = derive_key(secret, LINK_PURPOSE)
        self._form_key = derive_key(secret, FORM_PURPOSE)
        self.public_url = public_url.rstrip("/")

    # ------------------------------------------------------------------ manage tokens

    def issue(self, booking_id: int, version: int, expires_at: datetime) -> str:
        body = f"{booking_id:x}.{version:x}.{int(expires_at.timestamp()):x}"
        return f"{body}.{_mac(self._link_key, body)}"

    def url(self, booking_id: int, version: int, expires_at: datetime) -> str:
        """`FRONTDESK_PUBLIC_URL/manage/<token>`."""
        return f"{self.public_url}/manage/{self.issue(booking_id, version, expires_at)}"

    def read(self, text: str, now: datetime) -> ManageToken:
        """The token if it is ours and its meeting has not ended; else LinkError."""
        parts = text.split(".")
        if len(text) > _MAX_LENGTH or len(parts) != 4:
            raise LinkError("forged")
        body = ".".join(parts[:3])
        if not hmac.compare_digest(_mac(self._link_key, body).encode(), parts[3].encode()):
            raise LinkError("forged")
        try:
            booking_id, version, expires = (int(part, 16) for part in parts[:3])
            expires_at = datetime.fromtimestamp(expires, UTC)
        except (ValueError, OverflowError, OSError):
            raise LinkError("forged") from None
        if now >= expires_at:
            raise LinkError("expired")
        return ManageToken(text, booking_id, version, expires_at)

    # ------------------------------------------------------------------ form tokens

    def form_token(self, manage_token: str, now: datetime) -> str:
        """A form token bound to one manage token, good for FORM_LIFETIME."""
        body = f"{int(now.timestamp()):x}.{secrets.token_urlsafe(9)}"
        return f"{body}.{_mac(self._form_key, body + '|' + manage_token)}"

    def check_form(self, text: str | None, manage_token: str, now: datetime) -> None:
        """Raise LinkError unless `text` was issued for this manage token and is fresh."""
        parts = (text or "").split(".")
        if len(parts) != 3 or len(text or "") > _MAX_LENGTH:
            raise LinkError("forged")
        body = ".".join(parts[:2])
        expected = _mac(self._form_key, body + "|" + manage_token)
        if not hmac.compare_digest(expected.encode(), parts[2].encode()):
            raise LinkError("forged")
        try:
            issued = datetime.fromtimestamp(int(parts[0], 16), UTC)
        except (ValueError, OverflowError, OSError):
            raise LinkError("forged") from None
        if not issued - _CLOCK_SKEW <= now < issued + FORM_LIFETIME:
            raise LinkError("expired")
