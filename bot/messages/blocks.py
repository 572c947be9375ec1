"""Pure Block Kit builders (slack_sdk.models) for the messages Frontdesk posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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

from bot.domain.reasons import describe
from bot.messages.ids import OUTCOME_LABELS, ActionId, BlockId
from storage.models import EscalationKind, MeetingOutcome
from storage.statuses import Outcome

HEADERS = {
    EscalationKind.VIP: ":star: VIP request",
    EscalationKind.MANUAL_REVIEW: ":eyes: Manual review",
    EscalationKind.ON_ERROR: ":rotating_light: Automation failed",
}
NO_TIME = "_no time selected_"
SECTION_LIMIT = 3000  # Slack's limit for the text of a section
FIELD_LIMIT = 2000  # Slack's limit for one field of a section
CONTEXT_LIMIT = FIELD_LIMIT  # what a context line may hold: no more than a field


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


def truncate(text: str, limit: int = SECTION_LIMIT) -> str:
    """`text`, cut to `limit` characters with an ellipsis when it is longer."""
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
    crm: str | None = None  # the CRM ticket's link, or why it is pending (bot/tickets.py)

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
            lines.append(f"Note: {truncate(escape(state.note), 1500)}")
    if state.crm:
        lines.append(state.crm)
    return lines


def escalation_blocks(view: EscalationView, state: TicketState | None = None) -> list[Block]:
    when = slack_date(view.requested_start, view.timezone) if view.requested_start else NO_TIME
    fields = [
        MarkdownTextObject(text=f"*Client*\n{truncate(escape(view.name), 1000)}"),
        MarkdownTextObject(text=f"*Email*\n{truncate(escape(view.email), 1000)}"),
        MarkdownTextObject(text=f"*Company*\n{truncate(escape(view.company or '—'), 1000)}"),
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
        notes = truncate(quoted, SECTION_LIMIT - 10)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f"*Notes*\n{notes}")))
    blocks.append(
        SectionBlock(text=MarkdownTextObject(text=truncate(f"*Why*\n{why}", SECTION_LIMIT)))
    )
    if view.detail:
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=truncate(escape(view.detail), CONTEXT_LIMIT))]
            )
        )
    state = state or TicketState()
    status = ticket_status_lines(state)
    if status:
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=truncate("\n".join(status), CONTEXT_LIMIT))]
            )
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


# ------------------------------------------------------------------ SLA re-pings


SLA_PING = ":alarm_clock: {mentions} This request has waited {waited} and is still unclaimed."


def ops_mention(usergroup: str | None) -> str:
    """The ops group as a mention, or everyone here in the channel when there is none."""
    return f"<!subteam^{usergroup}>" if usergroup else "<!here>"


def waited_label(waited: timedelta) -> str:
    """ "15 min", "1 h 30 min", "2 d 3 h": how long a request has been waiting."""
    minutes = max(0, int(waited.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def sla_ping_text(usergroup: str | None, assignee: str | None, waited: timedelta) -> str:
    """The reply in an unclaimed escalation's thread: the ops group (and the assignee, who
    may be the VIP owner holding the ticket in their DM), and how long it has waited.
    """
    mentions = ops_mention(usergroup) + (f" <@{assignee}>" if assignee else "")
    return SLA_PING.format(mentions=mentions, waited=waited_label(waited))


# ------------------------------------------------------------------ "Did it happen?"


OUTCOME_QUESTION = "Did it happen?"
OUTCOME_NUDGE = "Reminder: did it happen?"
OUTCOME_CHANGE_HINT = "Pick another answer to change it."
OUTCOME_BUTTONS: dict[MeetingOutcome, tuple[ActionId, str]] = {
    MeetingOutcome.HELD: (ActionId.OUTCOME_HELD, "Held"),
    MeetingOutcome.NO_SHOW: (ActionId.OUTCOME_NO_SHOW, "No-show"),
    MeetingOutcome.RESCHEDULED: (ActionId.OUTCOME_RESCHEDULED, "Rescheduled"),
}
OUTCOME_BY_ACTION: dict[str, MeetingOutcome] = {
    action: outcome for outcome, (action, _) in OUTCOME_BUTTONS.items()
}


@dataclass(frozen=True)
class MeetingView:
    """What the host is asked about: which meeting, with whom, when."""

    booking_id: int
    request_id: str
    client_name: str
    company: str | None
    start: datetime
    end: datetime
    zone: str  # the host's zone, for the date's fallback text


@dataclass(frozen=True)
class OutcomeAnswer:
    outcome: str
    by: str
    at: datetime


def outcome_text(view: MeetingView, *, nudge: bool = False) -> str:
    """Notification fallback text of the prompt (or its nudge)."""
    question = OUTCOME_NUDGE if nudge else OUTCOME_QUESTION
    return f"{question} Your meeting with {escape(view.client_name)}"


def outcome_answer_line(answer: OutcomeAnswer) -> str:
    label = OUTCOME_BUTTONS[MeetingOutcome(answer.outcome)][1]
    return f":white_check_mark: Recorded: {label} — by <@{answer.by}> at {_time_of_day(answer.at)}"


def outcome_blocks(
    view: MeetingView, answer: OutcomeAnswer | None = None, *, nudge: bool = False
) -> list[Block]:
    """The prompt in the host's DM (or its nudge in the thread): the meeting, the answer
    if there is one, and the buttons, which stay so that an answer can be changed.
    """
    question = OUTCOME_NUDGE if nudge else OUTCOME_QUESTION
    company = f" ({truncate(escape(view.company), 200)})" if view.company else ""
    minutes = int((view.end - view.start).total_seconds() // 60)
    meeting = (
        f"*{question}*\nYour meeting with *{truncate(escape(view.client_name), 500)}*{company} "
        f"on {slack_date(view.start, view.zone)} ({minutes} min) has ended."
    )
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=meeting))]
    if answer is not None:
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=outcome_answer_line(answer))]))
    chosen = answer.outcome if answer is not None else None
    buttons = [
        ButtonElement(
            text=label,
            action_id=action,
            value=str(view.booking_id),
            style="primary" if outcome == chosen else None,
        )
        for outcome, (action, label) in OUTCOME_BUTTONS.items()
    ]
    blocks.append(
        ActionsBlock(
            block_id=BlockId.MEETING_OUTCOME.for_request(str(view.booking_id)), elements=buttons
        )
    )
    footer = f"Request `{view.request_id}`"
    if answer is not None:
        footer += f" · {OUTCOME_CHANGE_HINT}"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=footer)]))
    return blocks
