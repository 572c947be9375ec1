"""CRM tickets on HubSpot (SPEC §12, issue #15) through real HTTP: requests come in through the
intake webhook, Slack is the fake Slack, and `hubspot-api-client` talks to our fake HubSpot,
where the tests look. Flows settled by a claim in the database run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.messages.ids import ActionId
from bot.metrics import build_registry
from bot.scheduler import upkeep
from bot.services.tickets import FAILED_RETRY, RETRY_BASE, SUBJECT_ERROR, SUBJECT_VIP
from integrations.base import IntegrationError
from integrations.hubspot import HubSpotTickets
from integrations.tickets import TicketDraft, TicketRef
from storage.models import OutboxStatus, TicketStatus
from storage.statuses import Outcome
from testkit.fakes.hubspot import CREATE_TICKET, SEARCH_TICKETS, UPDATE_TICKET, FakeHubSpot
from testkit.fakes.slack import FakeSlack, FakeUser
from tests.conftest import FixedClock
from tests.integration.conftest import StartApp
from tests.integration.doubles import Crash
from tests.integration.test_slack_triage import all_text, opened_view
from tests.slack_requests import SlackHarness, wait_for

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

OLIVIA = FakeUser("U0OLIVIA", "olivia@ourco.example")  # majorclient.com's owner
MARCUS = FakeUser("U0MARCUS", "marcus@ourco.example")  # bigcorp.net's
OMAR = FakeUser("U0OMAR", "omar@ourco.example")
OWNERS = {"olivia@ourco.example": "101", "marcus@ourco.example": "102"}
TUESDAY_2PM_PHOENIX = "2026-12-01T14:00:00-07:00"
# A client timeout that a loaded test machine does not hit by accident, and an answer
# that comes well after it.
SHORT_TIMEOUT = 1.0
LATE = 2.5


def vip(submission_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": "dana@majorclient.com",
        "company": "Major Client Inc",
        "phone": "+16025550143",
        "notes": "Renewal of our enterprise plan",
        "timezone": "America/Phoenix",
        "requested_start": TUESDAY_2PM_PHOENIX,
        "rep": "alice@ourco.example",
        **fields,
    }


@pytest.fixture
def slack_users() -> list[FakeUser]:
    return [OLIVIA, MARCUS, OMAR]


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot(owners=OWNERS) as fake:
        yield fake


@pytest.fixture
def crm_start(start: StartApp, hubspot: FakeHubSpot) -> StartApp:
    """`start` with HubSpot configured: `[crm]` and the HUBSPOT_* settings."""

    def started(**config: Any) -> SlackHarness:
        return start(
            crm={"provider": "hubspot", **config.pop("crm", {})},
            settings={"hubspot_access_token": hubspot.token, "hubspot_api_url": hubspot.url},
            **config,
        )

    return started


@pytest.fixture
def slack(crm_start: StartApp) -> SlackHarness:
    return crm_start()


def tickets_of(slack: SlackHarness) -> Any:
    tickets = slack.components.tickets
    assert tickets is not None, "no ticket service: [crm] missing?"
    return tickets


def settle(slack: SlackHarness) -> None:
    """Wait for the background ticket attempts (and their Slack redraws)."""
    tickets_of(slack).drain()


def errors_counted(slack: SlackHarness, status: str) -> float:
    """frontdesk_integration_errors_total{provider="hubspot", status=…}, any reason."""
    return sum(
        sample.value
        for metric in build_registry(slack.components.db).collect()
        for sample in metric.samples
        if sample.name == "frontdesk_integration_errors_total"
        and sample.labels.get("provider") == "hubspot"
        and sample.labels.get("status") == status
    )


# ------------------------------------------------------------------ the ticket


@SQLITE_ONLY
def test_a_vip_request_opens_one_high_priority_ticket_for_the_owner_beside_the_slack_dm(
    slack: SlackHarness, fake: FakeSlack, hubspot: FakeHubSpot
) -> None:
    body = slack.intake(vip("hs-vip-1"))
    settle(slack)

    assert body["status"] == "escalated_vip"
    request_id = body["request_id"]
    [ticket] = hubspot.tickets
    properties = ticket["properties"]
    assert properties["subject"] == SUBJECT_VIP.format(
        name="Dana Reyes", company="Major Client Inc"
    )
    assert properties["hs_ticket_priority"] == "HIGH"
    assert properties["hubspot_owner_id"] == "101"
    assert properties["frontdesk_request_id"] == request_id
    assert (properties["hs_pipeline"], properties["hs_pipeline_stage"]) == ("0", "1")
    assert "Renewal of our enterprise plan" in properties["content"]
    assert "2026-12-01T21:00:00+00:00" in properties["content"]
    contact = hubspot.contacts["dana@majorclient.com"]
    assert contact["properties"]["company"] == "Major Client Inc"
    [association] = ticket["associations"]
    assert association["to"]["id"] == contact["id"]
    assert association["types"] == [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 16}
    ]
    # The search by request id came before the create.
    routes = [
        call.route for call in hubspot.calls() if call.route in (SEARCH_TICKETS, CREATE_TICKET)
    ]
    assert routes == [SEARCH_TICKETS, CREATE_TICKET]

    # The owner's DM went out first, and now links the ticket.
    channel, message = slack.message(request_id)
    assert channel == "D0OLIVIA"
    dm_post = next(c for c in fake.calls("chat.postMessage") if c.params["channel"] == channel)
    [create] = hubspot.calls(CREATE_TICKET)
    assert dm_post.at < create.at
    link = f"https://app.hubspot.com/contacts/4242/record/0-5/{ticket['id']}"
    assert f"<{link}|Open in HubSpot>" in all_text(message["blocks"])
    stored = tickets_of(slack).tickets.get(request_id)
    assert (stored.status, stored.ticket_id, stored.url) == (TicketStatus.OPEN, ticket["id"], link)


@SQLITE_ONLY
def test_an_automation_failure_opens_a_booking_automation_failed_ticket(
    slack: SlackHarness, hubspot: FakeHubSpot
) -> None:
    # Dmitri's sandbox calendar refuses access (examples/frontdesk.toml).
    body = slack.intake(
        vip(
            "hs-error-1",
            email="dana@northwind.example",
            rep="dmitri@ourco.example",
            requested_start="2026-11-30T17:00:00-07:00",  # Tuesday 11:00 in Sydney
        )
    )
    settle(slack)

    assert body["status"] == "escalated_on_error"
    [ticket] = hubspot.tickets
    assert ticket["properties"]["subject"] == SUBJECT_ERROR.format(name="Dana Reyes")
    assert ticket["properties"]["hs_ticket_priority"] == "HIGH"
    assert "hubspot_owner_id" not in ticket["properties"]  # no account owner: unassigned
    assert "Why a person handles it:" in ticket["properties"]["content"]


@SQLITE_ONLY
def test_a_keyword_escalation_opens_no_ticket_by_default(
    slack: SlackHarness, hubspot: FakeHubSpot
) -> None:
    body = slack.intake(
        vip("hs-review-1", email="dana@northwind.example", notes="Urgent: before Friday")
    )
    settle(slack)

    assert body["status"] == "escalated_manual_review"
    assert hubspot.tickets == [] and hubspot.calls() == []
    assert tickets_of(slack).tickets.get(body["request_id"]) is None
    _, message = slack.message(body["request_id"])
    assert "HubSpot" not in all_text(message["blocks"])


@SQLITE_ONLY
def test_review_escalations_get_tickets_when_ticket_on_names_them(
    crm_start: StartApp, hubspot: FakeHubSpot
) -> None:
    slack = crm_start(crm={"ticket_on": ["review"]})
    body = slack.intake(vip("hs-review-2", email="dana@northwind.example", notes="Urgent"))
    settle(slack)

    assert body["status"] == "escalated_manual_review"
    [ticket] = hubspot.tickets
    assert ticket["properties"]["subject"] == "Booking request for review: Dana Reyes"


# ------------------------------------------------------------------ exactly one


def test_a_replay_and_two_replicas_open_one_ticket(
    crm_start: StartApp, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    first, second = crm_start(), crm_start()
    hubspot.fail_next(CREATE_TICKET, 500)  # the first attempt fails: both replicas retry
    body = first.intake(vip("hs-once-1"))
    settle(first)
    assert first.intake(vip("hs-once-1")) == body  # the replay: nothing processed again
    settle(first)
    assert hubspot.tickets == []

    clock.now += RETRY_BASE + timedelta(seconds=1)
    hubspot.delay_next(CREATE_TICKET, 0.3)  # both replicas are at it at the same time
    threads = [threading.Thread(target=upkeep, args=(h.components,)) for h in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    upkeep(first.components)
    upkeep(second.components)

    assert len(hubspot.tickets) == 1
    assert len(hubspot.calls(CREATE_TICKET)) == 2  # the failed one and the one that worked
    stored = tickets_of(second).tickets.get(body["request_id"])
    assert stored is not None and stored.status == TicketStatus.OPEN


@SQLITE_ONLY
def test_a_timeout_that_hid_the_create_leaves_one_ticket(
    slack: SlackHarness, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    sink = tickets_of(slack).sink
    assert isinstance(sink, HubSpotTickets)
    sink.timeout = SHORT_TIMEOUT
    hubspot.delay_next(CREATE_TICKET, LATE)  # HubSpot creates it, the answer comes too late

    body = slack.intake(vip("hs-timeout-1"))
    settle(slack)

    request_id = body["request_id"]
    assert len(hubspot.tickets) == 1
    stored = tickets_of(slack).tickets.get(request_id)
    assert stored.status == TicketStatus.PENDING and "did not answer" in (stored.last_error or "")
    _, message = slack.message(request_id)
    assert "The HubSpot ticket is pending" in all_text(message["blocks"])

    clock.now += RETRY_BASE + timedelta(seconds=1)
    upkeep(slack.components)

    assert len(hubspot.tickets) == 1  # found by its request id, not created again
    assert len(hubspot.calls(CREATE_TICKET)) == 1
    assert tickets_of(slack).tickets.get(request_id).status == TicketStatus.OPEN
    _, message = slack.message(request_id)
    assert "Open in HubSpot" in all_text(message["blocks"])


class KilledAfterOpen:
    """The ticket sink of a process killed once the CRM has the ticket, before anything
    is recorded.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name, self.label = inner.name, inner.label

    def open(self, draft: TicketDraft) -> TicketRef:
        self.inner.open(draft)
        raise Crash("killed after the ticket was created")


