"""The gate over the shared sample requests and config, against hand-written expectations."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bot.domain.gate import GateInput, GateRules, Route, decide

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
REQUESTS_FILE = FIXTURES / "requests.jsonl"
CONFIG_FILE = FIXTURES / "frontdesk.toml"

VIP_REASON_BY_DOMAIN = {
    "majorclient.com": "vip_domain:majorclient.com",
    "eu.majorclient.com": "vip_domain:majorclient.com",
    "bigcorp.net": "vip_domain:bigcorp.net",
    "labs.bigcorp.net": "vip_domain:bigcorp.net",
}
LOOKALIKE_DOMAINS = {
    "notmajorclient.com",
    "majorclient.com.evil.io",
    "mybigcorp.net",
    "bigcorp.network",
    "groupon.com",
    "insurgentmedia.net",
    "customerfirst.io",
}
# Worked out by hand from SPEC §3.2 and the fixture config: keywords group, urgent, custom,
# reschedule (in that order); group size threshold 5.
EXPECTED_REASONS_BY_NOTE: dict[str, tuple[str, ...]] = {
    "": (),
    "Referred by a customer of yours.": (),
    "Our customer success lead will join.": (),
    "Can we talk about the API?": (),
    "Want to see the reporting features.": (),
    "Follow-up on the webinar.": (),
    "Pricing questions for a small shop.": (),
    "Looking forward to a quick intro.": (),
    "Need to book a demo for our team of 12": ("group_size:12",),
    "We'd like a custom request: on-site workshop": ("keyword:custom",),
    "Could we do something custom for our franchise groups?": ("keyword:group", "keyword:custom"),
    "Demo for 8 people from procurement and IT": ("group_size:8",),
    "This is urgent, please call back today": ("keyword:urgent",),
    "Group session for the whole sales floor please": ("keyword:group",),
    "Need to reschedule our call from last week": ("keyword:reschedule",),
    "URGENT: our contract renews Friday": ("keyword:urgent",),
}


@pytest.fixture(scope="module")
def requests() -> list[dict[str, Any]]:
    if not REQUESTS_FILE.is_file():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    lines = REQUESTS_FILE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def rules() -> GateRules:
    if not CONFIG_FILE.is_file():
        pytest.skip(f"shared fixtures not found at {FIXTURES}")
    config = tomllib.loads(CONFIG_FILE.read_text(encoding="utf-8"))
    return GateRules(
        vip_domains=tuple(vip["domain"] for vip in config["vip"]),
        escalation_keywords=tuple(config["gate"]["escalation_keywords"]),
        group_size_threshold=config["gate"]["group_size_threshold"],
    )


def _domain(request: dict[str, Any]) -> str:
    return str(request["email"]).rpartition("@")[2].lower()


def _gate_input(request: dict[str, Any]) -> GateInput:
    return GateInput(
        email=request["email"],
        notes=request.get("notes") or "",
        has_requested_time=bool(request.get("requested_start")),
    )


def test_vip_domains_and_their_subdomains_route_to_vip(
    requests: list[dict[str, Any]], rules: GateRules
) -> None:
    vip_requests = [r for r in requests if _domain(r) in VIP_REASON_BY_DOMAIN]
    assert {_domain(r) for r in vip_requests} == set(VIP_REASON_BY_DOMAIN)
    for request in vip_requests:
        decision = decide(_gate_input(request), rules)
        assert decision.route is Route.VIP, request["submission_id"]
        assert decision.reasons[0] == VIP_REASON_BY_DOMAIN[_domain(request)]


def test_lookalike_domains_are_not_vip(requests: list[dict[str, Any]], rules: GateRules) -> None:
    lookalikes = [r for r in requests if _domain(r) in LOOKALIKE_DOMAINS]
    assert {_domain(r) for r in lookalikes} == LOOKALIKE_DOMAINS
    for request in lookalikes:
        decision = decide(_gate_input(request), rules)
        assert decision.route is not Route.VIP, request["submission_id"]
        assert not any(reason.startswith("vip_domain:") for reason in decision.reasons)


def test_expectations_cover_every_note_in_the_fixtures(requests: list[dict[str, Any]]) -> None:
    assert {r.get("notes") or "" for r in requests} == set(EXPECTED_REASONS_BY_NOTE)


def test_each_request_gets_the_reasons_written_by_hand(
    requests: list[dict[str, Any]], rules: GateRules
) -> None:
    for request in requests:
        gate_input = _gate_input(request)
        vip_reasons = (
            (VIP_REASON_BY_DOMAIN[_domain(request)],)
            if _domain(request) in VIP_REASON_BY_DOMAIN
            else ()
        )
        time_reasons = () if gate_input.has_requested_time else ("no_time_selected",)
        expected = vip_reasons + EXPECTED_REASONS_BY_NOTE[gate_input.notes] + time_reasons
        decision = decide(gate_input, rules)
        assert decision.reasons == expected, request["submission_id"]
        expected_route = Route.VIP if vip_reasons else Route.REVIEW if expected else Route.AUTO
        assert decision.route is expected_route, request["submission_id"]


def test_requests_without_a_time_get_no_time_selected(
    requests: list[dict[str, Any]], rules: GateRules
) -> None:
    without_time = [r for r in requests if not r.get("requested_start")]
    assert without_time, "the fixtures should include requests with no requested time"
    for request in without_time:
        decision = decide(_gate_input(request), rules)
        assert decision.reasons[-1] == "no_time_selected", request["submission_id"]
        assert decision.route is not Route.AUTO
