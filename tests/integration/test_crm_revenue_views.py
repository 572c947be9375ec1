"""Won deals per route in Slack (SPEC §12, issue #15): the weekly digest and the Home tab
show the CRM's deal conversion beside the KPIs when there is a `[crm]`, and nothing new
without one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.messages.crm_blocks import DEAL_CONVERSION_HEADING, deal_conversion_blocks
from bot.messages.home import HOME_CONVERSION_PERIOD, home_view
from storage.crm_kpi_queries import RouteConversion
from storage.db import Database
from storage.models import DealConversion, RequestStatus
from storage.repositories import TicketRepository
from testkit.fakes.slack import FakeSlack, FakeUser
from tests.conftest import FixedClock
from tests.integration.conftest import StartApp
from tests.integration.kpi_seed import Seeder
from tests.integration.kpi_weeks import DIGEST_DUE, LAST_WEEK

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
OMAR = FakeUser("U0OMAR", "omar@ourco.example")


@pytest.fixture
def slack_users() -> list[FakeUser]:
    return [OMAR]


def seed_conversions(db: Database) -> None:
    """Last week: two auto-booked clients known to the CRM (one won 1200), a VIP who won
    4800, and a VIP the CRM does not know.
    """
    seeder = Seeder(db)
    repo = TicketRepository(db)
    at = LAST_WEEK + timedelta(days=1)
    rows = [
        (RequestStatus.BOOKED_AUTO, "c-1", True, 1200.0),
        (RequestStatus.BOOKED_AUTO, "c-2", False, None),
        (RequestStatus.ESCALATED_VIP, "c-3", True, 4800.0),
        (RequestStatus.ESCALATED_VIP, None, False, None),
    ]
    for status, contact, won, amount in rows:
        request_id = seeder.request(status, at)
        repo.record_conversion(
            DealConversion(
                request_id=request_id,
                provider="hubspot",
                contact_id=contact,
                won=won,
                amount=amount,
                won_at=at + timedelta(days=3) if won else None,
                checked_at=at,
            )
        )


def digest_post(fake: FakeSlack) -> dict[str, Any]:
    [post] = [p for p in fake.posts() if "weekly digest" in p.get("text", "")]
    return post


@SQLITE_ONLY
def test_the_digest_shows_won_deals_per_route_with_a_crm(
    start: StartApp, fake: FakeSlack, clock: FixedClock
) -> None:
    digest = start(crm={"provider": "hubspot"}).components.digest
    seed_conversions(digest.queries.db)
    clock.now = DIGEST_DUE

    assert digest.tick()["posted"] == 1

    post = digest_post(fake)
    assert [b.to_dict() for b in Block.parse_all(post["blocks"])] == post["blocks"]
    section = post["blocks"][-1]
    assert section["text"]["text"] == DEAL_CONVERSION_HEADING.format(period="last week")
    assert [f["text"] for f in section["fields"]] == [
        "*Auto-booked*\n50% (1 of 2) · 1,200",
        "*VIP*\n100% (1 of 1) · 4,800",
        "*Review*\n- (0 of 0) · 0",
        "*Error*\n- (0 of 0) · 0",
    ]


@SQLITE_ONLY
def test_without_a_crm_the_digest_is_unchanged(
    start: StartApp, fake: FakeSlack, clock: FixedClock
) -> None:
    digest = start().components.digest
    seed_conversions(digest.queries.db)
    clock.now = DIGEST_DUE

    digest.tick()

    assert "Won deals" not in str(digest_post(fake)["blocks"])


def test_the_home_tab_shows_won_deals_when_there_is_a_crm() -> None:
    conversion = {
        "auto": RouteConversion(3, 1, 1000.0),
        "vip": RouteConversion(2, 1, 5000.0),
        "review": RouteConversion(0, 0, 0.0),
        "error": RouteConversion(0, 0, 0.0),
    }

    with_crm = home_view([], 0, 0, [], [], conversion)
    without = home_view([], 0, 0, [], [])

    with_crm.validate_json()
    payload = with_crm.to_dict()
    assert View(**payload).to_dict() == payload
    assert "*VIP*\n50% (1 of 2) · 5,000" in [
        field["text"] for block in payload["blocks"] for field in block.get("fields", [])
    ]
    assert len(payload["blocks"]) == len(without.to_dict()["blocks"]) + 1
    expected = deal_conversion_blocks(HOME_CONVERSION_PERIOD, conversion)[0].to_dict()
    assert expected in payload["blocks"]


@SQLITE_ONLY
def test_the_dashboard_reads_the_last_30_days_only_with_a_crm(start: StartApp) -> None:
    from bot.reports.dashboard import Dashboard
    from storage.kpi_queries import KpiQueries

    harness = start(crm={"provider": "salesforce"})
    components = harness.components
    seed_conversions(components.db)

    def dashboard(config: Any) -> Dashboard:
        return Dashboard(
            config,
            KpiQueries(components.db),
            components.connections,
            settings=components.settings,
            clock=lambda: LAST_WEEK + timedelta(days=10),
        )

    found = dashboard(components.config).deal_conversion()
    assert found is not None
    assert (found["auto"].requests, found["auto"].won, found["vip"].amount) == (2, 1, 4800.0)
    no_crm = components.config.model_copy(update={"crm": None})
    assert dashboard(no_crm).deal_conversion() is None
