"""Without CRM credentials, `[crm]` tickets go to the sandbox outbox (service `crm`), and
the sandbox Slack message links them like a real CRM's (SPEC §8, §12).
"""

from __future__ import annotations

import tomllib

from bot.config import parse_config
from tests.conftest import EXAMPLE_CONFIG, post_signed
from tests.integration.doubles import outbox


def test_a_vip_ticket_is_recorded_in_the_sandbox_outbox(make_app) -> None:
    data = tomllib.loads(EXAMPLE_CONFIG.read_text())
    data["crm"] = {"provider": "salesforce"}
    client, components = make_app(parse_config(data))
    payload = {
        "submission_id": "sbx-crm-1",
        "name": "Dana Reyes",
        "email": "dana@majorclient.com",
        "company": "Major Client Inc",
        "timezone": "America/Phoenix",
        "requested_start": "2026-12-01T14:00:00-07:00",
    }

    body = post_signed(client, payload).json()
    assert components.tickets is not None
    components.tickets.drain()

    [ticket] = outbox(components, service="crm", request_id=body["request_id"])
    assert ticket.action == "tickets.create"
    assert ticket.payload["subject"] == "VIP booking request: Dana Reyes (Major Client Inc)"
    assert ticket.payload["owner_email"] == "olivia@ourco.example"
    assert ticket.payload["priority"] == "HIGH"
    [item] = client.get("/sandbox.json", params={"service": "crm"}).json()["items"]
    assert (item["action"], item["status"]) == ("tickets.create", "sandboxed")
    assert item["payload"]["subject"] == ticket.payload["subject"]  # shown: nothing was sent
    updates = [m for m in outbox(components, service="slack") if m.action == "chat.update"]
    assert any("Open in Salesforce" in str(m.payload["blocks"]) for m in updates)
