"""KPI figures on a small seeded dataset whose expected values are worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.report import compute_report, percentiles
from storage.db import Database
from storage.models import BookingRequest, Escalation, RequestStatus

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _request(db: Database, number: int, status: RequestStatus) -> str:
    with db.write() as session:
        row = BookingRequest(
            idempotency_key=f"key:{number}",
            body_sha256="0" * 64,
            status=status,
            name="Client",
            email=f"c{number}@example.com",
            timezone="America/New_York",
            duration_minutes=30,
            received_at=T0 + timedelta(hours=number),
        )
        session.add(row)
    return row.id


def _escalation(
    db: Database,
    request_id: str,
    kind: str,
    claim_min: int | None,
    resolve_min: int | None,
    outcome: str | None = None,
) -> None:
    created = T0 + timedelta(days=1)
    with db.write() as session:
        session.add(
            Escalation(
                request_id=request_id,
                kind=kind,
                created_at=created,
                claimed_at=created + timedelta(minutes=claim_min) if claim_min else None,
                resolved_at=created + timedelta(minutes=resolve_min) if resolve_min else None,
                outcome=outcome,
            )
        )


def test_report_figures(migrated_db: Database) -> None:
    for n in range(16):
        _request(migrated_db, n, RequestStatus.BOOKED_AUTO)
    vip_booked = _request(migrated_db, 20, RequestStatus.ESCALATED_VIP)
    vip_open = _request(migrated_db, 21, RequestStatus.ESCALATED_VIP)
    review = _request(migrated_db, 22, RequestStatus.ESCALATED_MANUAL_REVIEW)
    error = _request(migrated_db, 23, RequestStatus.ESCALATED_ON_ERROR)
    _request(migrated_db, 24, RequestStatus.PROCESSING)
    _escalation(migrated_db, vip_booked, "vip", 5, 60, "booked")
    _escalation(migrated_db, vip_open, "vip", None, None)
    _escalation(migrated_db, review, "manual_review", 10, 30, "declined")
    _escalation(migrated_db, error, "on_error", 20, 120, "handled_elsewhere")

    report = compute_report(migrated_db, T0, T0 + timedelta(days=7))

    assert report["requests"] == 20  # 16 auto + 4 escalated; the one in progress apart
    assert report["in_progress"] == 1
    assert report["escalated"] == 4
    assert report["human_intervention_rate"] == 0.2
    assert report["verdict"].startswith("too restrictive")
    assert report["by_route"] == {"auto": 16, "vip": 2, "review": 1, "error": 1}
    assert report["time_to_claim"] == {"p50": 600.0, "p90": 1200.0, "max": 1200.0}
    assert report["time_to_resolution"] == {"p50": 3600.0, "p90": 7200.0, "max": 7200.0}
    assert report["open_escalations"] == 1
    assert report["vip_conversion"] == 0.5


def test_empty_period(migrated_db: Database) -> None:
    report = compute_report(migrated_db, T0, T0 + timedelta(days=1))
    assert report["requests"] == 0
    assert report["human_intervention_rate"] is None
    assert report["time_to_claim"] == {"p50": None, "p90": None, "max": None}
    assert report["vip_conversion"] is None


def test_percentiles_nearest_rank() -> None:
    assert percentiles([5.0, 1.0, 3.0, 2.0, 4.0]) == {"p50": 3.0, "p90": 5.0, "max": 5.0}
