"""What every provider wrapper shares about retrying: how long an answer asks us to wait,
and which error, under the libraries' wrappers, says what really happened.
"""

from __future__ import annotations

import math

# The longest a booking waits for a provider that asks it to: the processing lease is two
# minutes, and a few such waits must fit inside it. Longer asks fail at once, loudly.
MAX_RETRY_AFTER_SECONDS = 10.0


def retry_wait(
    retry_after: str | None, attempt: int, *, backoff: float, cap: float = MAX_RETRY_AFTER_SECONDS
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`: the Retry-After header's seconds when
    it gives them, else exponential backoff from `backoff`; None when it asks for too long.
    """
    try:
        asked = float(retry_after) if retry_after is not None else None
    except ValueError:
        asked = None  # an HTTP date or junk: back off instead
    if asked is None or not math.isfinite(asked) or asked < 0:
        asked = backoff * 2 ** (attempt - 1)
    return asked if asked <= cap else None


def root_cause(exc: BaseException) -> BaseException:
    """The innermost error under requests', urllib3's, httplib2's and google-auth's
    wrappers (ConnectionRefusedError, socket.timeout…), which names what happened.
    """
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        reason = getattr(exc, "reason", None)
        inner = exc.__cause__ or exc.__context__
        if inner is None and isinstance(reason, BaseException):
            inner = reason
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if inner is None:
            return exc
        exc = inner
    return exc
