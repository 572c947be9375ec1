"""Pure Block Kit builders (slack_sdk.models) for the messages Frontdesk posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
    UserSelectElement,
)

from bot.reasons import describe
from handlers.ids import OUTCOME_LABELS, ActionId, BlockId, Outcome
from storage.models import EscalationKind

HEADERS = {
    EscalationKind.VIP: ":star: VIP request",
    EscalationKind.MANUAL_REVIEW: ":eyes: Manual review",
    EscalationKind.ON_ERROR: ":rotating_light: Automation failed",
}
NO_TIME = "_no time selected_"
SECTION_LIMIT = 3000


@dataclass(frozen=True)
class EscalationView:
    """What a person needs to see to act on an escalated request."""

    request_id: str
    kind: EscalationKind
    name: str
    email: str
    company: str | None
    phone: str | None
    timezone: str
    requested_start: datetime | None
    duration_minutes: int
    notes: str
    reasons: tuple[str, ...]
    detail: str | None = None


def slack_date(instant: datetime, client_zone: str) -> str:
    """`<!date^…>` so every viewer sees their own zone; the fallback is the client's."""
    local = instant.astimezone(ZoneInfo(client_zone))
    fallback = f"{local:%a %d %b %Y %H:%M} {local.tzname()} ({client_zone})"
    return f"<!date^{int(instant.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def escape(text: str) -> str:
    """Slack's mrkdwn escaping, so client text cannot ping (<!channel>) or disguise links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escalation_text(view: EscalationView) -> str:
    """Notification fallback text (shown in push notifications and by screen readers)."""
    heading = HEADERS[view.kind].split(" ", 1)[1]
    return f"{heading}: {escape(view.name)} ({escape(view.email)})"


@dataclass(frozen=True)
class TicketState:
    """Where people have got with an escalation, shown under its message."""

    assignee: str | None = None
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    outcome: str | None = None
    note: str | None = None
    booked: str | None = None  # "<date> with alice@…" once booked from Slack

    @property
    def closed(self) -> bool:
        return self.resolved_at is not None


def _time_of_day(instant: datetime) -> str:
    fallback = f"{instant:%H:%M} UTC"
    return f"<!date^{int(instant.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def ticket_status_lines(state: TicketState) -> list[str]:
    """Plain status lines: assignment, claim, and how it was closed."""
    lines = []
    if state.assignee:
        lines.append(f":bust_in_silhouette: Assigned to <@{state.assignee}>")
    if state.claimed_by and state.claimed_at and not state.closed:
        lines.append(
            f":raising_hand: Claimed by <@{state.claimed_by}> at {_time_of_day(state.claimed_at)}"
        )
    if state.closed and state.resolved_at is not None:
        when = _time_of_day(state.resolved_at)
        if state.outcome == Outcome.BOOKED:
            lines.append(
                f":white_check_mark: Booked by <@{state.resolved_by}> for {state.booked} ({when})"
            )
        else:
            label = OUTCOME_LABELS.get(state.outcome or "", state.outcome or "")
            lines.append(f":white_check_mark: Resolved by <@{state.resolved_by}>: {label} ({when})")
        if state.note:
            lines.append(f"Note: {_truncate(escape(state.note), 1500)}")
    return lines


def escalation_blocks(view: EscalationView, state: TicketState | None = None) -> list[Block]:
    when = slack_date(view.requested_start, view.timezone) if view.requested_start else NO_TIME
    fields = [
        MarkdownTextObject(text=f"*Client*\n{_truncate(escape(view.name), 1000)}"),
        MarkdownTextObject(text=f"*Email*\n{_truncate(escape(view.email), 1000)}"),
        MarkdownTextObject(text=f"*Company*\n{_truncate(escape(view.company or '—'), 1000)}"),
        MarkdownTextObject(text=f"*Phone*\n{escape(view.phone or '—')}"),
        MarkdownTextObject(text=f"*Requested time*\n{when}"),
        MarkdownTextObject(text=f"*Duration*\n{view.duration_minutes} min"),
    ]
    why = "\n".join(f"• {describe(code)}" for code in view.reasons) or "• —"
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=HEADERS[view.kind])),
        SectionBlock(fields=fields),
    ]
    if view.notes.strip():
        quoted = "\n".join(f">{line}" for line in escape(view.notes.strip()).splitlines())
        notes = _truncate(quoted, SECTION_LIMIT - 10)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Notes*\n{notes}")))
    blocks.append(
        SectionBlock(text=MarkdownTextObject(text=_truncate(f"*Why*\n{why}", SECTION_LIMIT)))
    )
    if view.detail:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=_truncate(escape(view.detail), 2000))])
        )
    state = state or TicketState()
    status = ticket_status_lines(state)
    if status:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=_truncate("\n".join(status), 2000))])
        )
    if not state.closed:
        blocks.append(_actions(view.request_id, claimed=state.claimed_by is not None))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"Request `{view.request_id}`")]))
    return blocks


def _actions(request_id: str, *, claimed: bool) -> ActionsBlock:
    claim = (
        ButtonElement(text="Claimed", action_id=ActionId.CLAIM, value=request_id)
        if claimed
        else ButtonElement(
            text="Claim", action_id=ActionId.CLAIM, value=request_id, style="primary"
        )
    )
    elements: list[ButtonElement | UserSelectElement] = [
        claim,
        ButtonElement(text="Book", action_id=ActionId.BOOK, value=request_id),
        UserSelectElement(placeholder="Reassign to…", action_id=ActionId.REASSIGN),
        ButtonElement(text="Resolve", action_id=ActionId.RESOLVE, value=request_id),
    ]
    if claimed:
        elements.append(ButtonElement(text="Unclaim", action_id=ActionId.UNCLAIM, value=request_id))
    return ActionsBlock(
        block_id=BlockId.ESCALATION_ACTIONS.for_request(request_id), elements=elements
    )


def vip_notice_text(view: EscalationView, owner: str | None) -> str:
    """The one line the escalation channel gets about a VIP request."""
    who = f"<@{owner}>" if owner else "nobody (owner not found in Slack)"
    company = f" ({escape(view.company)})" if view.company else ""
    request = f"`{view.request_id}`"
    return f":star: VIP request from {escape(view.name)}{company} — assigned to {who}. {request}"
