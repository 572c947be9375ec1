"""HubSpot tickets through `hubspot-api-client`: `HubSpotTickets`, the `TicketSink` that
upserts the client's contact, finds the account owner, opens one HIGH-priority ticket per
request (searched by `frontdesk_request_id` before any create), closes it, and reads back
won deals. Every failure comes out as a CrmError (provider "hubspot").
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import requests
import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.associations.v4 import PublicFetchAssociationsBatchRequest as AssociationFrom
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
)
from hubspot.crm.contacts import Filter as ContactFilter
from hubspot.crm.contacts import FilterGroup as ContactFilterGroup
from hubspot.crm.contacts import PublicObjectSearchRequest as ContactSearch
from hubspot.crm.deals import BatchReadInputSimplePublicObjectId, SimplePublicObjectId
from hubspot.crm.tickets import (
    AssociationSpec,
    Filter,
    FilterGroup,
    PublicAssociationsForObject,
    PublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)

from integrations.base import Probe
from integrations.credentials import HubSpotSettings
from integrations.retry import retry_wait, root_cause
from integrations.tickets import (
    REQUEST_ID_PROPERTY,
    ContactDeals,
    CrmError,
    TicketDraft,
    TicketRef,
    WonDeal,
)

log = logging.getLogger("frontdesk.hubspot")

PROVIDER = "hubspot"
HUBSPOT_TIMEOUT_SECONDS = 10.0
HUBSPOT_MAX_ATTEMPTS = 3
HUBSPOT_BACKOFF_SECONDS = 0.5
# HubSpot's own association type: ticket to contact (HUBSPOT_DEFINED).
TICKET_TO_CONTACT = 16
# The scopes a private app needs for what Frontdesk does (SPEC §12).
REQUIRED_SCOPES = ("tickets", "crm.objects.contacts.write", "crm.objects.owners.read")
DEFAULT_UI_DOMAIN = "app.hubspot.com"
TICKET_OBJECT_TYPE = "0-5"
# Deals read per batch call (HubSpot's batch read takes up to 100 ids).
DEAL_BATCH = 100


class HubSpotTickets:
    """The `TicketSink` on HubSpot's CRM v3 API (base URL `HUBSPOT_API_URL`)."""

    name = PROVIDER
    label = "HubSpot"

    def __init__(
        self,
        settings: HubSpotSettings,
        *,
        pipeline: str,
        stage_open: str,
        stage_closed: str,
        timeout: float = HUBSPOT_TIMEOUT_SECONDS,
        max_attempts: int = HUBSPOT_MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if settings.hubspot_access_token is None:
            raise ValueError("HubSpotTickets needs HUBSPOT_ACCESS_TOKEN")
        self.token = settings.hubspot_access_token.get_secret_value()
        self.base_url = settings.hubspot_api_url.rstrip("/")
        self.pipeline = pipeline
        self.stage_open = stage_open
        self.stage_closed = stage_closed
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._sleep = sleep
        # retry=False: urllib3 must not resend a create on its own; retries are ours.
        self.client = HubSpot(access_token=self.token, host=self.base_url, retry=False)
        self._session = requests.Session()
        self._portal: tuple[str, str] | None = None

    # ------------------------------------------------------------------ tickets

    def open(self, draft: TicketDraft) -> TicketRef:
        found = self._find_ticket(draft.request_id)
        if found is not None:
            log.info("HubSpot ticket already there", extra={"request_id": draft.request_id})
            return found
        contact_id = self._upsert_contact(draft)
        owner_id = self._owner_id(draft.owner_email) if draft.owner_email else None
        if draft.owner_email and owner_id is None:  # `frontdesk check` names it too
            log.warning(
                "VIP owner is no HubSpot owner; the ticket is unassigned",
                extra={"request_id": draft.request_id, "owner": draft.owner_email},
            )
        properties = {
            "subject": draft.subject,
            "content": draft.content,
            "hs_pipeline": self.pipeline,
            "hs_pipeline_stage": self.stage_open,
            "hs_ticket_priority": "HIGH",
            REQUEST_ID_PROPERTY: draft.request_id,
        }
        if owner_id:
            properties["hubspot_owner_id"] = owner_id
        association = PublicAssociationsForObject(
            to=PublicObjectId(id=contact_id),
            types=[
                AssociationSpec(
                    association_category="HUBSPOT_DEFINED", association_type_id=TICKET_TO_CONTACT
                )
            ],
        )
        created = self._call(
            f"the ticket for {draft.request_id}",
            lambda: self.client.crm.tickets.basic_api.create(
                SimplePublicObjectInputForCreate(properties=properties, associations=[association]),
                _request_timeout=self.timeout,
            ),
            idempotent=False,
        )
        ticket_id = str(created.id)
        log.info("HubSpot ticket created", extra={"request_id": draft.request_id})
        return TicketRef(PROVIDER, ticket_id, self._ticket_url(ticket_id), contact_id, owner_id)

    def close(self, ref: TicketRef, draft: TicketDraft, outcome: str) -> None:
        properties = {
            "hs_pipeline_stage": self.stage_closed,
            "content": draft.closing_content(outcome),
        }
        self._call(
            f"closing the ticket of {draft.request_id}",
            lambda: self.client.crm.tickets.basic_api.update(
                ref.ticket_id,
                SimplePublicObjectInput(properties=properties),
                _request_timeout=self.timeout,
            ),
        )

    def _find_ticket(self, request_id: str) -> TicketRef | None:
        search = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(property_name=REQUEST_ID_PROPERTY, operator="EQ", value=request_id)
                    ]
                )
            ],
            properties=["subject", "hubspot_owner_id", REQUEST_ID_PROPERTY],
            limit=1,
        )
        answer = self._call(
            f"the search for the ticket of {request_id}",
            lambda: self.client.crm.tickets.search_api.do_search(
                search, _request_timeout=self.timeout
            ),
        )
        if not answer.results:
            return None
        ticket = answer.results[0]
        owner = (ticket.properties or {}).get("hubspot_owner_id")
        return TicketRef(PROVIDER, str(ticket.id), self._ticket_url(str(ticket.id)), None, owner)

    def _upsert_contact(self, draft: TicketDraft) -> str:
        first, _, last = draft.client_name.partition(" ")
        properties = {"email": draft.client_email, "firstname": first, "lastname": last}
        if draft.company:
            properties["company"] = draft.company
        if draft.phone:
            properties["phone"] = draft.phone
        batch = BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id=draft.client_email, id_property="email", properties=properties
                )
            ]
        )
        answer = self._call(
            f"the contact of {draft.request_id}",
            lambda: self.client.crm.contacts.batch_api.upsert(batch, _request_timeout=self.timeout),
        )
        return str(answer.results[0].id)

    def _owner_id(self, email: str) -> str | None:
        answer = self._call(
            f"the owner {email}",
            lambda: self.client.crm.owners.owners_api.get_page(
                email=email, limit=1, _request_timeout=self.timeout
            ),
        )
        return str(answer.results[0].id) if answer.results else None

    def _ticket_url(self, ticket_id: str) -> str | None:
        portal = self._portal_info()
        if portal is None:
            return None
        portal_id, ui_domain = portal
        return f"https://{ui_domain}/contacts/{portal_id}/record/{TICKET_OBJECT_TYPE}/{ticket_id}"

    def _portal_info(self) -> tuple[str, str] | None:
        """The account's id and UI domain (for ticket links), asked once; None when HubSpot
        will not say (the ticket still exists; only its link is missing).
        """
        if self._portal is None:
            try:
                details = self._raw("GET", "/account-info/v3/details", "the account's details")
            except CrmError as error:
                log.warning("no HubSpot account details for links", extra={"error": error.code})
                return None
            self._portal = (
                str(details.get("portalId")),
                str(details.get("uiDomain") or DEFAULT_UI_DOMAIN),
            )
        return self._portal

    # ------------------------------------------------------------------ deals

    def won_deals(self, email: str, since: datetime, until: datetime) -> ContactDeals | None:
        contact_id = self._find_contact(email)
        if contact_id is None:
            return None
        deal_ids = set(self._associated("contacts", [contact_id], "deals"))
        companies = self._associated("contacts", [contact_id], "companies")
        if companies:
            deal_ids |= set(self._associated("companies", companies, "deals"))
        won = []
        ordered = sorted(deal_ids)
        for start in range(0, len(ordered), DEAL_BATCH):
            batch = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=i) for i in ordered[start : start + DEAL_BATCH]],
                properties=["hs_is_closed_won", "amount", "closedate"],
                properties_with_history=[],
            )
            answer = self._read_deals(contact_id, batch)
            for deal in answer.results:
                properties = deal.properties or {}
                closed_at = _instant(properties.get("closedate"))
                if (
                    str(properties.get("hs_is_closed_won")).lower() == "true"
                    and closed_at is not None
                    and since <= closed_at <= until
                ):
                    won.append(WonDeal(str(deal.id), _amount(properties.get("amount")), closed_at))
        return ContactDeals(contact_id, tuple(sorted(won, key=lambda d: d.closed_at)))

    def _read_deals(self, contact_id: str, batch: BatchReadInputSimplePublicObjectId) -> Any:
        return self._call(
            f"the deals of contact {contact_id}",
            lambda: self.client.crm.deals.batch_api.read(batch, _request_timeout=self.timeout),
        )

    def _find_contact(self, email: str) -> str | None:
        search = ContactSearch(
            filter_groups=[
                ContactFilterGroup(
                    filters=[ContactFilter(property_name="email", operator="EQ", value=email)]
                )
            ],
            properties=["email"],
            limit=1,
        )
        answer = self._call(
            "a contact search",
            lambda: self.client.crm.contacts.search_api.do_search(
                search, _request_timeout=self.timeout
            ),
        )
        return str(answer.results[0].id) if answer.results else None

    def _associated(self, from_type: str, ids: list[str], to_type: str) -> list[str]:
        batch = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[AssociationFrom(id=i) for i in ids]
        )
        answer = self._call(
            f"the {to_type} of {from_type}",
            lambda: self.client.crm.associations.v4.batch_api.get_page(
                from_type, to_type, batch, _request_timeout=self.timeout
            ),
        )
        return [str(to.to_object_id) for result in answer.results for to in result.to]

    # ------------------------------------------------------------------ probing

    def probe(self, owner_emails: Sequence[str]) -> list[Probe]:
        rows: list[Probe] = []
        try:
            info = self._raw(
                "POST",
                "/oauth/v2/private-apps/get/access-token-info",
                "the token's details",
                body={"tokenKey": self.token},
            )
        except CrmError as error:
            return [Probe(PROVIDER, "-", "token", False, _token_hint(error))]
        rows.append(Probe(PROVIDER, "-", "token", True, f"account {info.get('hubId', '?')}"))
        granted = set(info.get("scopes") or [])
        missing = [scope for scope in REQUIRED_SCOPES if scope not in granted]
        rows.append(
            Probe(
                PROVIDER,
                "-",
                "scopes",
                not missing,
                f"the private app lacks {', '.join(missing)}: add them under its Scopes tab "
                "and paste the new token into HUBSPOT_ACCESS_TOKEN"
                if missing
                else "",
            )
        )
        rows.append(self._probe_pipeline())
        rows.append(self._probe_property())
        for email in owner_emails:
            rows.append(self._probe_owner(email))
        return rows

    def _probe_pipeline(self) -> Probe:
        subject = f"pipeline {self.pipeline}"
        try:
            pipeline = self._call(
                "the ticket pipeline",
                lambda: self.client.crm.pipelines.pipelines_api.get_by_id(
                    "tickets", self.pipeline, _request_timeout=self.timeout
                ),
            )
        except CrmError as error:
            detail = (
                f"no ticket pipeline {self.pipeline}: set [crm] hubspot_pipeline to an id "
                "from Settings → Objects → Tickets → Pipelines"
                if error.status == 404
                else error.message
            )
            return Probe(PROVIDER, subject, "pipeline", False, detail)
        stages = {str(stage.id) for stage in pipeline.stages or []}
        missing = [s for s in (self.stage_open, self.stage_closed) if s not in stages]
        if missing:
            return Probe(
                PROVIDER,
                subject,
                "pipeline",
                False,
                f"the pipeline has no stage {', '.join(missing)}: set [crm] hubspot_stage_open "
                f"and hubspot_stage_closed to stage ids of it ({', '.join(sorted(stages))})",
            )
        return Probe(PROVIDER, subject, "pipeline", True, f"stages {len(stages)}")

    def _probe_property(self) -> Probe:
        try:
            self._call(
                "the ticket property",
                lambda: self.client.crm.properties.core_api.get_by_name(
                    "tickets", REQUEST_ID_PROPERTY, _request_timeout=self.timeout
                ),
            )
        except CrmError as error:
            detail = (
                f"tickets have no property {REQUEST_ID_PROPERTY}: create it (single-line text, "
                "unique values) under Settings → Properties → Ticket properties"
                if error.status == 404
                else error.message
            )
            return Probe(PROVIDER, REQUEST_ID_PROPERTY, "property", False, detail)
        return Probe(PROVIDER, REQUEST_ID_PROPERTY, "property", True)

    def _probe_owner(self, email: str) -> Probe:
        try:
            owner = self._owner_id(email)
        except CrmError as error:
            return Probe(PROVIDER, email, "owner", False, error.message)
        if owner is None:
            return Probe(
                PROVIDER,
                email,
                "owner",
                False,
                f"{email} is no HubSpot owner: invite them as a user of the HubSpot account, "
                "or fix owner_email in [[vip]]",
            )
        return Probe(PROVIDER, email, "owner", True, f"owner {owner}")

    # ------------------------------------------------------------------ the wire

    def _raw(
        self, method: str, path: str, what: str, *, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A call the library has no typed API for. Its generic `api_request` takes no
        timeout and prints errors, so these go through requests directly.
        """

        def call() -> dict[str, Any]:
            response = self._session.request(
                method,
                f"{self.base_url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
                timeout=self.timeout,
            )
            if response.status_code >= 300:
                raise _Refused(response.status_code, response.content, response.headers)
            return dict(response.json())

        return dict(self._call(what, call))

    def _call(self, what: str, call: Callable[[], Any], *, idempotent: bool = True) -> Any:
        """One HubSpot call, retrying 429 (and 5xx when `idempotent`) a bounded number of
        times; every failure comes out as a CrmError with what HubSpot said.
        """
        attempt = 1
        while True:
            try:
                return call()
            except (urllib3.exceptions.TimeoutError, requests.Timeout) as exc:
                kind = type(exc).__name__
                raise CrmError(
                    PROVIDER,
                    "timeout",
                    kind,
                    f"HubSpot did not answer {what} within {self.timeout:g} s ({kind})",
                ) from exc
            except (urllib3.exceptions.HTTPError, requests.RequestException) as exc:
                kind = type(root_cause(exc)).__name__
                raise CrmError(
                    PROVIDER,
                    "network",
                    kind,
                    f"HubSpot could not be reached for {what} ({kind}); check the network and "
                    "HUBSPOT_API_URL",
                ) from exc
            except Exception as exc:
                refused = _refusal(exc)
                if refused is None:
                    raise
                retryable = refused.status == 429 or (idempotent and refused.status >= 500)
                wait = (
                    retry_wait(refused.retry_after, attempt, backoff=HUBSPOT_BACKOFF_SECONDS)
                    if retryable and attempt < self.max_attempts
                    else None
                )
                if wait is None:
                    raise _api_error(what, refused, attempt) from exc
                log.warning(
                    "HubSpot answered %s; retrying in %.1f s",
                    refused.status,
                    wait,
                    extra={"attempt": attempt, "call": what},
                )
            self._sleep(wait)
            attempt += 1


class _Refused(Exception):
    """HubSpot answered, but not with success: status, body and headers."""

    def __init__(self, status: int, body: bytes | str | None, headers: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        text = body.decode(errors="replace") if isinstance(body, bytes) else (body or "")
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.retry_after: str | None = None
        if headers is not None:
            self.retry_after = headers.get("Retry-After") or headers.get("retry-after")

    @property
    def category(self) -> str:
        return str(self.data.get("category") or self.data.get("errorType") or "")

    @property
    def message(self) -> str:
        return str(self.data.get("message") or "")


def _refusal(exc: Exception) -> _Refused | None:
    """The refusal in one of the library's per-package ApiExceptions (or ours)."""
    if isinstance(exc, _Refused):
        return exc
    status = getattr(exc, "status", None)
    if type(exc).__name__.endswith("Exception") and isinstance(status, int):
        return _Refused(status, getattr(exc, "body", None), getattr(exc, "headers", None))
    return None


def _api_error(what: str, refused: _Refused, attempts: int) -> CrmError:
    status = refused.status
    reason = refused.category or (
        "rate_limited" if status == 429 else "server_error" if status >= 500 else "refused"
    )
    said = refused.message or f"HTTP {status}"
    retry_after = None
    if refused.retry_after is not None:
        try:
            retry_after = float(refused.retry_after)
        except ValueError:
            retry_after = None
    if status == 401:
        hint = (
            f"HubSpot refused the access token ({said}): set HUBSPOT_ACCESS_TOKEN to the token "
            "of the private app (Settings → Integrations → Private apps) and restart"
        )
    elif status == 403:
        hint = (
            f"HubSpot refused {what} ({said}): the private app needs the scopes "
            f"{', '.join(REQUIRED_SCOPES)}"
        )
    elif status == 429:
        hint = f"HubSpot kept rate-limiting {what} after {attempts} attempt(s) ({said})"
    elif status >= 500:
        hint = f"HubSpot answered HTTP {status} to {what} after {attempts} attempt(s) ({said})"
    else:
        hint = f"HubSpot refused {what} (HTTP {status}, {said})"
    return CrmError(PROVIDER, status, reason, hint, retry_after=retry_after)


def _token_hint(error: CrmError) -> str:
    if error.status in (400, 401, 404):
        return (
            "HubSpot does not know this access token: set HUBSPOT_ACCESS_TOKEN to the token of "
            "the private app (Settings → Integrations → Private apps) and restart"
        )
    return error.message


def _instant(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _amount(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
