"""The escalation message (SPEC §4), built with slack_sdk.models, and reasons in plain words."""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import ActionsBlock, Block, HeaderBlock, SectionBlock

from bot.domain.reasons import NO_TIME_SELECTED, SLOT_UNAVAILABLE, describe
from bot.messages.blocks import (
    HEADERS,
    NO_TIME,
    SECTION_LIMIT,
    EscalationView,
    escalation_blocks,
    escalation_text,
    slack_date,
)
from bot.messages.ids import ActionId
from storage.models import EscalationKind

REQUEST_ID = "req_01jd3k9x2m4q8r7s6t5v4w3y2z"
START = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # 14:00 MST in Phoenix
UNIX = calendar.timegm((2026, 12, 1, 21, 0, 0))

VIEW = EscalationView(
    request_id=REQUEST_ID,
    kind=EscalationKind.MANUAL_REVIEW,
    name="Dana Reyes",
    email="dana@majorclient.com",
    company="Major Client Inc",
    phone="+16025550143",
    timezone="America/Phoenix",
    requested_start=START,
    duration_minutes=30,
    notes="Need to book a demo for our team of 12, urgent",
    reasons=("keyword:urgent", "group_size:12"),
)


def _dicts(blocks: list[Block]) -> list[dict[str, Any]]:
    # to_dict() runs slack_sdk's validators (lengths, counts) and raises when one fails.
    return [block.to_dict() for block in blocks]


def _all_text(blocks: list[Block]) -> str:
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    parts.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(_dicts(blocks))
    return "\n".join(parts)


def _actions(blocks: list[Block]) -> dict[str, Any]:
    (actions,) = [b.to_dict() for b in blocks if isinstance(b, ActionsBlock)]
    return actions


@pytest.mark.parametrize(
    ("kind", "wording"),
    [
        (EscalationKind.VIP, "VIP"),
        (EscalationKind.MANUAL_REVIEW, "Manual review"),
        (EscalationKind.ON_ERROR, "Automation failed"),
    ],
)
def test_every_kind_builds_valid_blocks(kind: EscalationKind, wording: str) -> None:
    view = replace(VIEW, kind=kind, detail="Google Calendar answered 403")
    blocks = escalation_blocks(view)
    dicts = _dicts(blocks)
    assert isinstance(blocks[0], HeaderBlock)
    assert dicts[0]["type"] == "header"
    assert wording in dicts[0]["text"]["text"]
    assert dicts[0]["text"]["text"] == HEADERS[kind]
    assert wording in escalation_text(view)
    assert "Dana Reyes" in escalation_text(view)


@pytest.mark.parametrize("kind", list(EscalationKind))
def test_actions_block(kind: EscalationKind) -> None:
    actions = _actions(escalation_blocks(replace(VIEW, kind=kind)))
    assert actions["block_id"] == f"escalation:{REQUEST_ID}"
    elements = actions["elements"]
    assert [e["action_id"] for e in elements] == ["claim", "book", "reassign", "resolve"]
    assert [e["action_id"] for e in elements] == [
        ActionId.CLAIM,
        ActionId.BOOK,
        ActionId.REASSIGN,
        ActionId.RESOLVE,
    ]
    by_id = {e["action_id"]: e for e in elements}
    for button in ("claim", "book", "resolve"):
        assert by_id[button]["type"] == "button"
        assert by_id[button]["value"] == REQUEST_ID
    assert by_id["reassign"]["type"] == "users_select"


def test_client_details_are_shown() -> None:
    text = _all_text(escalation_blocks(VIEW))
    for shown in ("Dana Reyes", "dana@majorclient.com", "Major Client Inc", "+16025550143"):
        assert shown in text
    assert "30 min" in text
    assert "team of 12, urgent" in text
    assert "Notes mention *urgent*" in text
    assert "Group of 12" in text
    assert REQUEST_ID in text


def test_missing_company_and_phone_are_dashes() -> None:
    text = _all_text(escalation_blocks(replace(VIEW, company=None, phone=None)))
    assert "*Company*\n—" in text
    assert "*Phone*\n—" in text


def test_requested_time_uses_slack_date_token() -> None:
    text = _all_text(escalation_blocks(VIEW))
    expected = (
        f"<!date^{UNIX}^{{date_short_pretty}} {{time}}|Tue 01 Dec 2026 14:00 MST (America/Phoenix)>"
    )
    assert f"*Requested time*\n{expected}" in text


