"""CRM tickets' pure parts (SPEC §12): the ticket a request becomes, the retry schedule, the
`[crm]` section's validation, and which CRM errors are worth retrying.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from bot.services.tickets import (
    RETRY_BASE,
    RETRY_CAP,
    SUBJECT_ERROR,
    SUBJECT_VIP,
    SUBJECT_VIP_NO_COMPANY,
    retry_at,
    ticket_draft,
)
from integrations.tickets import CrmError
from storage.models import StoredEscalation, StoredRequest
from tests.conftest import EXAMPLE_CONFIG
from tests.unit._support import VALID_TOML

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def request(**fields: object) -> StoredRequest:
    values: dict[str, object] = {
        "id": "req_01",
        "idempotency_key": "k",
        "body_sha256": "0" * 64,
        "name": "Dana Reyes",
        "email": "dana@majorclient.com",
        "company": "Major Client Inc",
        "notes": "Renewal",
        "timezone": "America/Phoenix",
        "requested_start": datetime(2026, 12, 1, 21, 0, tzinfo=UTC),
        "duration_minutes": 30,
    }
    return StoredRequest(**{**values, **fields})


def test_a_vip_ticket_names_the_client_and_company_and_goes_to_the_owner() -> None:
    config = load_config(EXAMPLE_CONFIG)
    escalation = StoredEscalation(
        request_id="req_01", kind="vip", reasons=["vip_domain:majorclient.com"]
    )

    draft = ticket_draft(config, request(), escalation)

    assert draft.subject == SUBJECT_VIP.format(name="Dana Reyes", company="Major Client Inc")
    assert draft.subject == "VIP booking request: Dana Reyes (Major Client Inc)"
    assert draft.owner_email == "olivia@ourco.example"
    assert draft.kind == "vip"
    assert draft.dedupe_key == "crm:ticket:req_01"
    assert "Requested time: 2026-12-01T21:00:00+00:00" in draft.content
    assert "Renewal" in draft.content
    without = ticket_draft(config, request(company=None), escalation)
    assert without.subject == SUBJECT_VIP_NO_COMPANY.format(name="Dana Reyes")


def test_an_error_ticket_says_the_automation_failed_and_has_no_owner() -> None:
    config = load_config(EXAMPLE_CONFIG)
    escalation = StoredEscalation(
        request_id="req_01",
        kind="on_error",
        reasons=["api_error:google:403:insufficientPermissions"],
        detail="Google refused alice's calendar",
    )

    draft = ticket_draft(config, request(requested_start=None), escalation)

    assert draft.subject == SUBJECT_ERROR.format(name="Dana Reyes")
    assert draft.owner_email is None
    assert draft.kind == "error"
    assert "no time selected" in draft.content
    assert "Google refused alice's calendar" in draft.content
    assert draft.closing_content("Declined").endswith("Outcome in Frontdesk: Declined")


def test_retries_back_off_to_an_hour_and_never_sooner_than_asked() -> None:
    assert retry_at(NOW, 1, None) == NOW + RETRY_BASE
    assert retry_at(NOW, 2, None) == NOW + 2 * RETRY_BASE
    assert retry_at(NOW, 4, None) == NOW + 8 * RETRY_BASE
    assert retry_at(NOW, 30, None) == NOW + RETRY_CAP
    assert retry_at(NOW, 1, 600.0) == NOW + timedelta(seconds=600)
    assert retry_at(NOW, 3, 10.0) == NOW + 4 * RETRY_BASE


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (500, True),
        (503, True),
        (429, True),
        ("timeout", True),
        ("network", True),
        ("rate_limited", True),
        (400, False),
        (401, False),
        (403, False),
        (404, False),
    ],
)
def test_outages_and_rate_limits_are_retried_refusals_are_not(
    status: int | str, retryable: bool
) -> None:
    assert CrmError("hubspot", status, "x").retryable is retryable


def test_the_crm_section_has_defaults(tmp_path: Path) -> None:
    path = tmp_path / "crm.toml"
    path.write_text(VALID_TOML + '\n[crm]\nprovider = "salesforce"\n', encoding="utf-8")

    crm = load_config(path).crm

    assert crm is not None
    assert crm.provider == "salesforce"
    assert crm.ticket_on == ("vip", "error")
    assert crm.conversion_days == 90
    assert (crm.hubspot_pipeline, crm.hubspot_stage_open, crm.hubspot_stage_closed) == (
        "0",
        "1",
        "4",
    )


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('provider = "pipedrive"', "crm.provider"),
        ('provider = "hubspot"\nticket_on = ["vip", "keyword"]', "crm.ticket_on"),
        ('provider = "hubspot"\nconversion_days = 0', "crm.conversion_days"),
        ('provider = "hubspot"\nhubspot_stage = "1"', "crm.hubspot_stage"),
    ],
)
def test_a_bad_crm_section_names_the_key(tmp_path: Path, section: str, key: str) -> None:
    path = tmp_path / "crm.toml"
    path.write_text(VALID_TOML + f"\n[crm]\n{section}\n", encoding="utf-8")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert key in str(info.value)
    assert str(path) in str(info.value)