def test_a_crash_between_the_create_and_the_record_leaves_one_ticket(
    slack: SlackHarness, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    tickets = tickets_of(slack)
    hubspot.fail_next(CREATE_TICKET, 500)
    request_id = slack.intake(vip("hs-crash-1"))["request_id"]
    settle(slack)
    real = tickets.sink

    tickets.sink = KilledAfterOpen(real)
    with pytest.raises(Crash):
        tickets.attempt(request_id)
    tickets.sink = real  # the process restarts

    assert len(hubspot.tickets) == 1
    claim = slack.components.outbox.get(f"crm:ticket:{request_id}")
    assert claim is not None and claim.status == OutboxStatus.PENDING
    assert tickets.attempt(request_id) == "elsewhere"  # a fresh claim: maybe still at work
    tickets.claim_timeout = timedelta(0)  # … until it is stale
    clock.now += RETRY_BASE + timedelta(seconds=1)
    upkeep(slack.components)

    assert len(hubspot.tickets) == 1
    assert len(hubspot.calls(CREATE_TICKET)) == 2  # the 500, and the one before the crash
    stored = tickets.tickets.get(request_id)
    assert (stored.status, stored.ticket_id) == (TicketStatus.OPEN, hubspot.tickets[0]["id"])


# ------------------------------------------------------------------ the CRM is down


@SQLITE_ONLY
@pytest.mark.parametrize("failure", ["500", "timeout"])
def test_a_crm_outage_never_holds_up_slack_and_the_ticket_comes_later_once(
    slack: SlackHarness, fake: FakeSlack, hubspot: FakeHubSpot, clock: FixedClock, failure: str
) -> None:
    if failure == "500":
        hubspot.fail_next(CREATE_TICKET, 500)
        status = "500"
    else:
        sink = tickets_of(slack).sink
        assert isinstance(sink, HubSpotTickets)
        sink.timeout = SHORT_TIMEOUT
        hubspot.delay_next(SEARCH_TICKETS, LATE)  # HubSpot hangs before anything is created
        status = "timeout"
    before = errors_counted(slack, status)

    body = slack.intake(vip(f"hs-down-{failure}"))
    request_id = body["request_id"]
    # The escalation reached Slack with the request, whatever HubSpot does.
    assert slack.escalation(request_id).notified_at is not None
    settle(slack)

    assert hubspot.tickets == []
    stored = tickets_of(slack).tickets.get(request_id)
    assert stored.status == TicketStatus.PENDING
    assert stored.next_attempt_at == clock.now + RETRY_BASE
    _, message = slack.message(request_id)
    text = all_text(message["blocks"])
    assert "The HubSpot ticket is pending" in text
    assert ("HTTP 500" if failure == "500" else "did not answer") in text
    assert errors_counted(slack, status) == before + 1

    upkeep(slack.components)  # not due yet: nothing is tried
    assert len(hubspot.calls(CREATE_TICKET)) == (1 if failure == "500" else 0)
    clock.now += RETRY_BASE + timedelta(seconds=1)
    upkeep(slack.components)
    upkeep(slack.components)

    assert len(hubspot.tickets) == 1
    _, message = slack.message(request_id)
    assert "Open in HubSpot" in all_text(message["blocks"])
    assert "pending" not in all_text(message["blocks"])


@SQLITE_ONLY
def test_a_rate_limit_is_waited_out_as_long_as_retry_after_asks(
    slack: SlackHarness, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    hubspot.rate_limit_next(CREATE_TICKET, retry_after=600)

    request_id = slack.intake(vip("hs-429-1"))["request_id"]
    settle(slack)

    stored = tickets_of(slack).tickets.get(request_id)
    assert stored.next_attempt_at == clock.now + timedelta(seconds=600)
    assert len(hubspot.calls(CREATE_TICKET)) == 1  # 600 s is too long to wait in the call
    clock.now += timedelta(seconds=300)
    upkeep(slack.components)
    assert hubspot.tickets == []
    clock.now += timedelta(seconds=301)
    upkeep(slack.components)
    assert len(hubspot.tickets) == 1


@SQLITE_ONLY
def test_a_refusal_is_not_retried_and_the_message_says_why(
    slack: SlackHarness, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    hubspot.fail_next(CREATE_TICKET, 400)

    request_id = slack.intake(vip("hs-400-1"))["request_id"]
    settle(slack)

    stored = tickets_of(slack).tickets.get(request_id)
    assert stored.status == TicketStatus.FAILED
    assert stored.next_attempt_at == clock.now + FAILED_RETRY
    _, message = slack.message(request_id)
    assert "The HubSpot ticket could not be created" in all_text(message["blocks"])
    clock.now += timedelta(hours=2)
    upkeep(slack.components)
    assert hubspot.tickets == []
    assert len(hubspot.calls(CREATE_TICKET)) == 1

    # Someone fixed HubSpot meanwhile: the daily try opens it.
    clock.now += FAILED_RETRY
    upkeep(slack.components)
    assert len(hubspot.tickets) == 1
    assert tickets_of(slack).tickets.get(request_id).status == TicketStatus.OPEN
    _, message = slack.message(request_id)
    assert "Open in HubSpot" in all_text(message["blocks"])


@SQLITE_ONLY
def test_a_ticket_that_keeps_failing_is_tried_daily_for_a_week_then_left_alone(
    slack: SlackHarness, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    hubspot.fail_next(CREATE_TICKET, 400, times=100)
    request_id = slack.intake(vip("hs-400-2"))["request_id"]
    settle(slack)

    for _ in range(10):
        clock.now += FAILED_RETRY
        upkeep(slack.components)

    stored = tickets_of(slack).tickets.get(request_id)
    assert stored.status == TicketStatus.FAILED and stored.next_attempt_at is None
    assert len(hubspot.calls(CREATE_TICKET)) == 8  # the first try and one a day for 7 days


# ------------------------------------------------------------------ closing


@SQLITE_ONLY
def test_resolving_in_slack_closes_the_ticket_with_the_outcome(
    slack: SlackHarness, fake: FakeSlack, hubspot: FakeHubSpot
) -> None:
    request_id = slack.intake(vip("hs-close-1"))["request_id"]
    settle(slack)

    view_id = opened_view(slack, fake, OMAR, request_id, ActionId.RESOLVE)
    slack.submit(
        OMAR.id,
        view_id,
        {ActionId.RESOLVE_OUTCOME: Outcome.DECLINED, ActionId.RESOLVE_NOTE: "Wants a discount"},
    )
    slack.executor.drain()
    settle(slack)

    [ticket] = hubspot.tickets
    assert ticket["properties"]["hs_pipeline_stage"] == "4"
    assert "Outcome in Frontdesk: Declined" in ticket["properties"]["content"]
    assert "Wants a discount" in ticket["properties"]["content"]
    assert len(hubspot.calls(UPDATE_TICKET)) == 1
    assert tickets_of(slack).tickets.get(request_id).status == TicketStatus.CLOSED
    wait_for(
        lambda: "(closed)" in all_text(slack.message(request_id)[1]["blocks"]),
        what="the message showing the closed ticket",
    )


@SQLITE_ONLY
def test_a_close_that_fails_is_retried_by_upkeep(
    slack: SlackHarness, fake: FakeSlack, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    request_id = slack.intake(vip("hs-close-2"))["request_id"]
    settle(slack)
    hubspot.fail_next(UPDATE_TICKET, 503, times=3)  # every in-call retry too

    view_id = opened_view(slack, fake, OMAR, request_id, ActionId.RESOLVE)
    slack.submit(OMAR.id, view_id, {ActionId.RESOLVE_OUTCOME: Outcome.SPAM})
    slack.executor.drain()
    settle(slack)
    assert hubspot.tickets[0]["properties"]["hs_pipeline_stage"] == "1"

    clock.now += RETRY_BASE + timedelta(seconds=1)
    upkeep(slack.components)

    assert hubspot.tickets[0]["properties"]["hs_pipeline_stage"] == "4"
    assert tickets_of(slack).tickets.get(request_id).status == TicketStatus.CLOSED


def test_the_sink_translates_a_bad_token_into_an_error_naming_the_fix(
    hubspot: FakeHubSpot,
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(
        "sqlite://", hubspot_access_token="pat-wrong", hubspot_api_url=hubspot.url
    )
    sink = HubSpotTickets(settings, pipeline="0", stage_open="1", stage_closed="4")
    draft = TicketDraft("req_x", "vip", "s", "c", "Dana Reyes", "dana@majorclient.com")

    with pytest.raises(IntegrationError) as caught:
        sink.open(draft)

    assert (caught.value.provider, caught.value.status) == ("hubspot", 401)
    assert "HUBSPOT_ACCESS_TOKEN" in caught.value.message


@SQLITE_ONLY
def test_a_close_hubspot_keeps_refusing_is_tried_hourly_for_a_week_then_dropped(
    slack: SlackHarness, fake: FakeSlack, hubspot: FakeHubSpot, clock: FixedClock
) -> None:
    request_id = slack.intake(vip("hs-close-3"))["request_id"]
    settle(slack)
    hubspot.fail_next(UPDATE_TICKET, 400, times=1000)

    view_id = opened_view(slack, fake, OMAR, request_id, ActionId.RESOLVE)
    slack.submit(OMAR.id, view_id, {ActionId.RESOLVE_OUTCOME: Outcome.DUPLICATE})
    slack.executor.drain()
    settle(slack)
    tickets = tickets_of(slack)
    assert tickets.tickets.get(request_id).next_attempt_at == clock.now + timedelta(hours=1)

    for _ in range(8 * 24):
        clock.now += timedelta(hours=1)
        upkeep(slack.components)

    stored = tickets.tickets.get(request_id)
    assert stored.status == TicketStatus.OPEN and stored.close_outcome is None
    assert "HTTP 400" in (stored.last_error or "") or "refused" in (stored.last_error or "")
    calls = len(hubspot.calls(UPDATE_TICKET))
    assert 7 * 24 - 2 <= calls <= 7 * 24 + 1  # hourly for the week, then no more
    clock.now += timedelta(days=1)
    upkeep(slack.components)
    assert len(hubspot.calls(UPDATE_TICKET)) == calls