@pytest.mark.parametrize(
    ("instant", "zone", "fallback"),
    [
        (datetime(2026, 12, 1, 21, tzinfo=UTC), "America/Phoenix", "Tue 01 Dec 2026 14:00 MST"),
        (datetime(2027, 7, 1, 21, tzinfo=UTC), "America/Phoenix", "Thu 01 Jul 2027 14:00 MST"),
        (datetime(2027, 7, 1, 21, tzinfo=UTC), "America/New_York", "Thu 01 Jul 2027 17:00 EDT"),
        (datetime(2026, 12, 1, 4, 30, tzinfo=UTC), "Asia/Kolkata", "Tue 01 Dec 2026 10:00 IST"),
        (datetime(2026, 10, 4, 22, tzinfo=UTC), "Australia/Sydney", "Mon 05 Oct 2026 09:00 AEDT"),
    ],
)
def test_slack_date_fallback_is_in_the_clients_zone(
    instant: datetime, zone: str, fallback: str
) -> None:
    token = slack_date(instant, zone)
    unix = calendar.timegm(instant.utctimetuple())
    assert token == f"<!date^{unix}^{{date_short_pretty}} {{time}}|{fallback} ({zone})>"


def test_no_time_selected() -> None:
    view = replace(VIEW, requested_start=None, reasons=("no_time_selected",))
    blocks = escalation_blocks(view)
    _dicts(blocks)
    text = _all_text(blocks)
    assert f"*Requested time*\n{NO_TIME}" in text
    assert "<!date^" not in text
    assert NO_TIME_SELECTED in text


def test_very_long_notes_are_truncated_within_slacks_limit() -> None:
    notes = "urgent " + "x" * 10_000
    blocks = escalation_blocks(replace(VIEW, notes=notes, detail="d" * 5000))
    dicts = _dicts(blocks)  # would raise if any text exceeded Slack's limits
    sections = [d for d in dicts if d["type"] == "section" and "text" in d]
    (notes_block,) = [s for s in sections if s["text"]["text"].startswith("*Notes*")]
    assert len(notes_block["text"]["text"]) <= SECTION_LIMIT == 3000
    assert notes_block["text"]["text"].endswith("…")
    assert notes_block["text"]["text"].startswith("*Notes*\n>urgent xxx")
    for section in sections:
        assert len(section["text"]["text"]) <= 3000


def test_long_name_and_many_reasons_stay_valid() -> None:
    view = replace(
        VIEW,
        name="N" * 500,
        reasons=tuple(f"keyword:word{i}" for i in range(400)),
    )
    blocks = escalation_blocks(view)
    _dicts(blocks)
    for block in blocks:
        if isinstance(block, SectionBlock) and block.text is not None:
            assert len(block.text.text) <= 3000


def test_client_text_is_escaped_for_mrkdwn() -> None:
    view = replace(
        VIEW,
        name="Dana <!channel>",
        company="A & B <@U0OLIVIA>",
        notes="call me <!here> <https://evil.example|invoice>",
    )
    text = _all_text(escalation_blocks(view))
    for raw in ("<!channel>", "<@U0OLIVIA>", "<!here>", "<https://evil.example|invoice>"):
        assert raw not in text
    assert "Dana &lt;!channel&gt;" in text
    assert "A &amp; B &lt;@U0OLIVIA&gt;" in text


def test_blank_notes_leave_out_the_notes_section() -> None:
    text = _all_text(escalation_blocks(replace(VIEW, notes="   ")))
    assert "*Notes*" not in text


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("keyword:urgent", "Notes mention *urgent*"),
        ("keyword:custom request", "Notes mention *custom request*"),
        ("group_size:12", "Group of 12"),
        ("vip_domain:majorclient.com", "VIP account *majorclient.com*"),
        ("no_time_selected", NO_TIME_SELECTED),
        ("slot_unavailable", SLOT_UNAVAILABLE),
        (
            "api_error:google:403:insufficientPermissions",
            "Google Calendar refused: missing scope calendar.events",
        ),
        (
            "api_error:postmark:422:406",
            "Postmark refused: the recipient is marked inactive (bounced or unsubscribed)",
        ),
        (
            "connection_broken:google:alice@ourco.example",
            "Google Calendar connection of alice@ourco.example is broken; they must reconnect",
        ),
        (
            "api_error:microsoft:401:InvalidAuthenticationToken",
            "Microsoft 365 refused: 401 InvalidAuthenticationToken",
        ),
        ("api_error:acme:500:boom", "acme refused: 500 boom"),
        ("internal_error:booking", "Unexpected error in booking"),
        ("something_new:x", "something_new:x"),
    ],
)
def test_describe(code: str, words: str) -> None:
    assert describe(code) == words
