"""What of a client may never reach a log line (SPEC §9): emails are masked, and the
client's own words (name, phone, company, notes) are replaced while their request is
handled. Code that handles a request names the client's values once (`client_data`); the
log formatter (`bot/logs.py`) applies `redact` to every line, traceback included.
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager

# Unicode-aware: internationalised addresses (jörg@bücher.de) are accepted at intake.
_EMAIL = re.compile(r"([\w.%+-])[\w.%+-]*@((?:[\w-]+\.)+[^\W\d_]{2,})")


def mask_email(text: str) -> str:
    """dana.reyes@majorclient.com -> d***@majorclient.com (the domain helps debugging)."""
    return _EMAIL.sub(r"\1***@\2", text)


CLIENT_DATA = "[client data]"


# Shorter values ("Al", "ok") would blank out ordinary words of every line.
MIN_CLIENT_TEXT = 3


_client_texts: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "client_texts", default=()
)


def _forms(value: str) -> set[str]:
    """The value as written, and as it appears inside JSON or a repr (newlines escaped)."""
    forms = {value.strip(), json.dumps(value.strip(), ensure_ascii=False)[1:-1]}
    forms.add(value.strip().encode("unicode_escape").decode("ascii"))
    return {form for form in forms if len(form) >= MIN_CLIENT_TEXT}


@contextmanager
def client_data(*values: str | None) -> Iterator[None]:
    """Every line logged inside (in this context and threads started from it) has these
    values replaced by CLIENT_DATA."""
    texts = set(_client_texts.get())
    for value in values:
        if isinstance(value, str):
            texts |= _forms(value)
    token = _client_texts.set(tuple(sorted(texts, key=len, reverse=True)))
    try:
        yield
    finally:
        _client_texts.reset(token)


def redact(text: str) -> str:
    """Emails masked, and the client's values of the current context replaced."""
    for value in _client_texts.get():
        if value in text:
            text = text.replace(value, CLIENT_DATA)
    return mask_email(text)
