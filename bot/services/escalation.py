"""Handing a request to people: store the escalation, then tell Slack.

The escalation is stored first; if Slack cannot be told, it stays stored, marked with
the error and logged loudly, so nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.domain.config import Config
from bot.messages.blocks import (
    EscalationView,
    TicketState,
    escalation_blocks,
    escalation_text,
    vip_notice_text,
)
from bot.services.telemetry import count_integration_error
from integrations.base import Chat, IntegrationError, PostedMessage
from storage.models import EscalationKind, StoredEscalation, StoredRequest, utcnow
from storage.repositories import EscalationRepository

log = logging.getLogger("frontdesk.escalation")

# Longer than this in the channel's queue, and a post waits in the background instead of
# holding up the form's request.
INLINE_POST_WAIT = 2.0

# Slack's answers meaning "this person cannot get a DM"; anything else is Slack failing.
OWNER_UNREACHABLE_ERRORS = {"user_not_found", "user_disabled", "cannot_dm_bot", "user_not_visible"}
OWNER_UNREACHABLE = (
    "The account owner <@{owner}> cannot be messaged in Slack ({error}); please pick this up here."
)
OWNER_NOT_FOUND = "Account owner {email} could not be found in Slack; please pick this up here."


def escalation_view(request: StoredRequest, escalation: StoredEscalation) -> EscalationView:
    """What the Slack message shows about an escalated request."""
    return EscalationView(
        request_id=request.id,
        kind=EscalationKind(escalation.kind),
        name=request.name,
        email=request.email,
        company=request.company,
        phone=request.phone,
        timezone=request.timezone,
        requested_start=request.requested_start,
        duration_minutes=request.duration_minutes,
        notes=request.notes,
        reasons=tuple(escalation.reasons),
        detail=escalation.detail,
    )


class Escalator:
    def __init__(
        self,
        config: Config,
        chat: Chat,
        escalations: EscalationRepository,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.chat = chat
        self.escalations = escalations
        self.clock = clock
        # One poster: posts to a channel are paced one a second anyway.
        self.background = ThreadPoolExecutor(1, thread_name_prefix="slack-post")
        # Set by the CRM ticket service (bot/tickets.py) when there is a CRM: told of each
        # escalation after its Slack post, and asked for the line the post shows about it.
        self.ticket_hook: Callable[[StoredRequest, StoredEscalation], None] | None = None
        self.ticket_line: Callable[[str], str | None] | None = None

    def escalate(
        self,
        request: StoredRequest,
        kind: EscalationKind,
        reasons: list[str],
        detail: str | None = None,
    ) -> StoredEscalation:
        owner: str | None = None
        if kind is EscalationKind.VIP:
            owner, owner_detail = self._vip_owner(reasons)
            detail = detail or owner_detail
        escalation = self.escalations.open(
            request.id,
            kind,
            reasons,
            priority="high" if kind is EscalationKind.VIP else "normal",
            detail=detail,
            assignee=owner,
            at=self.clock(),
        )
        if escalation.notified_at is not None:
            self._ticket(request, escalation)
            return escalation  # a retry after a crash: Slack already knows
        view = escalation_view(request, escalation)
        if self.chat.backlog_seconds(self.config.slack.escalation_channel) > INLINE_POST_WAIT:
            # A burst: the post queues for its turn in the background, and the form's
            # request is answered now. A crash meanwhile leaves it to the upkeep job.
            self.background.submit(self._deliver, escalation, view, owner)
        else:
            self._deliver(escalation, view, owner)
        self._ticket(request, escalation)
        return escalation

    def _ticket(self, request: StoredRequest, escalation: StoredEscalation) -> None:
        """The CRM ticket, after Slack: a CRM failure must not delay or lose the escalation."""
        if self.ticket_hook is None:
            return
        try:
            self.ticket_hook(request, escalation)
        except Exception:  # the upkeep job opens it later
            log.exception("could not queue the CRM ticket", extra={"request_id": request.id})

    def _deliver(
        self, escalation: StoredEscalation, view: EscalationView, owner: str | None
    ) -> None:
        try:
            self._notify(escalation, view, owner)
        except Exception as exc:  # any Slack failure: keep the escalation, shout in the log
            error = self._notify_failed(escalation, exc)
            log.error(
                "escalation NOT delivered to Slack; it is stored and needs a person",
                extra={"request_id": view.request_id, "kind": str(view.kind), "error": error},
            )

    def redeliver(self, request: StoredRequest, escalation: StoredEscalation) -> bool:
        """Post an escalation Slack never got (a failed post, a crash); True when it went.

        The dedupe keys are the first attempt's, so a post that did reach Slack before a
        crash is not posted again.
        """
        view = escalation_view(request, escalation)
        try:
            self._notify(escalation, view, escalation.assignee)
        except Exception as exc:
            error = self._notify_failed(escalation, exc)
            log.error(
                "escalation still NOT delivered to Slack",
                extra={"request_id": request.id, "error": error},
            )
            return False
        log.warning("escalation delivered to Slack late", extra={"request_id": request.id})
        return True

    def _notify_failed(self, escalation: StoredEscalation, exc: Exception) -> str:
        """Count the failure and mark the escalation with it; the error as it was stored."""
        if isinstance(exc, IntegrationError):
            count_integration_error(exc)
        error = exc.message if isinstance(exc, IntegrationError) else repr(exc)
        self.escalations.mark_notify_failed(escalation.id or 0, error)
        return error

    def _notify_owner(
        self,
        channel: str,
        view: EscalationView,
        owner: str,
        text: str,
        blocks: list[dict[str, Any]],
    ) -> PostedMessage:
        """The VIP ticket in the owner's DM, and one line about it in the channel."""
        posted = self.chat.post_message(
            self.chat.open_dm(owner),
            text,
            blocks,
            dedupe_key=f"slack:vip-dm:{view.request_id}",
            request_id=view.request_id,
        )
        self.chat.post_message(
            channel,
            vip_notice_text(view, owner),
            [],
            dedupe_key=f"slack:vip-notice:{view.request_id}",
            request_id=view.request_id,
        )
        return posted

    def _vip_owner(self, reasons: list[str]) -> tuple[str | None, str | None]:
        domain = next((r.split(":", 1)[1] for r in reasons if r.startswith("vip_domain:")), "")
        account = self.config.vip_account(domain)
        if account is None:
            return None, None
        if account.owner_slack_id:
            return account.owner_slack_id, None
        try:
            owner = self.chat.user_id_for_email(account.owner_email)
        except Exception as exc:  # an unknown owner must not lose the VIP request
            error = exc.message if isinstance(exc, IntegrationError) else repr(exc)
            log.warning("could not look up VIP owner", extra={"error": error})
            owner = None
        if owner is None:
            return None, OWNER_NOT_FOUND.format(email=account.owner_email)
        return owner, None

    def _notify(
        self, escalation: StoredEscalation, view: EscalationView, owner: str | None
    ) -> None:
        channel = self.config.slack.escalation_channel
        state = TicketState(crm=self.ticket_line(view.request_id)) if self.ticket_line else None
        blocks = [block.to_dict() for block in escalation_blocks(view, state)]
        text = escalation_text(view)
        posted = None
        if owner is not None:
            try:
                posted = self._notify_owner(channel, view, owner, text, blocks)
            except IntegrationError as exc:
                if exc.reason not in OWNER_UNREACHABLE_ERRORS:
                    raise
                # The owner is gone from Slack: the request still needs a person.
                log.warning(
                    "VIP owner cannot be messaged; escalating in the channel",
                    extra={"request_id": view.request_id, "owner": owner, "error": exc.reason},
                )
                unreachable = OWNER_UNREACHABLE.format(owner=owner, error=exc.reason)
                view = replace(view, detail=unreachable)
                blocks = [block.to_dict() for block in escalation_blocks(view, state)]
        if posted is None:
            posted = self.chat.post_message(
                channel,
                text,
                blocks,
                dedupe_key=f"slack:escalation:{view.request_id}",
                request_id=view.request_id,
            )
        self.escalations.mark_notified(escalation.id or 0, posted.channel, posted.ts)
