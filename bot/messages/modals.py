"""Pure Block Kit builders for Frontdesk's modals: Book, Resolve, and short notices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.messages.blocks import escape
from bot.messages.ids import OUTCOME_LABELS, ActionId, BlockId, CallbackId

MAX_SLOT_OPTIONS = 100  # Slack's limit per select, across option groups
NO_SLOTS = "No free slot for this rep and duration in the next {days} days."
WORKING = "Booking… this takes a few seconds."
LOADING_SLOTS = "Finding free slots…"


class ModalContext(BaseModel):
    """A modal's private_metadata: which escalation it acts on, and the zone of the person
    it was opened for (its slots are labelled in it; read once, from users.info).
    """

    request_id: str
    zone: str = "UTC"


@dataclass(frozen=True)
class SlotChoice:
    start: datetime  # UTC
    day: str  # "Tue 1 Dec" in the viewer's zone
    label: str  # "2:00 PM EST" in the viewer's zone


def slot_value(start: datetime) -> str:
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def _option(value: str, label: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=label[:75]))


def _slot_groups(slots: Sequence[SlotChoice]) -> list[OptionGroup]:
    groups: dict[str, list[Option]] = {}
    for slot in slots[:MAX_SLOT_OPTIONS]:
        groups.setdefault(slot.day, []).append(_option(slot_value(slot.start), slot.label))
    return [OptionGroup(label=day[:75], options=options) for day, options in groups.items()]


def _select(
    block: BlockId, action: ActionId, label: str, options: list[Option], chosen: str
) -> InputBlock:
    """A select that refreshes the modal when changed, with `chosen` picked."""
    return InputBlock(
        block_id=block,
        label=label,
        dispatch_action=True,
        element=StaticSelectElement(
            action_id=action,
            options=options,
            initial_option=next(o for o in options if o.value == chosen),
        ),
    )


def _slot_blocks(slots: Sequence[SlotChoice], zone_note: str, no_slots: str) -> list[Block]:
    if not slots:
        return [SectionBlock(text=MarkdownTextObject(text=no_slots))]
    return [
        InputBlock(
            block_id=BlockId.BOOK_SLOT,
            label="Slot",
            element=StaticSelectElement(
                action_id=ActionId.BOOK_SLOT,
                placeholder="Pick a free slot",
                option_groups=_slot_groups(slots),
            ),
        ),
        ContextBlock(elements=[MarkdownTextObject(text=zone_note)]),
    ]


def book_modal(
    context: ModalContext,
    *,
    client_name: str,
    reps: Sequence[str],
    rep: str,
    duration: int,
    durations: Sequence[int],
    slots: Sequence[SlotChoice],
    horizon_days: int,
    zone_note: str,
    problem: str | None = None,
) -> View:
    """The Book modal; choosing a rep or a duration dispatches an action that refreshes it.

    `problem` says why there are no slots when it is not that the rep is fully booked (their
    calendar could not be read), so the person can pick another rep.
    """
    rep_options = [_option(email, email) for email in reps]
    duration_options = [_option(str(m), f"{m} min") for m in sorted({*durations, duration})]
    no_slots = escape(problem)[:3000] if problem else NO_SLOTS.format(days=horizon_days)
    note = InputBlock(
        block_id=BlockId.BOOK_NOTE,
        label="Note",
        optional=True,
        element=PlainTextInputElement(
            action_id=ActionId.BOOK_NOTE, multiline=True, max_length=2000
        ),
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"Book a meeting for *{escape(client_name)}*")),
        _select(BlockId.BOOK_REP, ActionId.BOOK_REP, "Rep", rep_options, rep),
        _select(
            BlockId.BOOK_DURATION,
            ActionId.BOOK_DURATION,
            "Duration",
            duration_options,
            str(duration),
        ),
        *_slot_blocks(slots, zone_note, no_slots),
        note,
    ]
    return View(
        type="modal",
        callback_id=CallbackId.BOOK_SUBMIT,
        title="Book meeting",
        # Slack refuses a modal holding input blocks without a submit button; submitted
        # with no slot, it answers with a field error.
        submit="Book",
        close="Cancel",
        private_metadata=context.model_dump_json(),
        blocks=blocks,
    )


def resolve_modal(context: ModalContext, *, client_name: str) -> View:
    options = [_option(value, label) for value, label in OUTCOME_LABELS.items()]
    return View(
        type="modal",
        callback_id=CallbackId.RESOLVE_SUBMIT,
        title="Resolve request",
        submit="Resolve",
        close="Cancel",
        private_metadata=context.model_dump_json(),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=f"Close the request of *{escape(client_name)}*")
            ),
            InputBlock(
                block_id=BlockId.RESOLVE_OUTCOME,
                label="Outcome",
                element=StaticSelectElement(action_id=ActionId.RESOLVE_OUTCOME, options=options),
            ),
            InputBlock(
                block_id=BlockId.RESOLVE_NOTE,
                label="Note",
                optional=True,
                element=PlainTextInputElement(
                    action_id=ActionId.RESOLVE_NOTE, multiline=True, max_length=2000
                ),
            ),
        ],
    )


def notice_modal(title: str, text: str) -> View:
    """A modal that only says something ("Booking…", "Booked", "Could not book")."""
    return View(
        type="modal",
        title=title[:24],
        close="Close",
        blocks=[SectionBlock(text=MarkdownTextObject(text=text[:3000]))],
    )
