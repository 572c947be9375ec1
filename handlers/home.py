"""The App Home tab (`app_home_opened`): the viewer's open escalations, the queue's size and
the health of reps' calendar connections. (The KPI figures join it with issue #6.)
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App
from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from handlers.blocks import HEADERS, escape
from handlers.slack_app import SlackServices, once
from storage.models import EscalationKind, StoredEscalation
from storage.repositories.connections import Connection

NOTHING_FOR_YOU = "Nothing assigned to or claimed by you. :tada:"


def home_view(
    mine: list[tuple[StoredEscalation, str, str | None]],
    open_count: int,
    unclaimed: int,
    connections: list[Connection],
) -> View:
    """`mine`: (escalation, client name, permalink or None)."""
    blocks: list[Block] = [
        HeaderBlock(text="Frontdesk"),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"*{open_count}* open escalations, *{unclaimed}* not claimed yet."
            )
        ),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text="*Yours*")),
    ]
    lines = []
    for escalation, client, link in mine:
        label = HEADERS.get(EscalationKind(escalation.kind), escalation.kind)
        where = f"<{link}|open>" if link else f"`{escalation.request_id}`"
        lines.append(f"• {label}: {escape(client)} — {where}")
    text = "\n".join(lines) or NOTHING_FOR_YOU
    blocks.append(SectionBlock(text=MarkdownTextObject(text=text[:3000])))
    broken = [c for c in connections if c.broken]
    if broken:
        blocks.append(DividerBlock())
        lines = [
            f"• {c.provider} of {c.rep_email}: {escape(c.broken_reason or '')}" for c in broken
        ]
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=("*Broken calendar connections*\n" + "\n".join(lines))[:3000]
                )
            )
        )
    else:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text="All calendar connections OK.")])
        )
    return View(type="home", blocks=blocks)


def register(app: App, services: SlackServices) -> None:
    triage, chat = services.triage, services.chat

    @once(services)
    def publish(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab: nothing to draw
        user = event["user"]
        mine = []
        for escalation in triage.escalations.open_for(user):
            request = triage.requests.get(escalation.request_id)
            link = (
                chat.permalink(escalation.channel, escalation.message_ts)
                if escalation.channel and escalation.message_ts
                else None
            )
            mine.append((escalation, request.name if request else "?", link))
        open_count, unclaimed = triage.escalations.count_open()
        view = home_view(mine, open_count, unclaimed, services.connections.all())
        client.views_publish(user_id=user, view=view.to_dict())

    def ack_event(ack: Any) -> None:
        ack()

    # Lazy: a permalink per escalation plus views.publish may take longer than Slack waits.
    app.event("app_home_opened")(ack=ack_event, lazy=[publish])
