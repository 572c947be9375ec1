"""The first check at the edge of intake: text no database can store is refused here.

PostgreSQL refuses a NUL character in text, and no driver can encode a lone surrogate
(which JSON's "\\ud800" escape produces); SQLite stores both. Refusing them once, before
the replay lookup and validation read any field, gives a 422 naming the field on every
database instead of a driver error (and a 503) on some.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.domain.intake import FieldError

NUL_MESSAGE = "must not contain a NUL character (\\u0000)"
SURROGATE_MESSAGE = "is not valid Unicode text (it holds a lone surrogate)"


def text_problem(value: str) -> str | None:
    """Why this text cannot be stored, or None."""
    if "\x00" in value:
        return NUL_MESSAGE
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def unstorable_fields(payload: Mapping[str, Any], fields: Iterable[str]) -> list[FieldError]:
    """One error per named field whose text value cannot be stored (other types are
    validation's business)."""
    errors = []
    for field in fields:
        value = payload.get(field)
        problem = text_problem(value) if isinstance(value, str) else None
        if problem is not None:
            errors.append(FieldError(field, problem))
    return errors
