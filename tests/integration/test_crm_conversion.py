"""Revenue (SPEC §12): won deals read back from the CRM per request, within
`conversion_days` of it, on both fakes through the real libraries; and the report's
`deal_conversion` and ticket figures, worked out by hand for a seeded set.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.cli import main
from bot.services.conversion import DealConversions
from integrations.hubspot import HubSpotTickets
from integrations.salesforce import SalesforceTickets
from integrations.tickets import TicketSink
from storage.crm_kpi_queries import CrmKpiQueries
from storage.db import Database
from storage.models import RequestStatus
from storage.repositories import TicketRepository
from testkit.fakes.hubspot import SEARCH_CONTACTS, FakeHubSpot
from testkit.fakes.salesforce import FakeSalesforce
from tests.conftest import EXAMPLE_CONFIG, make_settings
from tests.integration.kpi_seed import Seeder

RECEIVED = datetime(2026, 10, 1, 15, 0, tzinfo=UTC)
NOW = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)  # every 90-day window has passed
INSIDE = RECEIVED + timedelta(days=30)
OUTSIDE = RECEIVED + timedelta(days=100)
BEFORE = RECEIVED - timedelta(days=30)

# What the report must say for the seeded set below (worked out by hand):
#   auto:   won in the window (1000), won after it, lost, no contact -> 3 known, 1 won
#   vip:    its company won in the window (5000), won before the request -> 2 known, 1 won
#   review: won in the window with no amount -> 1 known, 1 won, 0
#   error:  not a CRM contact -> nothing known
EXPECTED = {
    "auto": {"requests": 3, "won": 1, "rate": 0.3333, "amount": 1000.0},
    "vip": {"requests": 2, "won": 1, "rate": 0.5, "amount": 5000.0},
    "review": {"requests": 1, "won": 1, "rate": 1.0, "amount": 0.0},
    "error": {"requests": 0, "won": 0, "rate": None, "amount": 0.0},
}


def seed_requests(db: Database) -> dict[str, str]:
    """name -> client email of each seeded request (the Seeder names them c1…c8)."""
    seeder = Seeder(db)
    statuses = {
        "auto_won": RequestStatus.BOOKED_AUTO,
        "auto_late": RequestStatus.BOOKED_AUTO,
        "auto_lost": RequestStatus.BOOKED_AUTO,
        "auto_unknown": RequestStatus.BOOKED_AUTO,
        "vip_company": RequestStatus.ESCALATED_VIP,
        "vip_before": RequestStatus.ESCALATED_VIP,
        "review_no_amount": RequestStatus.ESCALATED_MANUAL_REVIEW,
        "error_unknown": RequestStatus.ESCALATED_ON_ERROR,
    }
    emails = {}
    for name, status in statuses.items():
        seeder.request(status, RECEIVED)
        emails[name] = f"c{seeder.count}@example.com"
    return emails


def seed_hubspot(fake: FakeHubSpot, emails: dict[str, str]) -> None:
    def contact(name: str, company: str | None = None) -> str:
        return fake.add_contact(emails[name], company)

    fake.add_deal(contact("auto_won"), won=True, amount=1000.0, closed=INSIDE)
    fake.add_deal(contact("auto_late"), won=True, amount=700.0, closed=OUTSIDE)
    fake.add_deal(contact("auto_lost"), won=False, amount=900.0, closed=INSIDE)
    contact("vip_company", company="9001")
    fake.add_deal("9001", won=True, amount=5000.0, closed=INSIDE)
    fake.add_deal(contact("vip_before"), won=True, amount=300.0, closed=BEFORE)
    fake.add_deal(contact("review_no_amount"), won=True, amount=None, closed=INSIDE)


def seed_salesforce(fake: FakeSalesforce, emails: dict[str, str]) -> None:
    def contact(name: str, account: str | None = None) -> str:
        return fake.add_contact(emails[name], account)

    def on(at: datetime) -> date:
        return at.date()

    fake.add_opportunity(contact_id=contact("auto_won"), won=True, amount=1000.0, closed=on(INSIDE))
    fake.add_opportunity(
        contact_id=contact("auto_late"), won=True, amount=700.0, closed=on(OUTSIDE)
    )
    fake.add_opportunity(
        contact_id=contact("auto_lost"), won=False, amount=900.0, closed=on(INSIDE)
    )
    contact("vip_company", account="001ACME")
    fake.add_opportunity(account_id="001ACME", won=True, amount=5000.0, closed=on(INSIDE))
    fake.add_opportunity(
        contact_id=contact("vip_before"), won=True, amount=300.0, closed=on(BEFORE)
    )
    fake.add_opportunity(
        contact_id=contact("review_no_amount"), won=True, amount=None, closed=on(INSIDE)
    )


def report_json(database_url: str) -> dict:
    env = {"DATABASE_URL": database_url, "FRONTDESK_CONFIG": ""}
    result = CliRunner().invoke(
        main,
        ["report", "--config", str(EXAMPLE_CONFIG), "--since", "2026-09-28", "--json"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def run_job(sink: TicketSink, db: Database, sleeps: list[float] | None = None) -> dict[str, int]:
    job = DealConversions(
        sink,
        TicketRepository(db),
        conversion_days=90,
        clock=lambda: NOW,
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
    )
    return job.tick()


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as fake:
        yield fake


def hubspot_sink(fake: FakeHubSpot) -> HubSpotTickets:
    settings = make_settings("sqlite://", hubspot_access_token=fake.token, hubspot_api_url=fake.url)
    return HubSpotTickets(settings, pipeline="0", stage_open="1", stage_closed="4")


def test_hubspot_deal_conversion_per_route_by_hand(
    migrated_db: Database, database_url: str, hubspot: FakeHubSpot
) -> None:
    seed_hubspot(hubspot, seed_requests(migrated_db))
    sleeps: list[float] = []

    counts = run_job(hubspot_sink(hubspot), migrated_db, sleeps)

    assert counts == {"conversions_read": 8, "conversions_won": 3}
    assert sleeps == [0.5] * 7  # paced: one pause between two requests
    assert report_json(database_url)["deal_conversion"] == EXPECTED
    # Read-only: nothing was written to the CRM.
    assert {call.route.split(" ")[0] for call in hubspot.calls()} <= {"GET", "POST"}
    assert all("search" in c.route or "read" in c.route for c in hubspot.calls())
    # Every window has passed: the next run reads nothing again.
    assert run_job(hubspot_sink(hubspot), migrated_db)["conversions_read"] == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_job_stops_at_a_rate_limit_and_resumes_where_it_stopped(
    migrated_db: Database, database_url: str, hubspot: FakeHubSpot
) -> None:
    seed_hubspot(hubspot, seed_requests(migrated_db))
    job = DealConversions(
        hubspot_sink(hubspot),
        TicketRepository(migrated_db),
        conversion_days=90,
        clock=lambda: NOW,
        sleep=lambda _s: None,
    )
    assert job.tick(limit=3)["conversions_read"] == 3
    hubspot.rate_limit_next(SEARCH_CONTACTS, retry_after=60)

    assert job.tick()["conversions_read"] == 0  # stopped at once: the CRM asked for a minute
    assert job.tick()["conversions_read"] == 5

    assert report_json(database_url)["deal_conversion"] == EXPECTED


@pytest.fixture
def salesforce(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeSalesforce, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "sf.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    with FakeSalesforce(public_key=key.public_key(), ca=ca) as fake:
        yield fake, str(key_file)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_salesforce_deal_conversion_per_route_by_hand(
    migrated_db: Database, database_url: str, salesforce: tuple[FakeSalesforce, str]
) -> None:
    fake, key_file = salesforce
    seed_salesforce(fake, seed_requests(migrated_db))
    sink = SalesforceTickets(make_settings("sqlite://", **fake.settings(key_file)))

    counts = run_job(sink, migrated_db)

    assert counts == {"conversions_read": 8, "conversions_won": 3}
    assert report_json(database_url)["deal_conversion"] == EXPECTED
    assert fake.cases == {}  # read-only


def test_ticket_figures_count_opened_tickets_and_the_time_to_each(
    migrated_db: Database,
) -> None:
    seeder = Seeder(migrated_db)
    repo = TicketRepository(migrated_db)
    delays = {"vip": [60, 120, 600], "on_error": [30]}
    for kind, seconds in delays.items():
        for delay in seconds:
            request_id = seeder.request(RequestStatus.ESCALATED_VIP, RECEIVED)
            repo.ensure(request_id, "hubspot", kind, RECEIVED)
            at = RECEIVED + timedelta(seconds=delay)
            repo.mark_open(request_id, ticket_id=f"t{delay}", url=None, contact_id=None, at=at)
    pending = seeder.request(RequestStatus.ESCALATED_VIP, RECEIVED)
    repo.ensure(pending, "hubspot", "vip", RECEIVED)
    failed = seeder.request(RequestStatus.ESCALATED_VIP, RECEIVED)
    repo.ensure(failed, "hubspot", "vip", RECEIVED)
    repo.mark_failed(failed, "refused", None)

    figures = CrmKpiQueries(migrated_db).tickets(RECEIVED, RECEIVED + timedelta(days=1))

    assert (figures.opened, figures.pending, figures.failed) == (4, 1, 1)
    assert figures.opened_by_kind == {"vip": 3, "on_error": 1}
    # Delays 30, 60, 120, 600: nearest-rank p50 is the 2nd, p90 the 4th.
    assert (figures.to_ticket_p50, figures.to_ticket_p90, figures.to_ticket_max) == (
        60.0,
        600.0,
        600.0,
    )
