"""What GET /sandbox shows: the recorded messages grouped per request, with what storage
knows of each request (its gate decision, escalation, booking). The page itself is drawn by
`bot/messages/sandbox_page.py`.
"""

from __future__ import annotations

from collections import defaultdict

from bot.domain.config import Config
from bot.messages.sandbox_page import RequestHistory
from integrations.sandbox import sandbox_ts, stand_in_user_id
from storage.models import OutboxMessage
from storage.repositories import (
    BookingRepository,
    EscalationRepository,
    OutboxRepository,
    RequestRepository,
)

OPS_GROUP_NAME = "ops"
ESCALATION_CHANNEL_NAME = "escalations"


def _display_name(email: str) -> str:
    return email.split("@", 1)[0]


class SandboxViewer:
    def __init__(
        self,
        config: Config,
        outbox: OutboxRepository,
        requests: RequestRepository,
        escalations: EscalationRepository,
        bookings: BookingRepository,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.requests = requests
        self.escalations = escalations
        self.bookings = bookings

    def names(self) -> dict[str, str]:
        """Slack ids to the names people know: each rep and VIP owner by their configured id
        and by the stand-in id the sandbox gives their email, the ops group, the channel."""
        names: dict[str, str] = {}
        people = [(rep.email, rep.slack_id) for rep in self.config.reps]
        people += [(vip.owner_email, vip.owner_slack_id) for vip in self.config.vip]
        for email, slack_id in people:
            names[stand_in_user_id(email)] = _display_name(email)
            if slack_id:
                names[slack_id] = _display_name(email)
        if self.config.slack.ops_usergroup:
            names[self.config.slack.ops_usergroup] = OPS_GROUP_NAME
        names[self.config.slack.escalation_channel] = ESCALATION_CHANNEL_NAME
        return names

    def histories(self, *, request_id: str = "", limit: int = 200) -> list[RequestHistory]:
        """The latest `limit` messages grouped per request (or one request's story)."""
        rows = self.outbox.latest(limit=limit, request_id=request_id or None)
        updates = self.outbox.latest(limit=limit, service="slack") if request_id else rows
        grouped = self._group(rows, [row for row in updates if row.request_id is None])
        if request_id:
            grouped = {request_id: grouped.get(request_id, [])}
        return [self._history(key, messages) for key, messages in grouped.items()]

    @staticmethod
    def _group(
        rows: list[OutboxMessage], unlinked: list[OutboxMessage]
    ) -> dict[str | None, list[OutboxMessage]]:
        """Rows per request; a chat.update (recorded without a request) joins the request
        of the message it updates, found by channel and ts."""
        posted: dict[tuple[object, object], str | None] = {
            (row.payload.get("channel"), sandbox_ts(row.created_at, row.id)): row.request_id
            for row in rows
            if row.service == "slack" and row.action == "chat.postMessage" and row.id is not None
        }
        grouped: dict[str | None, list[OutboxMessage]] = defaultdict(list)
        seen: set[int | None] = set()
        for row in [*rows, *unlinked]:
            if row.id in seen:
                continue
            seen.add(row.id)
            key = row.request_id
            if key is None:
                key = posted.get((row.payload.get("channel"), row.payload.get("ts")))
            grouped[key].append(row)
        for messages in grouped.values():
            messages.sort(key=lambda row: row.id or 0)
        return grouped

    def _history(self, request_id: str | None, messages: list[OutboxMessage]) -> RequestHistory:
        if request_id is None:
            return RequestHistory(None, messages=messages)
        return RequestHistory(
            request_id,
            request=self.requests.get(request_id),
            decisions=self.requests.decisions(request_id),
            escalation=self.escalations.get_by_request(request_id),
            booking=self.bookings.get_by_request(request_id),
            messages=messages,
        )
