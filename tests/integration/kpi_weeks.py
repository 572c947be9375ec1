"""Two weeks of history for the Home tab and weekly digest tests, with figures worked out by
hand below. America/New_York (EST throughout), SLA 15 minutes; the weeks are the ones
before Monday 23 November 2026.

  week of Mon 9 Nov: 18 auto-booked, 2 reviews -> 2/20 = 10.0 % (healthy)
    f1  review  group_size:8     claim  5 m  resolved 20 m  booked
    f2  review  keyword:urgent   claim 15 m  resolved 40 m  declined
  week of Mon 16 Nov: 16 auto-booked, 2 reviews, 2 VIP -> 4/20 = 20.0 % (too restrictive)
    e1  review  keyword:urgent               claim  5 m  resolved  30 m  declined
    e2  review  keyword:urgent               claim 10 m  resolved  60 m  handled_elsewhere
    e3  vip     vip_domain:majorclient.com   claim 20 m  resolved 120 m  booked
    e4  vip     vip_domain:majorclient.com   claim 40 m (by Omar), open: opened Sun 22 Nov
                20:00 EST, so 4 h old at the week's end and 14 h old at Mon 23 Nov 15:00 UTC
    meetings that ended: auto-booked 4 held + 1 no-show, human-handled 1 held + 1 no-show

  last week:   claim 300 600 1200 2400 s -> p50 10 min, p90 40 min; SLA breaches 2
               resolution 1800 3600 7200 + open 14400 -> p50 60 min, p90 4.0 h
  week before: claim 300 900 -> p50 5 min, p90 15 min; resolution p50 20 min; breaches 0
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.models import RequestStatus
from storage.repositories import EscalationRepository, RequestRepository
from tests.integration.kpi_seed import Seeder

WEEK_BEFORE = datetime(2026, 11, 9, 5, 0, tzinfo=UTC)  # Mon 9 Nov 00:00 EST
LAST_WEEK = datetime(2026, 11, 16, 5, 0, tzinfo=UTC)  # Mon 16 Nov 00:00 EST
DIGEST_DUE = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Mon 23 Nov 09:00 EST
OMAR = "U0OMAR"
URGENT = ["keyword:urgent"]
MAJORCLIENT = ["vip_domain:majorclient.com"]


@dataclass(frozen=True)
class Fortnight:
    open_vip: str  # e4's request id, claimed by Omar and still open
    open_vip_client: str


def _minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def _hours(n: int) -> timedelta:
    return timedelta(hours=n)


def seed_fortnight(db: Database) -> Fortnight:
    seed = Seeder(db)
    review, vip = RequestStatus.ESCALATED_MANUAL_REVIEW, RequestStatus.ESCALATED_VIP
    tuesday = WEEK_BEFORE + timedelta(days=1)  # every request at 00:00 EST or later
    for n in range(18):
        seed.request(RequestStatus.BOOKED_AUTO, tuesday + _hours(n))
    seed.escalation(
        review, tuesday + _hours(10), ["group_size:8"], _minutes(5), _minutes(20), "booked"
    )
    seed.escalation(review, tuesday + _hours(34), URGENT, _minutes(15), _minutes(40), "declined")

    tuesday = LAST_WEEK + timedelta(days=1)
    for n in range(16):
        seed.request(RequestStatus.BOOKED_AUTO, tuesday + _hours(n))
    seed.escalation(review, tuesday + _hours(10), URGENT, _minutes(5), _minutes(30), "declined")
    seed.escalation(
        review, tuesday + _hours(34), URGENT, _minutes(10), _minutes(60), "handled_elsewhere"
    )
    seed.escalation(vip, tuesday + _hours(58), MAJORCLIENT, _minutes(20), _minutes(120), "booked")
    opened = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Sun 22 Nov 20:00 EST
    open_vip = seed.escalation(vip, opened, MAJORCLIENT)
    assert EscalationRepository(db).claim(open_vip, OMAR, opened + _minutes(40))

    ended = tuesday + _hours(40)
    for n, outcome in enumerate(["held", "held", "held", "held", "no_show"]):
        seed.meeting(ended + _hours(n), outcome)
    seed.meeting(ended + _hours(24), "held", booked_by=OMAR)
    seed.meeting(ended + _hours(25), "no_show", booked_by=OMAR)
    request = RequestRepository(db).get(open_vip)
    assert request is not None
    return Fortnight(open_vip, request.name)
