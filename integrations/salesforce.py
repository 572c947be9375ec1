"""Salesforce Cases through `simple-salesforce`: `SalesforceTickets`, the `TicketSink` that
upserts one High-priority Case per request by the external id `Frontdesk_Request_Id__c`,
owned by the account owner's User, closes it, and reads back won Opportunities. It signs
in with the OAuth 2.0 JWT bearer flow (a connected app's certificate, no password).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import jwt
import requests
from simple_salesforce.api import Salesforce, SFType
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.format import format_soql

from integrations.base import Probe
from integrations.credentials import SalesforceSettings
from integrations.retry import retry_wait, root_cause
from integrations.tickets import (
    REQUEST_ID_FIELD,
    ContactDeals,
    CrmError,
    TicketDraft,
    TicketRef,
    WonDeal,
)

log = logging.getLogger("frontdesk.salesforce")

PROVIDER = "salesforce"
API_VERSION = "59.0"
SALESFORCE_TIMEOUT_SECONDS = 10.0
SALESFORCE_MAX_ATTEMPTS = 3
SALESFORCE_BACKOFF_SECONDS = 0.5
JWT_LIFETIME = timedelta(minutes=3)  # Salesforce accepts at most 3 minutes
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Without it, the org's Case assignment rules would overwrite the OwnerId we set.
NO_AUTO_ASSIGN = {"Sforce-Auto-Assign": "FALSE"}
# Salesforce's rate limit is a 403 with this code, not a 429.
RATE_LIMITED = "REQUEST_LIMIT_EXCEEDED"
# When the org's 24-hour API limit is spent, waiting minutes helps more than seconds.
RATE_LIMIT_WAIT_SECONDS = 300.0


class _TimeoutSession(requests.Session):
    """simple-salesforce passes no timeout to most calls: every request gets ours."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class SalesforceTickets:
    """The `TicketSink` on Salesforce's REST API (SALESFORCE_INSTANCE_URL)."""

    name = PROVIDER
    label = "Salesforce"

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        timeout: float = SALESFORCE_TIMEOUT_SECONDS,
        max_attempts: int = SALESFORCE_MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        needed = (
            settings.salesforce_instance_url,
            settings.salesforce_client_id,
            settings.salesforce_username,
            settings.salesforce_private_key_file,
        )
        if not all(needed):
            raise ValueError("SalesforceTickets needs the SALESFORCE_* variables of SPEC §12")
        self.instance_url = str(settings.salesforce_instance_url).rstrip("/")
        self.login_url = settings.salesforce_login_url.rstrip("/")
        self.client_id = str(settings.salesforce_client_id)
        self.username = str(settings.salesforce_username)
        self.key_file = Path(str(settings.salesforce_private_key_file))
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._sleep = sleep
        self._session = _TimeoutSession(timeout)
        self._client: Salesforce | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ signing in

    def _login(self) -> Salesforce:
        """A fresh access token by the JWT bearer flow, and a client on it."""
        try:
            key = self.key_file.read_text()
        except OSError as exc:
            raise CrmError(
                PROVIDER,
                "config",
                "private_key_unreadable",
                f"SALESFORCE_PRIVATE_KEY_FILE {self.key_file} cannot be read ({exc.strerror})",
            ) from None
        now = datetime.now(UTC)
        assertion = jwt.encode(
            {
                "iss": self.client_id,
                "sub": self.username,
                "aud": self.login_url,
                "exp": int((now + JWT_LIFETIME).timestamp()),
            },
            key,
            algorithm="RS256",
        )
        try:
            response = self._session.post(
                f"{self.login_url}/services/oauth2/token",
                data={"grant_type": JWT_GRANT, "assertion": assertion},
            )
        except requests.RequestException as exc:
            raise _wire_error("the sign-in", exc, self.timeout) from exc
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            error = str(body.get("error") or response.status_code)
            description = str(body.get("error_description") or "")
            raise CrmError(
                PROVIDER,
                response.status_code,
                error,
                f"Salesforce refused the JWT sign-in ({error}: {description}): check "
                "SALESFORCE_CLIENT_ID (the connected app's consumer key), SALESFORCE_USERNAME "
                "(pre-authorized for the app) and that the app holds the certificate of "
                "SALESFORCE_PRIVATE_KEY_FILE",
            )
        token = str(response.json()["access_token"])
        return Salesforce(
            instance_url=self.instance_url,
            session_id=token,
            version=API_VERSION,
            session=self._session,
        )

    def _sf(self, *, renew: bool = False) -> Salesforce:
        with self._lock:
            if self._client is None or renew:
                self._client = self._login()
            return self._client

    # ------------------------------------------------------------------ tickets

    def open(self, draft: TicketDraft) -> TicketRef:
        owner_id = self._user_id(draft.owner_email) if draft.owner_email else None
        if draft.owner_email and owner_id is None:  # `frontdesk check` names it too
            log.warning(
                "VIP owner is no active Salesforce User; the Case keeps the default owner",
                extra={"request_id": draft.request_id, "owner": draft.owner_email},
            )
        contact = self._contact(draft.client_email)
        fields: dict[str, Any] = {
            "Subject": draft.subject[:255],
            "Description": draft.content,
            "Priority": "High",
            "Origin": "Web",
            "SuppliedName": draft.client_name[:80],
            "SuppliedEmail": draft.client_email,
        }
        if draft.company:
            fields["SuppliedCompany"] = draft.company[:80]
        if draft.phone:
            fields["SuppliedPhone"] = draft.phone
        if owner_id:
            fields["OwnerId"] = owner_id
        if contact is not None:
            fields["ContactId"] = contact[0]
        # An upsert by the external id is one call that creates or finds: a retry or a
        # second replica updates the same Case instead of making another.
        answer = self._call(
            f"the Case of {draft.request_id}",
            lambda sf: _case(sf).upsert(
                f"{REQUEST_ID_FIELD}/{quote(draft.request_id, safe='')}",
                fields,
                raw_response=True,
                headers=NO_AUTO_ASSIGN,
            ),
        )
        case_id = _upserted_id(answer)
        if case_id is None:  # an API version that answers an update with 204, no body
            case = self._call(
                f"the Case of {draft.request_id}",
                lambda sf: _case(sf).get_by_custom_id(REQUEST_ID_FIELD, draft.request_id),
            )
            case_id = str(case["Id"])
        log.info("Salesforce Case upserted", extra={"request_id": draft.request_id})
        return TicketRef(
            PROVIDER,
            case_id,
            f"{self.instance_url}/lightning/r/Case/{case_id}/view",
            contact[0] if contact else None,
            owner_id,
        )

    def close(self, ref: TicketRef, draft: TicketDraft, outcome: str) -> None:
        fields = {"Status": "Closed", "Description": draft.closing_content(outcome)}
        self._call(
            f"closing the Case of {draft.request_id}",
            lambda sf: _case(sf).update(ref.ticket_id, fields, headers=NO_AUTO_ASSIGN),
        )

    def _user_id(self, email: str) -> str | None:
        soql = format_soql(
            "SELECT Id FROM User WHERE Email = {} AND IsActive = true LIMIT 1", email
        )
        records = self._call(f"the User {email}", lambda sf: sf.query(soql))["records"]
        return str(records[0]["Id"]) if records else None

    def _contact(self, email: str) -> tuple[str, str | None] | None:
        """(Contact Id, its Account Id) of the contact with this email, if there is one."""
        soql = format_soql(
            "SELECT Id, AccountId FROM Contact WHERE Email = {} ORDER BY CreatedDate LIMIT 1",
            email,
        )
        records = self._call("a Contact lookup", lambda sf: sf.query(soql))["records"]
        if not records:
            return None
        return str(records[0]["Id"]), records[0].get("AccountId")

    # ------------------------------------------------------------------ deals

    def won_deals(self, email: str, since: datetime, until: datetime) -> ContactDeals | None:
        contact = self._contact(email)
        if contact is None:
            return None
        contact_id, account_id = contact
        owned = "ContactId = {}" + (" OR AccountId = {}" if account_id else "")
        soql = format_soql(
            "SELECT Id, Amount, CloseDate FROM Opportunity WHERE IsWon = true AND ("
            + owned
            + ") AND CloseDate >= {} AND CloseDate <= {} ORDER BY CloseDate",
            contact_id,
            *([account_id] if account_id else []),
            since.astimezone(UTC).date(),
            until.astimezone(UTC).date(),
        )
        records = self._call(
            f"the Opportunities of contact {contact_id}", lambda sf: sf.query_all(soql)
        )["records"]
        won = []
        for record in records:
            closed = date.fromisoformat(str(record["CloseDate"]))
            closed_at = datetime(closed.year, closed.month, closed.day, tzinfo=UTC)
            amount = record.get("Amount")
            won.append(
                WonDeal(str(record["Id"]), float(amount) if amount is not None else None, closed_at)
            )
        return ContactDeals(contact_id, tuple(won))

    # ------------------------------------------------------------------ probing

    def probe(self, owner_emails: Sequence[str]) -> list[Probe]:
        try:
            sf = self._sf(renew=True)
        except CrmError as error:
            return [Probe(PROVIDER, "-", "token", False, error.message)]
        rows = [Probe(PROVIDER, "-", "token", True, f"instance {sf.sf_instance}")]
        try:
            described = self._call("the Case object", lambda sf: _case(sf).describe())
        except CrmError as error:
            rows.append(Probe(PROVIDER, "Case", "scopes", False, error.message))
            return rows
        rows.append(Probe(PROVIDER, "Case", "scopes", True))
        field = next(
            (f for f in described.get("fields", []) if f.get("name") == REQUEST_ID_FIELD), None
        )
        if field is None or not field.get("externalId"):
            detail = (
                f"Case has no external id field {REQUEST_ID_FIELD}: add a Text(40) field "
                "'Frontdesk Request Id' marked Unique and External ID under Object Manager → "
                "Case → Fields & Relationships"
                if field is None
                else f"Case.{REQUEST_ID_FIELD} is not marked External ID: edit the field and "
                "tick External ID (and Unique)"
            )
            rows.append(Probe(PROVIDER, REQUEST_ID_FIELD, "field", False, detail))
        else:
            rows.append(Probe(PROVIDER, REQUEST_ID_FIELD, "field", True))
        for email in owner_emails:
            try:
                user = self._user_id(email)
            except CrmError as error:
                rows.append(Probe(PROVIDER, email, "owner", False, error.message))
                continue
            rows.append(
                Probe(
                    PROVIDER,
                    email,
                    "owner",
                    user is not None,
                    f"user {user}"
                    if user
                    else f"{email} is no active Salesforce User: create or activate the user, "
                    "or fix owner_email in [[vip]]",
                )
            )
        return rows

    # ------------------------------------------------------------------ the wire

    def _call(self, what: str, call: Callable[[Salesforce], Any]) -> Any:
        """One Salesforce call, signing in again once on an expired session and retrying
        5xx (every call here is idempotent: an upsert, an update or a read) a bounded
        number of times; every failure comes out as a CrmError.
        """
        attempt = 1
        renewed = False
        while True:
            try:
                return call(self._sf())
            except requests.RequestException as exc:
                raise _wire_error(what, exc, self.timeout) from exc
            except SalesforceError as exc:
                code, message = _error(exc)
                if exc.status == 401 and not renewed:
                    renewed = True
                    self._sf(renew=True)
                    continue
                if code == RATE_LIMITED:
                    raise CrmError(
                        PROVIDER,
                        "rate_limited",
                        RATE_LIMITED,
                        f"Salesforce refused {what}: the org's API request limit is spent "
                        f"({message}); Frontdesk tries again later",
                        retry_after=RATE_LIMIT_WAIT_SECONDS,
                    ) from exc
                wait = (
                    retry_wait(None, attempt, backoff=SALESFORCE_BACKOFF_SECONDS)
                    if exc.status >= 500 and attempt < self.max_attempts
                    else None
                )
                if wait is None:
                    raise _api_error(what, exc.status, code, message, attempt) from exc
                log.warning(
                    "Salesforce answered %s; retrying in %.1f s",
                    exc.status,
                    wait,
                    extra={"attempt": attempt, "call": what},
                )
            self._sleep(wait)
            attempt += 1


