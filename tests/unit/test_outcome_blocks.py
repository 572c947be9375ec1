"""The "Did it happen?" prompt and the SLA re-ping text (SPEC §6), built with
slack_sdk.models; `to_dict()` runs slack_sdk's validators, so each test also proves the
blocks are ones Slack accepts.
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.messages.blocks import (
    OUTCOME_BY_ACTION,
    OUTCOME_CHANGE_HINT,
    OUTCOME_NUDGE,
    OUTCOME_QUESTION,
    MeetingView,
    OutcomeAnswer,
    outcome_blocks,
    outcome_text,
    sla_ping_text,
    waited_label,
)
from bot.messages.ids import ActionId
from bot.services.sla import level_reached
from storage.models import MeetingOutcome

START = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # 16:00 in New York
VIEW = MeetingView(
    booking_id=42,
    request_id="req_01jd3k9x2m4q8r7s6t5v4w3y2z",
    client_name="Dana Reyes",
    company="Northwind",
    start=START,
    end=START + timedelta(minutes=45),
    zone="America/New_York",
)
ANSWERED_AT = datetime(2026, 12, 1, 22, 5, tzinfo=UTC)
BUTTONS = [ActionId.OUTCOME_HELD, ActionId.OUTCOME_NO_SHOW, ActionId.OUTCOME_RESCHEDULED]


def dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    return [block.to_dict() for block in blocks]


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            found.append(block["text"]["text"])
        found += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return found


def actions(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    [block] = [b for b in blocks if b["type"] == "actions"]
    return block


# ------------------------------------------------------------------ the prompt


def test_the_prompt_names_the_meeting_and_offers_three_answers() -> None:
    blocks = dicts(outcome_blocks(VIEW))

    question = texts(blocks)[0]
    assert question.startswith(f"*{OUTCOME_QUESTION}*\n")
    assert "*Dana Reyes* (Northwind)" in question and "(45 min)" in question
    unix = calendar.timegm((2026, 12, 1, 21, 0, 0))
    assert f"<!date^{unix}^{{date_short_pretty}} {{time}}|Tue 01 Dec 2026 16:00 EST" in question
    block = actions(blocks)
    assert block["block_id"] == "outcome:42"
    assert [e["action_id"] for e in block["elements"]] == BUTTONS
    assert [e["text"]["text"] for e in block["elements"]] == ["Held", "No-show", "Rescheduled"]
    assert {e["value"] for e in block["elements"]} == {"42"}
    assert not any("style" in e for e in block["elements"])
    assert "Recorded" not in "\n".join(texts(blocks))
    assert texts(blocks)[-1] == f"Request `{VIEW.request_id}`"
    assert outcome_text(VIEW) == f"{OUTCOME_QUESTION} Your meeting with Dana Reyes"


@pytest.mark.parametrize(
    ("outcome", "label", "action"),
    [
        (MeetingOutcome.HELD, "Held", ActionId.OUTCOME_HELD),
        (MeetingOutcome.NO_SHOW, "No-show", ActionId.OUTCOME_NO_SHOW),
        (MeetingOutcome.RESCHEDULED, "Rescheduled", ActionId.OUTCOME_RESCHEDULED),
    ],
)
def test_the_answered_prompt_says_who_answered_what_and_when(
    outcome: MeetingOutcome, label: str, action: ActionId
) -> None:
    blocks = dicts(outcome_blocks(VIEW, OutcomeAnswer(outcome, "U0ALICE", ANSWERED_AT)))

    unix = calendar.timegm((2026, 12, 1, 22, 5, 0))
    recorded = f":white_check_mark: Recorded: {label} — by <@U0ALICE> at <!date^{unix}^"
    assert any(text.startswith(recorded) for text in texts(blocks))
    # The buttons stay, so the answer can be changed; the one chosen stands out.
    styled = {e["action_id"]: e.get("style") for e in actions(blocks)["elements"]}
    assert styled == {a: ("primary" if a == action else None) for a in BUTTONS}
    assert OUTCOME_CHANGE_HINT in texts(blocks)[-1]
    assert OUTCOME_BY_ACTION[action] == outcome


def test_the_nudge_asks_again_with_the_same_buttons() -> None:
    blocks = dicts(outcome_blocks(VIEW, nudge=True))

    assert texts(blocks)[0].startswith(f"*{OUTCOME_NUDGE}*")
    assert [e["action_id"] for e in actions(blocks)["elements"]] == BUTTONS
    assert outcome_text(VIEW, nudge=True).startswith(OUTCOME_NUDGE)


def test_client_text_cannot_ping_and_long_names_still_make_valid_blocks() -> None:
    view = replace(VIEW, client_name="<!channel> " + "D" * 4000, company="<@U0EVIL>" * 100)

    blocks = dicts(outcome_blocks(view))  # slack_sdk raises on a section over 3000 chars

    assert "<!channel>" not in texts(blocks)[0] and "&lt;!channel&gt;" in texts(blocks)[0]
    assert "<@U0EVIL>" not in texts(blocks)[0]
    assert "<!channel>" not in outcome_text(view)


def test_every_outcome_has_exactly_one_button() -> None:
    assert sorted(OUTCOME_BY_ACTION.values()) == sorted(MeetingOutcome)
    assert set(OUTCOME_BY_ACTION) == set(BUTTONS)


# ------------------------------------------------------------------ SLA re-pings


def test_the_sla_ping_mentions_the_ops_group_or_the_channel() -> None:
    assert sla_ping_text("S0OPS", None, timedelta(minutes=15)) == (
        ":alarm_clock: <!subteam^S0OPS> This request has waited 15 min and is still unclaimed."
    )
    assert sla_ping_text(None, None, timedelta(minutes=30)).startswith(
        ":alarm_clock: <!here> This request has waited 30 min"
    )
    assert "<!subteam^S0OPS> <@U0OLIVIA> This request" in sla_ping_text(
        "S0OPS", "U0OLIVIA", timedelta(hours=1)
    )


@pytest.mark.parametrize(
    ("waited", "label"),
    [
        (timedelta(minutes=15, seconds=59), "15 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=1, minutes=10), "1 h 10 min"),
        (timedelta(days=2), "2 d"),
        (timedelta(days=1, hours=3, minutes=5), "1 d 3 h"),
        (timedelta(seconds=-5), "0 min"),
    ],
)
def test_waited_labels(waited: timedelta, label: str) -> None:
    assert waited_label(waited) == label


@pytest.mark.parametrize(
    ("minutes", "level"),
    [(0, 0), (14, 0), (15, 1), (29, 1), (30, 2), (59, 2), (60, 3), (120, 3), (10_000, 3)],
)
def test_pings_fall_due_at_1x_2x_and_4x_the_sla(minutes: int, level: int) -> None:
    assert level_reached(timedelta(minutes=minutes), timedelta(minutes=15)) == level
