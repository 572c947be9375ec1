"""Every Slack action_id, callback_id and block_id prefix, shared by builders, listeners
and tests.
"""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    CLAIM = "claim"
    BOOK = "book"
    REASSIGN = "reassign"
    RESOLVE = "resolve"


class CallbackId(StrEnum):
    BOOK_SUBMIT = "book_submit"
    RESOLVE_SUBMIT = "resolve_submit"


class BlockId(StrEnum):
    ESCALATION_ACTIONS = "escalation"  # suffixed ":<request_id>"

    def for_request(self, request_id: str) -> str:
        return f"{self.value}:{request_id}"
