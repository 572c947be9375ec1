"""Every Slack action_id, callback_id, block_id and slash command, shared by builders,
listeners, tests and the manifest check.
"""

from __future__ import annotations

from enum import StrEnum

from storage.statuses import Outcome


class ActionId(StrEnum):
    CLAIM = "claim"
    BOOK = "book"
    REASSIGN = "reassign"
    RESOLVE = "resolve"
    # Its own id, so a double click on Claim never turns into claim-then-unclaim.
    UNCLAIM = "unclaim"
    # Inside the Book modal: changing the rep or the duration refreshes the slot list.
    BOOK_REP = "book_rep"
    BOOK_DURATION = "book_duration"
    BOOK_SLOT = "book_slot"
    BOOK_NOTE = "book_note"
    RESOLVE_OUTCOME = "resolve_outcome"
    RESOLVE_NOTE = "resolve_note"
    # "Did it happen?" in the host's DM after a meeting; the value is the booking id.
    OUTCOME_HELD = "outcome_held"
    OUTCOME_NO_SHOW = "outcome_no_show"
    OUTCOME_RESCHEDULED = "outcome_rescheduled"
    # In the account owner's DM: a VIP client asked to move their meeting (SPEC §11).
    MOVE_BOOK = "manage_move_book"


class CallbackId(StrEnum):
    BOOK_SUBMIT = "book_submit"
    RESOLVE_SUBMIT = "resolve_submit"


class BlockId(StrEnum):
    ESCALATION_ACTIONS = "escalation"  # suffixed ":<request_id>"
    BOOK_REP = "book_rep"
    BOOK_DURATION = "book_duration"
    BOOK_SLOT = "book_slot"
    BOOK_NOTE = "book_note"
    RESOLVE_OUTCOME = "resolve_outcome"
    RESOLVE_NOTE = "resolve_note"
    MEETING_OUTCOME = "outcome"  # suffixed ":<booking_id>"

    def for_request(self, request_id: str) -> str:
        return f"{self.value}:{request_id}"


class Command(StrEnum):
    AVAILABILITY = "/availability"


OUTCOME_LABELS: dict[str, str] = {
    Outcome.DECLINED: "Declined",
    Outcome.DUPLICATE: "Duplicate",
    Outcome.SPAM: "Spam",
    Outcome.HANDLED_ELSEWHERE: "Handled elsewhere",
}
