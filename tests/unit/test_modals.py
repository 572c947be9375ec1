"""Every Block Kit payload Frontdesk sends validates through slack_sdk.models: the escalation
message in each ticket state, the Book modal with no, one and more slots than a select may
hold, the Resolve modal and the notices. `validate_json()` checks an object's own limits;
`to_dict()` runs it on every nested object too. Slack also refuses a modal whose input blocks
have no submit button, which slack_sdk does not check, so the tests do.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.messages.blocks import EscalationView, TicketState, escalation_blocks, slack_date
from bot.messages.ids import OUTCOME_LABELS, ActionId, BlockId, CallbackId
from bot.messages.modals import (
    LOADING_SLOTS,
    MAX_SLOT_OPTIONS,
    NO_SLOTS,
    WORKING,
    ModalContext,
    SlotChoice,
    book_modal,
    notice_modal,
    resolve_modal,
    slot_value,
)
from storage.models import EscalationKind
from storage.statuses import Outcome

REQUEST_ID = "req_01jd3k9x2m4q8r7s6t5v4w3y2z"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
MESSAGE_BLOCK_LIMIT = 50  # Slack's limit for one message
CONTEXT = ModalContext(request_id=REQUEST_ID, zone="America/New_York")

PLAIN = EscalationView(
    request_id=REQUEST_ID,
    kind=EscalationKind.MANUAL_REVIEW,
    name="Dana Reyes",
    email="dana@northwind.example",
    company="Northwind",
    phone="+16025550143",
    timezone="America/Phoenix",
    requested_start=datetime(2026, 12, 1, 21, tzinfo=UTC),
    duration_minutes=30,
    notes="Urgent: a demo for the board",
    reasons=("keyword:urgent",),
)
# Everything as long as a form lets a client make it.
WORST = replace(
    PLAIN,
    name="N" * 500,
    email="e" * 240 + "@x.example",
    company="C" * 500,
    notes="a line of notes\n" * 800,
    reasons=tuple(f"keyword:word{n}" for n in range(60)),
    detail="D" * 5000,
)
LONG_NOTE = "the client asked us to call back after the holidays " * 100
BOOKED_AT = slack_date(datetime(2026, 12, 1, 21, tzinfo=UTC), "America/Phoenix")

STATES = {
    "open": TicketState(),
    "claimed": TicketState(claimed_by="U0OMAR", claimed_at=NOW),
    "assigned": TicketState(assignee="U0PRIYA", claimed_by="U0PRIYA", claimed_at=NOW),
    "resolved": TicketState(
        claimed_by="U0OMAR",
        claimed_at=NOW,
        resolved_by="U0OMAR",
        resolved_at=NOW + timedelta(minutes=5),
        outcome=Outcome.HANDLED_ELSEWHERE,
        note=LONG_NOTE,
    ),
    "booked": TicketState(
        assignee="U0OLIVIA",
        claimed_by="U0OLIVIA",
        claimed_at=NOW,
        resolved_by="U0OLIVIA",
        resolved_at=NOW + timedelta(minutes=5),
        outcome=Outcome.BOOKED,
        note=LONG_NOTE,
        booked=f"{BOOKED_AT} with alice@ourco.example",
    ),
}
STATUS_WORDS = {
    "open": None,
    "claimed": "Claimed by <@U0OMAR>",
    "assigned": "Assigned to <@U0PRIYA>",
    "resolved": "Resolved by <@U0OMAR>: Handled elsewhere",
    "booked": f"Booked by <@U0OLIVIA> for {BOOKED_AT} with alice@ourco.example",
}


def validated_blocks(blocks: list[Block]) -> list[dict[str, Any]]:
    for block in blocks:
        block.validate_json()
    return [block.to_dict() for block in blocks]


def validated_view(view: View) -> dict[str, Any]:
    view.validate_json()
    payload = view.to_dict()
    if any(block["type"] == "input" for block in payload["blocks"]):
        assert payload.get("submit"), "Slack refuses input blocks in a modal without submit"
    return payload


def text_of(payload: Any) -> str:
    return str(payload)


def slots(count: int, *, per_day: int = 12) -> list[SlotChoice]:
    first = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
    choices = []
    for n in range(count):
        start = first + timedelta(days=n // per_day, minutes=30 * (n % per_day))
        choices.append(
            SlotChoice(start, f"{start:%a} {start.day} {start:%b}", f"{start:%H:%M} GMT")
        )
    return choices


def book(count: int, **overrides: Any) -> View:
    values: dict[str, Any] = {
        "client_name": "Dana <Reyes> & Co",
        "reps": ["alice@ourco.example", "bruno@ourco.example"],
        "rep": "alice@ourco.example",
        "duration": 30,
        "durations": (15, 30, 45, 60, 90),
        "slots": slots(count),
        "horizon_days": 21,
        "zone_note": "Times in your zone (Europe/London). The client is in America/Phoenix.",
        **overrides,
    }
    return book_modal(CONTEXT, **values)


def block(payload: dict[str, Any], block_id: str) -> dict[str, Any] | None:
    return next((b for b in payload["blocks"] if b.get("block_id") == block_id), None)


def slot_options(payload: dict[str, Any]) -> list[dict[str, Any]]:
    found = block(payload, BlockId.BOOK_SLOT)
    assert found is not None
    return [o for group in found["element"]["option_groups"] for o in group["options"]]


# ------------------------------------------------------------------ the escalation message


@pytest.mark.parametrize("kind", list(EscalationKind))
@pytest.mark.parametrize("view", [PLAIN, WORST], ids=["plain", "longest"])
@pytest.mark.parametrize("state", list(STATES))
def test_escalation_blocks_validate_in_every_state(
    state: str, view: EscalationView, kind: EscalationKind
) -> None:
    ticket = STATES[state]

    payload = validated_blocks(escalation_blocks(replace(view, kind=kind), ticket))

    assert len(payload) <= MESSAGE_BLOCK_LIMIT
    actions = [b for b in payload if b["type"] == "actions"]
    if ticket.closed:
        assert actions == []  # nothing left to click once resolved or booked
    else:
        [row] = actions
        assert row["block_id"] == f"escalation:{REQUEST_ID}"
        claim = row["elements"][0]
        assert claim["action_id"] == ActionId.CLAIM
        assert claim["text"]["text"] == ("Claimed" if ticket.claimed_by else "Claim")
        unclaim = [e for e in row["elements"] if e["action_id"] == ActionId.UNCLAIM]
        assert len(unclaim) == (1 if ticket.claimed_by else 0)
    words = STATUS_WORDS[state]
    if words is None:
        assert "Claimed by" not in text_of(payload)
    else:
        assert words in text_of(payload)


# ------------------------------------------------------------------ the Book modal


@pytest.mark.parametrize("count", [0, 1, MAX_SLOT_OPTIONS, MAX_SLOT_OPTIONS + 60])
def test_the_book_modal_validates_and_caps_its_slots(count: int) -> None:
    choices = slots(count)

    payload = validated_view(book(count))

    assert payload["callback_id"] == CallbackId.BOOK_SUBMIT
    assert ModalContext.model_validate_json(payload["private_metadata"]) == CONTEXT
    assert "Dana &lt;Reyes&gt; &amp; Co" in text_of(payload)
    if count == 0:
        assert block(payload, BlockId.BOOK_SLOT) is None
        assert NO_SLOTS.format(days=21) in text_of(payload)
        return
    offered = slot_options(payload)
    kept = min(count, MAX_SLOT_OPTIONS)
    assert [o["value"] for o in offered] == [slot_value(c.start) for c in choices[:kept]]
    groups = block(payload, BlockId.BOOK_SLOT)["element"]["option_groups"]  # type: ignore[index]
    assert [g["label"]["text"] for g in groups] == sorted(
        {c.day for c in choices[:kept]}, key=[c.day for c in choices].index
    )


def test_the_book_modal_keeps_the_chosen_rep_and_duration() -> None:
    payload = validated_view(book(3, rep="bruno@ourco.example", duration=50))

    rep = block(payload, BlockId.BOOK_REP)
    duration = block(payload, BlockId.BOOK_DURATION)
    assert rep is not None and duration is not None
    assert rep["dispatch_action"] and duration["dispatch_action"]  # a change redraws slots
    assert rep["element"]["initial_option"]["value"] == "bruno@ourco.example"
    assert duration["element"]["initial_option"]["value"] == "50"
    minutes = [o["value"] for o in duration["element"]["options"]]
    assert minutes == ["15", "30", "45", "50", "60", "90"]


def test_a_calendar_problem_replaces_the_slots_and_the_modal_stays_submittable() -> None:
    problem = "Could not read the calendars of dmitri@ourco.example: <refused> & more"

    payload = validated_view(book(0, problem=problem * 60))

    assert block(payload, BlockId.BOOK_SLOT) is None
    assert "&lt;refused&gt; &amp; more" in text_of(payload)
    assert NO_SLOTS.format(days=21) not in text_of(payload)
    assert payload["submit"]["text"] == "Book"


# ------------------------------------------------------------------ Resolve and notices


def test_the_resolve_modal_validates_and_offers_every_outcome_but_booked() -> None:
    longest_name = "&" * 200  # the intake's limit, and each one escapes to "&amp;"

    payload = validated_view(resolve_modal(CONTEXT, client_name=longest_name))

    assert payload["callback_id"] == CallbackId.RESOLVE_SUBMIT
    outcome = block(payload, BlockId.RESOLVE_OUTCOME)
    assert outcome is not None
    values = [o["value"] for o in outcome["element"]["options"]]
    assert values == list(OUTCOME_LABELS) and Outcome.BOOKED not in values
    note = block(payload, BlockId.RESOLVE_NOTE)
    assert note is not None and note["optional"]
    assert ModalContext.model_validate_json(payload["private_metadata"]) == CONTEXT
    assert "&amp;" * 200 in text_of(payload)


@pytest.mark.parametrize(
    ("title", "text"),
    [
        ("Book meeting", LOADING_SLOTS),
        ("Book meeting", WORKING),
        ("A title far longer than Slack allows in a modal", "x" * 10_000),
    ],
)
def test_notice_modals_validate(title: str, text: str) -> None:
    payload = validated_view(notice_modal(title, text))

    assert "submit" not in payload
    assert len(payload["title"]["text"]) <= 24
    assert text[:100] in text_of(payload)


def test_the_private_metadata_of_the_longest_context_fits() -> None:
    context = ModalContext(request_id="req_" + "x" * 36, zone="America/Argentina/ComodRivadavia")

    view = book_modal(
        context,
        client_name="x",
        reps=["alice@ourco.example"],
        rep="alice@ourco.example",
        duration=30,
        durations=(30,),
        slots=slots(1),
        horizon_days=21,
        zone_note="note",
    )

    assert ModalContext.model_validate_json(validated_view(view)["private_metadata"]) == context
