"""No client data in logs at any level (SPEC §9; issue: hardening): the failing paths an
attacker found — a database refusing the row, a crash while booking, NUL, surrogates,
look-alike letters — are driven through the real app with the production log format at
DEBUG, and the captured log is searched for the client's name, phone and notes.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from bot.logs import configure_logging
from tests.conftest import post_signed
from tests.integration.doubles import quiet

NAME = "Zebulon Quistgaard"
PHONE_WRITTEN = "+1 (602) 555-0143"
NOTES = "bring the pineapple blueprints"
SECRETS = ("Zebulon", "Quistgaard", "pineapple", "blueprints", "6025550143", "555-0143")


def request(submission_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "name": NAME,
        "email": "zeb@northwind.example",
        "phone": PHONE_WRITTEN,
        "sms_opt_in": True,
        "company": "Quistgaard Holdings",
        "notes": NOTES,
        "timezone": "America/Phoenix",
        "requested_start": "2026-12-01T14:00:00-07:00",
        **changes,
    }


@pytest.fixture
def production_log() -> Iterator[io.StringIO]:
    """The server's own log setup (JSON lines) at DEBUG, written here, undone afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    configure_logging("DEBUG")
    captured = io.StringIO()
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(captured)
    yield captured
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
    logging.getLogger("uvicorn.access").disabled = False


def _refuse_new_requests(db) -> None:
    """The database refuses the next stored request, as a full disk or a bad migration
    would (PostgreSQL's error then quotes the whole failing row)."""
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(
                text(
                    "ALTER TABLE booking_request "
                    "ADD CONSTRAINT no_more CHECK (notes = '') NOT VALID"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER no_more BEFORE INSERT ON booking_request "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )


def test_failing_paths_log_no_client_data(make_app, calendar_double, production_log):
    client, components = make_app(calendar=calendar_double)
    client = quiet(client)
    statuses = []
    statuses.append(post_signed(client, request("ok-1")).status_code)
    statuses.append(
        post_signed(client, request("six-1", notes=f"{NOTES}, team of \u017fix")).status_code
    )
    statuses.append(post_signed(client, request("nul-1", name=f"{NAME}\x00")).status_code)
    surrogate = json.dumps(request("bad-\ud800", notes=f"{NOTES} \ud800"))
    statuses.append(post_signed(client, surrogate).status_code)
    calendar_double.create_error = RuntimeError(f"calendar refused {NAME}: {NOTES}")
    crashed = post_signed(client, request("crash-1", requested_start="2026-12-02T14:00:00-07:00"))
    statuses.append(crashed.status_code)
    calendar_double.create_error = None
    _refuse_new_requests(components.db)
    statuses.append(post_signed(client, request("refused-1")).status_code)

    assert statuses == [200, 200, 422, 422, 200, 503]
    assert crashed.json()["status"] == "escalated_on_error"
    log = production_log.getvalue()
    # The paths were logged (with tracebacks), only without the client's words.
    assert "booking crashed" in log
    assert "intake failed after validation" in log
    assert "Traceback" in log
    for secret in SECRETS:
        assert secret not in log, log[max(0, log.find(secret) - 300) : log.find(secret) + 100]
