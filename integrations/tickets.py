"""The CRM's side of an escalation (SPEC §12): one small interface, `TicketSink`, that opens
one ticket per request, closes it with the outcome, probes its set-up, and reads back the
deals a contact won; and the error type its implementations raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from integrations.base import IntegrationError, Probe

# The HubSpot ticket property / Salesforce external id field that names the request.
REQUEST_ID_PROPERTY = "frontdesk_request_id"
REQUEST_ID_FIELD = "Frontdesk_Request_Id__c"


class CrmError(IntegrationError):
    """A CRM refused or failed. `retry_after` is what it asked us to wait (seconds), when it
    said so (HubSpot's 429 `Retry-After`); the upkeep job waits at least that long.
    """

    @property
    def retryable(self) -> bool:
        """Whether trying again later may help (an outage, a rate limit, a timeout), as
        opposed to a refusal that needs a person (a bad token, a missing property).
        """
        if self.status in ("timeout", "network", "rate_limited", "exception"):
            return True
        return isinstance(self.status, int) and (self.status == 429 or self.status >= 500)


@dataclass(frozen=True)
class TicketDraft:
    """What a ticket for one escalated request says, whichever CRM it goes to."""

    request_id: str
    kind: str  # "vip" | "error" | "review": which escalation opened it
    subject: str
    content: str
    client_name: str
    client_email: str
    company: str | None = None
    phone: str | None = None
    owner_email: str | None = None  # the VIP account owner; None leaves it unassigned

    @property
    def dedupe_key(self) -> str:
        """The outbox key under which this ticket is opened once."""
        return f"crm:ticket:{self.request_id}"

    def payload(self) -> dict[str, Any]:
        """What the outbox keeps of the ticket (and what the sandbox shows)."""
        return {
            "subject": self.subject,
            "content": self.content,
            "priority": "HIGH",
            "kind": self.kind,
            "owner_email": self.owner_email,
            "contact": {
                "email": self.client_email,
                "name": self.client_name,
                "company": self.company,
            },
            REQUEST_ID_PROPERTY: self.request_id,
        }

    def closing_content(self, outcome: str) -> str:
        """The ticket's text once the escalation is closed: what it said, and how it ended."""
        return f"{self.content}\n\nOutcome in Frontdesk: {outcome}"


@dataclass(frozen=True)
class TicketRef:
    """A ticket the CRM holds: its id, where a person opens it, and the client's contact."""

    provider: str
    ticket_id: str
    url: str | None = None
    contact_id: str | None = None
    owner_id: str | None = None


@dataclass(frozen=True)
class WonDeal:
    deal_id: str
    amount: float | None
    closed_at: datetime


@dataclass(frozen=True)
class ContactDeals:
    """A CRM contact found by email, and the deals (of it or its company) won in a window."""

    contact_id: str
    won: tuple[WonDeal, ...] = field(default=())


class TicketSink(Protocol):
    """Tickets for escalated requests in the team's CRM (HubSpot, Salesforce, the sandbox)."""

    name: str  # "hubspot" | "salesforce" | "sandbox"
    label: str  # how people know it: "HubSpot", "Salesforce"

    def open(self, draft: TicketDraft) -> TicketRef:
        """The request's ticket: the one already there (found by the request id before any
        create), or a new one. Raise CrmError on failure.
        """
        ...

    def close(self, ref: TicketRef, draft: TicketDraft, outcome: str) -> None:
        """Move the ticket to its closed stage, with the outcome; safe to repeat."""
        ...

    def probe(self, owner_emails: Sequence[str]) -> list[Probe]:
        """`frontdesk check`: the token and its scopes, the set-up tickets need, and that
        every owner email is a user of the CRM.
        """
        ...

    def won_deals(self, email: str, since: datetime, until: datetime) -> ContactDeals | None:
        """The contact with this email and its deals won in [since, until] (read-only);
        None when the CRM has no such contact.
        """
        ...