def _case(sf: Salesforce) -> SFType:
    """The Case object's API (simple-salesforce types its attribute access loosely)."""
    return cast(SFType, sf.Case)


def _upserted_id(response: requests.Response) -> str | None:
    try:
        body = response.json() if response.content else None
    except ValueError:
        return None
    return str(body["id"]) if isinstance(body, dict) and body.get("id") else None


def _error(exc: SalesforceError) -> tuple[str, str]:
    """(errorCode, message) of Salesforce's error body, a list of {errorCode, message}."""
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode") or ""), str(content[0].get("message") or "")
    if isinstance(content, dict):
        return str(content.get("errorCode") or content.get("error") or ""), str(
            content.get("message") or ""
        )
    return "", str(content)[:200]


def _api_error(what: str, status: int, code: str, message: str, attempts: int) -> CrmError:
    reason = code or ("server_error" if status >= 500 else "refused")
    said = f"{code}: {message}" if code else (message or f"HTTP {status}")
    if status == 401:
        hint = f"Salesforce refused the session ({said}) even after signing in again"
    elif code == "INVALID_FIELD" or (code == "NOT_FOUND" and REQUEST_ID_FIELD in message):
        hint = (
            f"Salesforce refused {what} ({said}): Case needs the external id field "
            f"{REQUEST_ID_FIELD} (see README, Salesforce)"
        )
    elif status >= 500:
        hint = f"Salesforce answered HTTP {status} to {what} after {attempts} attempt(s) ({said})"
    else:
        hint = f"Salesforce refused {what} (HTTP {status}, {said})"
    return CrmError(PROVIDER, status, reason, hint)


def _wire_error(what: str, exc: requests.RequestException, timeout: float) -> CrmError:
    if isinstance(exc, requests.Timeout):
        kind = type(exc).__name__
        return CrmError(
            PROVIDER,
            "timeout",
            kind,
            f"Salesforce did not answer {what} within {timeout:g} s ({kind})",
        )
    kind = type(root_cause(exc)).__name__
    return CrmError(
        PROVIDER,
        "network",
        kind,
        f"Salesforce could not be reached for {what} ({kind}); check the network, "
        "SALESFORCE_LOGIN_URL and SALESFORCE_INSTANCE_URL",
    )
