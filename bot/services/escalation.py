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
from storage.db import Step
from storage.models import EscalationKind, StoredEscalation, StoredRequest, utcnow
from storage.repositories import EscalationRepository
from storage.repositories.escalations import Opening

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


def _vip_domain(reasons: list[str]) -> str:
    return next((r.split(":", 1)[1] for r in reasons if r.startswith("vip_domain:")), "")


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
        escalation, pending = self.escalate_deferred(request, kind, reasons, detail)
        if pending is not None:
            self.escalations.commit(pending)
        self.open_crm_ticket(request, escalation)
        return escalation

    def plan_opening(
        self, request: StoredRequest, kind: EscalationKind, reasons: list[str]
    ) -> Opening | None:
        """The escalation, to open in the new request's own transaction; None for a VIP
        whose owner must first be looked up in Slack (no call before the request is
        stored)."""
        owner: str | None = None
        if kind is EscalationKind.VIP:
            account = self.config.vip_account(_vip_domain(reasons))
            if account is not None and not account.owner_slack_id:
                return None
            owner = account.owner_slack_id if account is not None else None
        return self._opening(request, kind, reasons, None, owner)

    def escalate_deferred(
        self,
        request: StoredRequest,
        kind: EscalationKind,
        reasons: list[str],
        detail: str | None = None,
        *,
        opened: Opening | None = None,
    ) -> tuple[StoredEscalation, Step | None]:
        """Open the escalation (unless `opened` did, in the request's own transaction) and
        tell Slack; the write recording where the message went is returned for the
        caller's closing transaction (None when there is nothing to record now). The caller
        calls `open_crm_ticket` once that transaction is committed.
        """
        if opened is None or opened.escalation is None:
            owner: str | None = None
            if kind is EscalationKind.VIP:
                owner, owner_detail = self._vip_owner(reasons)
                detail = detail or owner_detail
            opened = self._opening(request, kind, reasons, detail, owner)
            self.escalations.commit(opened)
        escalation = opened.escalation
        assert escalation is not None
        if escalation.notified_at is not None:
            return escalation, None  # a retry after a crash: Slack already knows
        view = escalation_view(request, escalation)
        pending: Step | None = None
        if self.chat.backlog_seconds(self.config.slack.escalation_channel) > INLINE_POST_WAIT:
            # A burst: the post queues for its turn in the background, and the form's
            # request is answered now. A crash meanwhile leaves it to the upkeep job.
            self.background.submit(self._deliver_and_record, escalation, view)
        else:
            posted = self._deliver(escalation, view)
            if posted is not None:
                pending = self.escalations.notified_step(
                    escalation.id or 0, posted.channel, posted.ts
                )
        return escalation, pending

    def _opening(
        self,
        request: StoredRequest,
        kind: EscalationKind,
        reasons: list[str],
        detail: str | None,
        owner: str | None,
    ) -> Opening:
        return self.escalations.opening(
            request.id,
            kind,
            reasons,
            priority="high" if kind is EscalationKind.VIP else "normal",
            detail=detail,
            assignee=owner,
            at=self.clock(),
        )

    def open_crm_ticket(self, request: StoredRequest, escalation: StoredEscalation) -> None:
        """The CRM ticket, after Slack and after where the message went is committed (the
        ticket's background work redraws the message with its link, so must find it); a CRM
        failure must not delay or lose the escalation."""
        if self.ticket_hook is None:
            return
        try:
            self.ticket_hook(request, escalation)
        except Exception:  # the upkeep job opens it later
            log.exception("could not queue the CRM ticket", extra={"request_id": request.id})

    def _deliver(self, escalation: StoredEscalation, view: EscalationView) -> PostedMessage | None:
        """Post it; on any Slack failure keep the escalation, mark it and shout in the log."""
        try:
            return self._notify(escalation, view, escalation.assignee)
        except Exception as exc:
            error = self._notify_failed(escalation, exc)
            log.error(
                "escalation NOT delivered to Slack; it is stored and needs a person",
                extra={"request_id": view.request_id, "kind": str(view.kind), "error": error},
            )
            return None

    def _deliver_and_record(self, escalation: StoredEscalation, view: EscalationView) -> None:
        posted = self._deliver(escalation, view)
        if posted is not None:
            self.escalations.mark_notified(escalation.id or 0, posted.channel, posted.ts)

    def redeliver(self, request: StoredRequest, escalation: StoredEscalation) -> bool:
        """Post an escalation Slack never got (a failed post, a crash); True when it went.

        The dedupe keys are the first attempt's, so a post that did reach Slack before a
        crash is not posted again.
        """
        view = escalation_view(request, escalation)
        try:
            posted = self._notify(escalation, view, escalation.assignee)
        except Exception as exc:
            error = self._notify_failed(escalation, exc)
            log.error(
                "escalation still NOT delivered to Slack",
                extra={"request_id": request.id, "error": error},
            )
            return False
        self.escalations.mark_notified(escalation.id or 0, posted.channel, posted.ts)
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
        account = self.config.vip_account(_vip_domain(reasons))
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
    ) -> PostedMessage:
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
        return posted
