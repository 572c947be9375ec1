"""Encryption of OAuth tokens at rest (Fernet, keyed by FRONTDESK_ENCRYPTION_KEY)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class TokenCipherError(Exception):
    """The key is malformed, or a stored token was encrypted with another key."""


class TokenCipher:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise TokenCipherError(
                "FRONTDESK_ENCRYPTION_KEY is not a Fernet key (32 url-safe base64 bytes); "
                'make one with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from exc

    def encrypt(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode())

    def decrypt(self, stored: bytes) -> str:
        try:
            return self._fernet.decrypt(stored).decode()
        except InvalidToken as exc:
            raise TokenCipherError(
                "a stored token cannot be decrypted with FRONTDESK_ENCRYPTION_KEY "
                "(was the key changed?); reconnect the rep"
            ) from exc
