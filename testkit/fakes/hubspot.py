"""A fake HubSpot API for tests: a real HTTP server on 127.0.0.1 that answers the CRM v3/v4
endpoints Frontdesk uses (through `hubspot-api-client`) with real-shaped payloads, keeps
contacts, owners, tickets, companies and deals, records every call, and can be told to fail.

    with FakeHubSpot(owners={"olivia@ourco.example": "101"}) as fake:
        settings = make_settings(url, hubspot_access_token=fake.token, hubspot_api_url=fake.url)
        fake.fail_next(CREATE_TICKET, 500)
        ...
        assert fake.tickets[0]["properties"]["hs_ticket_priority"] == "HIGH"
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from testkit.fakes import FakeHandler
from testkit.fakes.routed import RoutedFake, Scripted

FAKE_TOKEN = "pat-na1-fake-0000"
PORTAL_ID = 4242
ALL_SCOPES = ("tickets", "crm.objects.contacts.write", "crm.objects.owners.read")

SEARCH_TICKETS = "POST /crm/v3/objects/tickets/search"
CREATE_TICKET = "POST /crm/v3/objects/tickets"
UPDATE_TICKET = "PATCH /crm/v3/objects/tickets/{id}"
UPSERT_CONTACTS = "POST /crm/v3/objects/contacts/batch/upsert"
SEARCH_CONTACTS = "POST /crm/v3/objects/contacts/search"
OWNERS = "GET /crm/v3/owners/"
ACCOUNT = "GET /account-info/v3/details"
TOKEN_INFO = "POST /oauth/v2/private-apps/get/access-token-info"
PIPELINE = "GET /crm/v3/pipelines/tickets/{id}"
PROPERTY = "GET /crm/v3/properties/tickets/{name}"
ASSOCIATIONS = "POST /crm/v4/associations/{from}/{to}/batch/read"
READ_DEALS = "POST /crm/v3/objects/deals/batch/read"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _object(object_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    stamp = _now()
    return {
        "id": object_id,
        "properties": properties,
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }


def _error(status: int, category: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "status": "error",
        "message": message,
        "correlationId": "00000000-0000-0000-0000-000000000000",
        "category": category,
    }


class FakeHubSpot(RoutedFake):
    """The fake server; a context manager that starts on enter and stops on exit."""

    thread_name = "fake-hubspot"

    def __init__(
        self,
        *,
        token: str = FAKE_TOKEN,
        owners: dict[str, str] | None = None,
        scopes: tuple[str, ...] = ALL_SCOPES,
        pipelines: dict[str, tuple[str, ...]] | None = None,
        has_property: bool = True,
    ) -> None:
        super().__init__()
        self.token = token
        self.owners = dict(owners or {})  # email -> owner id
        self.scopes = scopes
        self.pipelines = pipelines if pipelines is not None else {"0": ("1", "2", "3", "4")}
        self.has_property = has_property
        self.tickets: list[dict[str, Any]] = []  # {"id", "properties", "associations"}
        self.contacts: dict[str, dict[str, Any]] = {}  # email -> {"id", "properties"}
        self.companies: dict[str, list[str]] = {}  # contact id -> company ids
        self.deals: dict[str, dict[str, Any]] = {}  # deal id -> properties
        self.deal_links: dict[str, list[str]] = {}  # contact or company id -> deal ids
        self._next_id = 1000

    @property
    def url(self) -> str:
        """HUBSPOT_API_URL for this server (no trailing slash, as HubSpot's own)."""
        return self.root_url.rstrip("/")

    # ----------------------------------------------------------------- seeding

    def add_contact(self, email: str, company_id: str | None = None) -> str:
        with self._lock:
            contact_id = self._new_id()
            self.contacts[email.lower()] = {"id": contact_id, "properties": {"email": email}}
            if company_id:
                self.companies.setdefault(contact_id, []).append(company_id)
        return contact_id

    def add_deal(self, owner_id: str, *, won: bool, amount: float | None, closed: datetime) -> str:
        """A deal associated to a contact or company id, closed (won or lost) at `closed`."""
        with self._lock:
            deal_id = self._new_id()
            self.deals[deal_id] = {
                "hs_is_closed_won": "true" if won else "false",
                "amount": None if amount is None else str(amount),
                "closedate": closed.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            }
            self.deal_links.setdefault(owner_id, []).append(deal_id)
        return deal_id

    # ----------------------------------------------------------------- inspection

    # ----------------------------------------------------------------- scripting

    def fail_next(self, route: str, status: int = 500, times: int = 1) -> None:
        """The next call(s) of `route` get an error: HubSpot's JSON for 4xx, an edge
        proxy's HTML page for 5xx.
        """
        if status >= 500:
            body: dict[str, Any] | str = f"<html><body><h1>{status}</h1></body></html>"
            headers = {"Content-Type": "text/html"}
        else:
            body = _error(status, "VALIDATION_ERROR", "Refused by the fake")[1]
            headers = {}
        self.script(route, Scripted(status, body, headers, times=times))

    def rate_limit_next(self, route: str, retry_after: int = 1, times: int = 1) -> None:
        body = {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "SECONDLY",
            "category": "RATE_LIMITS",
        }
        headers = {"Retry-After": str(retry_after)}
        self.script(route, Scripted(429, body, headers, times=times))

    def delay_next(self, route: str, seconds: float, times: int = 1) -> None:
        """The next call(s) are carried out, but answered only after `seconds` (a timeout
        on the client's side that hides a success).
        """
        self.script(route, Scripted(delay=seconds, times=times))

    # ----------------------------------------------------------------- dispatch

    def route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        return route_of(method, path)

    def answer(
        self,
        route: str,
        params: dict[str, str],
        query: dict[str, str],
        body: Any,
        headers: dict[str, str],
    ) -> tuple[int, Any]:
        if route == TOKEN_INFO:
            if (body or {}).get("tokenKey") != self.token:
                return _error(400, "VALIDATION_ERROR", "Token not found")
            return 200, {"userId": 1, "hubId": PORTAL_ID, "appId": 7, "scopes": list(self.scopes)}
        if headers.get("authorization") != f"Bearer {self.token}":
            return _error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        handlers: dict[str, Callable[[], tuple[int, Any]]] = {
            SEARCH_TICKETS: lambda: self._search_tickets(body),
            CREATE_TICKET: lambda: self._create_ticket(body),
            UPDATE_TICKET: lambda: self._update_ticket(params["id"], body),
            UPSERT_CONTACTS: lambda: self._upsert_contacts(body),
            SEARCH_CONTACTS: lambda: self._search_contacts(body),
            OWNERS: lambda: self._owners(query),
            ACCOUNT: lambda: (200, {"portalId": PORTAL_ID, "uiDomain": "app.hubspot.com"}),
            PIPELINE: lambda: self._pipeline(params["id"]),
            PROPERTY: lambda: self._property(params["name"]),
            ASSOCIATIONS: lambda: self._associations(params["from"], params["to"], body),
            READ_DEALS: lambda: self._read_deals(body),
        }
        handler = handlers.get(route)
        if handler is None:
            return _error(404, "OBJECT_NOT_FOUND", f"No such endpoint: {route}")
        return handler()

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _search_tickets(self, body: dict[str, Any]) -> tuple[int, Any]:
        filters = [f for group in body.get("filterGroups", []) for f in group.get("filters", [])]
        with self._lock:
            found = [
                t
                for t in self.tickets
                if all(t["properties"].get(f["propertyName"]) == f.get("value") for f in filters)
            ]
        results = [_object(t["id"], t["properties"]) for t in found[: body.get("limit", 10)]]
        return 200, {"total": len(found), "results": results}

    def _create_ticket(self, body: dict[str, Any]) -> tuple[int, Any]:
        properties = dict(body.get("properties") or {})
        for name in ("subject", "hs_pipeline", "hs_pipeline_stage"):
            if not properties.get(name):
                return _error(400, "VALIDATION_ERROR", f"Property {name} is required")
        if "frontdesk_request_id" in properties and not self.has_property:
            return _error(400, "VALIDATION_ERROR", 'Property "frontdesk_request_id" does not exist')
        with self._lock:
            ticket: dict[str, Any] = {
                "id": self._new_id(),
                "properties": properties,
                "associations": body.get("associations") or [],
            }
            self.tickets.append(ticket)
        return 201, _object(ticket["id"], properties)

    def _update_ticket(self, ticket_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            ticket = next((t for t in self.tickets if t["id"] == ticket_id), None)
            if ticket is None:
                return _error(404, "OBJECT_NOT_FOUND", "resource not found")
            ticket["properties"].update(body.get("properties") or {})
            properties = dict(ticket["properties"])
        return 200, _object(ticket_id, properties)

    def _upsert_contacts(self, body: dict[str, Any]) -> tuple[int, Any]:
        results = []
        for item in body.get("inputs", []):
            if item.get("idProperty") != "email":
                return _error(400, "VALIDATION_ERROR", "idProperty must be unique")
            email = str(item["id"]).lower()
            with self._lock:
                contact = self.contacts.get(email)
                new = contact is None
                if contact is None:
                    contact = {"id": self._new_id(), "properties": {"email": email}}
                    self.contacts[email] = contact
                contact["properties"].update(item.get("properties") or {})
            results.append({**_object(contact["id"], dict(contact["properties"])), "new": new})
        stamp = _now()
        return 200, {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": stamp,
            "startedAt": stamp,
            "completedAt": stamp,
        }

    def _search_contacts(self, body: dict[str, Any]) -> tuple[int, Any]:
        filters = [f for group in body.get("filterGroups", []) for f in group.get("filters", [])]
        emails = [str(f.get("value")).lower() for f in filters if f["propertyName"] == "email"]
        with self._lock:
            found = [self.contacts[e] for e in emails if e in self.contacts]
        results = [_object(c["id"], dict(c["properties"])) for c in found]
        return 200, {"total": len(results), "results": results}

    def _owners(self, query: dict[str, str]) -> tuple[int, Any]:
        email = query.get("email", "").lower()
        stamp = _now()
        results = [
            {
                "id": owner_id,
                "email": address,
                "firstName": address.split("@")[0].title(),
                "lastName": "",
                "userId": int(owner_id),
                "type": "PERSON",
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
            }
            for address, owner_id in self.owners.items()
            if not email or address == email
        ]
        return 200, {"results": results}

    def _pipeline(self, pipeline_id: str) -> tuple[int, Any]:
        stages = self.pipelines.get(pipeline_id)
        if stages is None:
            return _error(404, "OBJECT_NOT_FOUND", f"Unable to find pipeline {pipeline_id}")
        stamp = _now()
        return 200, {
            "id": pipeline_id,
            "label": "Support Pipeline",
            "displayOrder": 0,
            "createdAt": stamp,
            "updatedAt": stamp,
            "archived": False,
            "stages": [
                {
                    "id": stage,
                    "label": f"Stage {stage}",
                    "displayOrder": order,
                    "metadata": {"ticketState": "CLOSED" if stage == "4" else "OPEN"},
                    "createdAt": stamp,
                    "updatedAt": stamp,
                    "archived": False,
                    "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                }
                for order, stage in enumerate(stages)
            ],
        }

    def _property(self, name: str) -> tuple[int, Any]:
        if name != "frontdesk_request_id" or not self.has_property:
            return _error(404, "OBJECT_NOT_FOUND", f"Property {name} does not exist")
        return 200, {
            "name": name,
            "label": "Frontdesk request id",
            "type": "string",
            "fieldType": "text",
            "groupName": "ticketinformation",
            "options": [],
            "hasUniqueValue": True,
        }

    def _associations(self, from_type: str, to_type: str, body: dict[str, Any]) -> tuple[int, Any]:
        results = []
        for item in body.get("inputs", []):
            source = str(item["id"])
            with self._lock:
                if from_type == "contacts" and to_type == "companies":
                    targets = list(self.companies.get(source, []))
                elif to_type == "deals":
                    targets = list(self.deal_links.get(source, []))
                else:
                    targets = []
            if targets:
                results.append(
                    {
                        "from": {"id": source},
                        "to": [
                            {
                                "toObjectId": target,
                                "associationTypes": [
                                    {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": None}
                                ],
                            }
                            for target in targets
                        ],
                    }
                )
        stamp = _now()
        return 200, {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": stamp,
            "startedAt": stamp,
            "completedAt": stamp,
        }

    def _read_deals(self, body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            results = [
                _object(str(item["id"]), dict(self.deals[str(item["id"])]))
                for item in body.get("inputs", [])
                if str(item["id"]) in self.deals
            ]
        stamp = _now()
        return 200, {
            "status": "COMPLETE",
            "results": results,
            "requestedAt": stamp,
            "startedAt": stamp,
            "completedAt": stamp,
        }


_TEMPLATES = (
    UPDATE_TICKET,
    PIPELINE,
    PROPERTY,
    ASSOCIATIONS,
)


def route_of(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The route template a request matches, and its path parameters."""
    parts = [unquote(p) for p in path.strip("/").split("/")]
    for template in _TEMPLATES:
        t_method, t_path = template.split(" ", 1)
        t_parts = t_path.strip("/").split("/")
        if t_method != method or len(t_parts) != len(parts):
            continue
        params: dict[str, str] = {}
        for t, p in zip(t_parts, parts, strict=True):
            if t.startswith("{"):
                params[t[1:-1]] = p
            elif t != p:
                break
        else:
            return template, params
    return f"{method} {path}", {}


class _Handler(FakeHandler):
    fake: FakeHubSpot

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        raw = self.read_body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self.send(400, json.dumps({"status": "error", "message": "Invalid JSON"}), {})
            return
        query = dict(parse_qsl(split.query))
        # A client that gave up (a timeout test) is gone; the work is done all the same.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send(*self.fake.handle(method, split.path, query, body, self.lower_headers()))


FakeHubSpot.handler = _Handler
