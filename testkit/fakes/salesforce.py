"""A fake Salesforce for tests: one real HTTPS server on 127.0.0.1 (simple-salesforce speaks
only https to an instance) that is both the login server of the JWT bearer flow, checking
the assertion's RS256 signature against the connected app's certificate, and the REST API
instance: Case upserts by external id, updates, describe, and the SOQL queries Frontdesk
sends. It records every call and can be told to fail.

The certificate comes from a trustme CA the test trusts through REQUESTS_CA_BUNDLE:

    with FakeSalesforce(public_key=key.public_key(), users={"olivia@ourco.example": "005A"}):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import ssl
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jwt
import trustme

from testkit.fakes import FakeHandler, FakeHTTPServer
from testkit.fakes.routed import RoutedFake, Scripted

CLIENT_ID = "3MVG9fake.consumer.key"
USERNAME = "frontdesk-integration@ourco.example"
API = "/services/data/v59.0"
TOKEN = "POST /services/oauth2/token"
UPSERT_CASE = "PATCH /sobjects/Case/Frontdesk_Request_Id__c/{rid}"
GET_CASE_BY_RID = "GET /sobjects/Case/Frontdesk_Request_Id__c/{rid}"
UPDATE_CASE = "PATCH /sobjects/Case/{id}"
DESCRIBE_CASE = "GET /sobjects/Case/describe"
QUERY = "GET /query"

CASE_FIELDS = ("Id", "Subject", "Description", "Priority", "Origin", "Status", "OwnerId")


def _sf_error(status: int, code: str, message: str) -> tuple[int, Any]:
    return status, [{"message": message, "errorCode": code}]


class FakeSalesforce(RoutedFake):
    thread_name = "fake-salesforce"

    def __init__(
        self,
        *,
        public_key: Any,
        users: dict[str, str] | None = None,
        client_id: str = CLIENT_ID,
        username: str = USERNAME,
        external_id_field: bool = True,
        ca: trustme.CA | None = None,
    ) -> None:
        super().__init__()
        self.public_key = public_key
        self.users = {k.lower(): v for k, v in (users or {}).items()}  # email -> User Id
        self.client_id = client_id
        self.username = username
        self.external_id_field = external_id_field
        self.ca = ca or trustme.CA()
        self.cases: dict[str, dict[str, Any]] = {}  # Id -> fields (with the external id)
        self.contacts: dict[str, dict[str, Any]] = {}  # email -> {"Id", "AccountId"}
        self.opportunities: list[dict[str, Any]] = []
        self.tokens: set[str] = set()
        self._seq = itertools.count(1)

    # ----------------------------------------------------------------- lifecycle

    @property
    def origin(self) -> str:
        return "https" + self.root_url.removeprefix("http").rstrip("/")

    def settings(self, key_file: str) -> dict[str, str]:
        """The SALESFORCE_* settings that aim Frontdesk at this fake."""
        return {
            "salesforce_login_url": self.origin,
            "salesforce_instance_url": self.origin,
            "salesforce_client_id": self.client_id,
            "salesforce_username": self.username,
            "salesforce_private_key_file": key_file,
        }

    def make_server(self, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        server = _TLSServer(("127.0.0.1", 0), handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        return server

    # ----------------------------------------------------------------- seeding

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq):015d}"

    def add_contact(self, email: str, account_id: str | None = None) -> str:
        with self._lock:
            contact_id = self._id("003")
            self.contacts[email.lower()] = {"Id": contact_id, "AccountId": account_id}
        return contact_id

    def add_opportunity(
        self,
        *,
        contact_id: str | None = None,
        account_id: str | None = None,
        won: bool,
        amount: float | None,
        closed: date,
    ) -> str:
        with self._lock:
            opportunity_id = self._id("006")
            self.opportunities.append(
                {
                    "Id": opportunity_id,
                    "ContactId": contact_id,
                    "AccountId": account_id,
                    "IsWon": won,
                    "Amount": amount,
                    "CloseDate": closed.isoformat(),
                }
            )
        return opportunity_id

    # ----------------------------------------------------------------- inspection and scripts

    def fail_next(self, route: str, status: int = 500, times: int = 1) -> None:
        body = _sf_error(status, "UNKNOWN_EXCEPTION", "An unexpected error occurred.")[1]
        self.script(route, Scripted(status, body, times=times))

    def limit_next(self, route: str, times: int = 1) -> None:
        """Salesforce's rate limit: a 403 REQUEST_LIMIT_EXCEEDED (there is no 429)."""
        body = _sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")[1]
        self.script(route, Scripted(403, body, times=times))

    def delay_next(self, route: str, seconds: float) -> None:
        self.script(route, Scripted(delay=seconds))

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
        if route == TOKEN:
            return self._token(body or {})
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return _sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if route == UPSERT_CASE:
            return self._upsert_case(params["rid"], body or {})
        if route == GET_CASE_BY_RID:
            case = self._case_by_rid(params["rid"])
            return (200, case) if case else _sf_error(404, "NOT_FOUND", "not found")
        if route == UPDATE_CASE:
            return self._update_case(params["id"], body or {})
        if route == DESCRIBE_CASE:
            return 200, self._describe()
        if route == QUERY:
            return self._query(query.get("q", ""))
        return _sf_error(404, "NOT_FOUND", f"The requested resource does not exist: {route}")

    def _token(self, form: dict[str, str]) -> tuple[int, Any]:
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type"}
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.public_key,
                algorithms=["RS256"],
                audience=self.origin,
            )
        except jwt.PyJWTError as exc:
            return 400, {"error": "invalid_grant", "error_description": f"invalid assertion {exc}"}
        if claims.get("iss") != self.client_id:
            return 400, {
                "error": "invalid_client_id",
                "error_description": "client identifier invalid",
            }
        if claims.get("sub") != self.username:
            return 400, {
                "error": "invalid_grant",
                "error_description": "user hasn't approved this consumer",
            }
        access = f"00Dfake!{next(self._seq)}"
        with self._lock:
            self.tokens.add(access)
        return 200, {
            "access_token": access,
            "scope": "api",
            "instance_url": self.origin,
            "id": f"{self.origin}/id/00Dfake/005fake",
            "token_type": "Bearer",
        }

    def _case_by_rid(self, rid: str) -> dict[str, Any] | None:
        with self._lock:
            return next(
                (dict(c) for c in self.cases.values() if c["Frontdesk_Request_Id__c"] == rid), None
            )

    def _upsert_case(self, rid: str, fields: dict[str, Any]) -> tuple[int, Any]:
        if not self.external_id_field:
            return _sf_error(
                404,
                "NOT_FOUND",
                "Provided external ID field does not exist or is not accessible: "
                "Frontdesk_Request_Id__c",
            )
        owner = fields.get("OwnerId")
        if owner is not None and owner not in self.users.values():
            return _sf_error(400, "FIELD_INTEGRITY_EXCEPTION", "Owner ID: owner cannot be blank")
        with self._lock:
            case = next(
                (c for c in self.cases.values() if c["Frontdesk_Request_Id__c"] == rid), None
            )
            created = case is None
            if case is None:
                case = {"Id": self._id("500"), "Status": "New", "Frontdesk_Request_Id__c": rid}
                self.cases[case["Id"]] = case
            case.update(fields)
        return (201 if created else 200), {
            "id": case["Id"],
            "success": True,
            "errors": [],
            "created": created,
        }

    def _update_case(self, case_id: str, fields: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            case = self.cases.get(case_id)
            if case is None:
                return _sf_error(404, "NOT_FOUND", "Provided external ID field does not exist")
            case.update(fields)
        return 204, None

    def _describe(self) -> dict[str, Any]:
        fields = [{"name": name, "externalId": False} for name in CASE_FIELDS]
        if self.external_id_field:
            fields.append({"name": "Frontdesk_Request_Id__c", "externalId": True, "unique": True})
        return {"name": "Case", "fields": fields}

    def _query(self, soql: str) -> tuple[int, Any]:
        records: list[dict[str, Any]]
        if match := re.match(r"SELECT Id FROM User WHERE Email = '([^']*)'", soql):
            user = self.users.get(match[1].lower())
            records = [{"attributes": {"type": "User"}, "Id": user}] if user else []
        elif match := re.match(r"SELECT Id, AccountId FROM Contact WHERE Email = '([^']*)'", soql):
            contact = self.contacts.get(match[1].lower())
            records = [{"attributes": {"type": "Contact"}, **contact}] if contact else []
        elif soql.startswith("SELECT Id, Amount, CloseDate FROM Opportunity"):
            records = self._won(soql)
        else:
            return _sf_error(400, "MALFORMED_QUERY", f"unexpected query: {soql}")
        return 200, {"totalSize": len(records), "done": True, "records": records}

    def _won(self, soql: str) -> list[dict[str, Any]]:
        contact = re.search(r"ContactId = '([^']*)'", soql)
        account = re.search(r"AccountId = '([^']*)'", soql)
        since = re.search(r"CloseDate >= (\d{4}-\d\d-\d\d)", soql)
        until = re.search(r"CloseDate <= (\d{4}-\d\d-\d\d)", soql)
        assert since and until and contact and "IsWon = true" in soql, soql
        found = []
        for opportunity in self.opportunities:
            mine = opportunity["ContactId"] == contact[1] or (
                account is not None and opportunity["AccountId"] == account[1]
            )
            if mine and opportunity["IsWon"] and since[1] <= opportunity["CloseDate"] <= until[1]:
                found.append(
                    {
                        "attributes": {"type": "Opportunity"},
                        "Id": opportunity["Id"],
                        "Amount": opportunity["Amount"],
                        "CloseDate": opportunity["CloseDate"],
                    }
                )
        return sorted(found, key=lambda o: o["CloseDate"])


def route_of(method: str, path: str) -> tuple[str, dict[str, str]]:
    if path == "/services/oauth2/token":
        return TOKEN, {}
    rest = path.removeprefix(API)
    parts = [unquote(p) for p in rest.strip("/").split("/")]
    if rest == "/query" or rest == "/query/":
        return QUERY, {}
    if parts[:2] == ["sobjects", "Case"]:
        if len(parts) == 3 and parts[2] == "describe" and method == "GET":
            return DESCRIBE_CASE, {}
        if len(parts) == 4 and parts[2] == "Frontdesk_Request_Id__c":
            if method == "PATCH":
                return UPSERT_CASE, {"rid": parts[3]}
            if method == "GET":
                return GET_CASE_BY_RID, {"rid": parts[3]}
        if len(parts) == 3 and method == "PATCH":
            return UPDATE_CASE, {"id": parts[2]}
    return f"{method} {path}", {}


class _TLSServer(FakeHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client refusing the certificate shows up in the test, not on stderr."""


class _Handler(FakeHandler):
    fake: FakeSalesforce
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        self.request.settimeout(5)
        self.request.do_handshake()
        super().setup()

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        raw = self.read_body()
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            body: Any = dict(parse_qsl(raw.decode()))
        else:
            body = json.loads(raw) if raw else None
        query = dict(parse_qsl(split.query))
        # A client that gave up (a timeout test) is gone; the work is done all the same.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.send(*self.fake.handle(method, split.path, query, body, self.lower_headers()))


FakeSalesforce.handler = _Handler
