"""CRM tickets on Salesforce (SPEC §12, issue #15): the JWT bearer sign-in with a real RSA key,
the Case upserted by the external id with its owner and `Sforce-Auto-Assign: FALSE`, the
Case closed when the escalation is booked in Slack, and the rate limit waited out; all
through `simple-salesforce` against our fake Salesforce over TLS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.messages.ids import ActionId, BlockId
from bot.scheduler import upkeep
from bot.services.tickets import SUBJECT_VIP
from integrations.salesforce import RATE_LIMIT_WAIT_SECONDS
from storage.models import TicketStatus
from testkit.fakes.salesforce import UPSERT_CASE, FakeSalesforce
from testkit.fakes.slack import FakeSlack, FakeUser
from tests.conftest import FixedClock
from tests.integration.conftest import StartApp
from tests.integration.test_slack_triage import all_text, open_book, options
from tests.slack_requests import SlackHarness, wait_for

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

OLIVIA = FakeUser("U0OLIVIA", "olivia@ourco.example")
MARCUS = FakeUser("U0MARCUS", "marcus@ourco.example")
OMAR = FakeUser("U0OMAR", "omar@ourco.example", tz="Europe/London")
OLIVIAS_USER = "005000000000OLV"


def vip(submission_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": "dana@majorclient.com",
        "company": "Major Client Inc",
        "notes": "Renewal of our enterprise plan",
        "timezone": "America/Phoenix",
        "requested_start": "2026-12-01T14:00:00-07:00",
        "rep": "alice@ourco.example",
        **fields,
    }


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    """The connected app's key pair: Frontdesk signs with the private half."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> str:
    path = tmp_path / "salesforce.key"
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


@pytest.fixture(scope="module")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    ca = trustme.CA()
    bundle = tmp_path_factory.mktemp("salesforce-ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ca, bundle


@pytest.fixture
def salesforce(
    rsa_key: rsa.RSAPrivateKey,
    ca_bundle: tuple[trustme.CA, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[FakeSalesforce]:
    ca, bundle = ca_bundle
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    users = {"olivia@ourco.example": OLIVIAS_USER, "marcus@ourco.example": "005000000000MRC"}
    with FakeSalesforce(public_key=rsa_key.public_key(), users=users, ca=ca) as fake:
        yield fake


@pytest.fixture
def slack_users() -> list[FakeUser]:
    return [OLIVIA, MARCUS, OMAR]


@pytest.fixture
def slack(start: StartApp, salesforce: FakeSalesforce, key_file: str) -> SlackHarness:
    return start(crm={"provider": "salesforce"}, settings=salesforce.settings(key_file))


def settle(slack: SlackHarness) -> None:
    assert slack.components.tickets is not None
    slack.components.tickets.drain()


@SQLITE_ONLY
def test_a_vip_request_upserts_one_case_by_external_id_owned_by_the_account_owner(
    slack: SlackHarness, salesforce: FakeSalesforce
) -> None:
    request_id = slack.intake(vip("sf-vip-1"))["request_id"]
    settle(slack)

    [case] = salesforce.cases.values()
    assert case["Frontdesk_Request_Id__c"] == request_id
    assert case["Subject"] == SUBJECT_VIP.format(name="Dana Reyes", company="Major Client Inc")
    assert (case["Priority"], case["Origin"], case["Status"]) == ("High", "Web", "New")
    assert case["OwnerId"] == OLIVIAS_USER
    assert case["SuppliedEmail"] == "dana@majorclient.com"
    assert "Renewal of our enterprise plan" in case["Description"]
    [upsert] = salesforce.calls(UPSERT_CASE)
    assert upsert.path.endswith(f"/sobjects/Case/Frontdesk_Request_Id__c/{request_id}")
    assert upsert.headers["sforce-auto-assign"] == "FALSE"
    assert upsert.headers["authorization"].startswith("Bearer 00Dfake!")
    _, message = slack.message(request_id)
    link = f"{salesforce.origin}/lightning/r/Case/{case['Id']}/view"
    assert f"<{link}|Open in Salesforce>" in all_text(message["blocks"])

    # Another attempt (a replica, a retry) upserts the same Case.
    tickets = slack.components.tickets
    assert tickets is not None
    again = tickets.sink.open(_draft(slack, request_id))
    assert again.ticket_id == case["Id"]
    assert len(salesforce.cases) == 1


def _draft(slack: SlackHarness, request_id: str) -> Any:
    from bot.services.tickets import ticket_draft

    request = slack.components.requests.get(request_id)
    escalation = slack.components.escalations.get_by_request(request_id)
    assert request is not None and escalation is not None
    return ticket_draft(slack.components.config, request, escalation)


@SQLITE_ONLY
def test_booking_the_escalation_in_slack_closes_the_case(
    slack: SlackHarness, fake: FakeSlack, salesforce: FakeSalesforce
) -> None:
    request_id = slack.intake(vip("sf-book-1"))["request_id"]
    settle(slack)

    view_id = open_book(slack, fake, OMAR, request_id)
    chosen = options(slack.view(view_id), BlockId.BOOK_SLOT)[0]["value"]
    slack.submit(OMAR.id, view_id, {ActionId.BOOK_SLOT: chosen})
    wait_for(lambda: slack.escalation(request_id).outcome == "booked", what="the booking in Slack")
    slack.executor.drain()
    settle(slack)

    [case] = salesforce.cases.values()
    assert case["Status"] == "Closed"
    assert "Outcome in Frontdesk: Booked" in case["Description"]
    assert "with alice@ourco.example" in case["Description"]
    stored = slack.components.tickets.tickets.get(request_id)  # type: ignore[union-attr]
    assert stored is not None and stored.status == TicketStatus.CLOSED


@SQLITE_ONLY
def test_request_limit_exceeded_is_a_rate_limit_retried_later(
    slack: SlackHarness, salesforce: FakeSalesforce, clock: FixedClock
) -> None:
    salesforce.limit_next(UPSERT_CASE)

    request_id = slack.intake(vip("sf-limit-1"))["request_id"]
    settle(slack)

    assert salesforce.cases == {}
    stored = slack.components.tickets.tickets.get(request_id)  # type: ignore[union-attr]
    assert stored is not None and stored.status == TicketStatus.PENDING
    assert stored.next_attempt_at == clock.now + timedelta(seconds=RATE_LIMIT_WAIT_SECONDS)
    _, message = slack.message(request_id)
    assert "API request limit" in all_text(message["blocks"])

    clock.now += timedelta(seconds=RATE_LIMIT_WAIT_SECONDS + 1)
    upkeep(slack.components)

    assert len(salesforce.cases) == 1


@SQLITE_ONLY
def test_an_expired_session_signs_in_again(slack: SlackHarness, salesforce: FakeSalesforce) -> None:
    slack.intake(vip("sf-session-1"))
    settle(slack)
    salesforce.tokens.clear()  # every session expires

    request_id = slack.intake(vip("sf-session-2", email="lee@majorclient.com"))["request_id"]
    settle(slack)

    assert len(salesforce.cases) == 2
    assert len(salesforce.calls("POST /services/oauth2/token")) == 2
    stored = slack.components.tickets.tickets.get(request_id)  # type: ignore[union-attr]
    assert stored is not None and stored.status == TicketStatus.OPEN
