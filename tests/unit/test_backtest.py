"""`frontdesk backtest` over the shared month of requests."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from tests.conftest import SHARED_FIXTURES

VIP_DOMAINS = {"majorclient.com", "bigcorp.net"}


def _is_vip(email: str) -> bool:
    domain = email.rsplit("@", 1)[1].lower()
    return any(domain == vip or domain.endswith("." + vip) for vip in VIP_DOMAINS)


def test_backtest_predicts_routes_and_lists_changes(shared_requests, tmp_path: Path) -> None:
    variant = tmp_path / "variant.toml"
    original = (SHARED_FIXTURES / "frontdesk.toml").read_text()
    variant.write_text(original.replace('"custom", ', ""))
    # Written from the notes, not from the gate: without "custom", only the requests whose
    # sole trigger was "custom request" (no VIP, no group, a time chosen) go automatic.
    expected = sorted(
        row["submission_id"]
        for row in shared_requests
        if row["notes"] == "We'd like a custom request: on-site workshop"
        and not _is_vip(row["email"])
        and row.get("requested_start")
    )
    result = CliRunner().invoke(
        main,
        [
            "backtest",
            str(SHARED_FIXTURES / "requests.jsonl"),
            "--config",
            str(SHARED_FIXTURES / "frontdesk.toml"),
            "--against",
            str(variant),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["requests"] == len(shared_requests) == 600
    assert sorted(change["submission_id"] for change in report["changes"]) == expected
    assert all(change["after"]["route"] == "auto" for change in report["changes"])
    vip_rows = sum(1 for row in shared_requests if _is_vip(row["email"]))
    assert report["routes"]["vip"] == vip_rows
    escalated = report["routes"]["vip"] + report["routes"]["review"]
    assert report["predicted_human_intervention_rate"] == round(escalated / 600, 4)


def test_backtest_text_output_and_bad_lines(tmp_path: Path, shared_config) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text(
        json.dumps({"email": "a@majorclient.com", "notes": "", "requested_start": "x"})
        + "\n{not json\n"
        + json.dumps({"email": "b@example.com", "notes": "urgent!", "requested_start": "x"})
        + "\n"
    )
    result = CliRunner().invoke(
        main,
        ["backtest", str(history), "--config", str(SHARED_FIXTURES / "frontdesk.toml")],
    )
    assert result.exit_code == 0, result.output
    assert "requests: 2" in result.output
    assert "predicted human intervention rate: 100.0%" in result.output
    assert "keyword:urgent" in result.output
    assert "skipped unreadable lines: [2]" in result.output


def test_backtest_with_a_new_vip_domain_moves_exactly_its_requests(
    shared_requests, tmp_path: Path
) -> None:
    """VIP is checked first, so every request from the new domain changes route (whatever
    it was before), and no other request does; the text lists each of them.
    """
    variant = tmp_path / "variant.toml"
    original = (SHARED_FIXTURES / "frontdesk.toml").read_text()
    variant.write_text(
        original + '\n[[vip]]\ndomain = "northwind.example"\nowner_email = "o@ourco.example"\n'
    )
    expected = sorted(
        row["submission_id"]
        for row in shared_requests
        if row["email"].lower().endswith("@northwind.example")
    )
    assert len(expected) == 51
    args = [
        "backtest",
        str(SHARED_FIXTURES / "requests.jsonl"),
        "--config",
        str(SHARED_FIXTURES / "frontdesk.toml"),
        "--against",
        str(variant),
    ]
    report = json.loads(CliRunner().invoke(main, [*args, "--json"]).output)
    assert sorted(change["submission_id"] for change in report["changes"]) == expected
    assert {change["after"]["route"] for change in report["changes"]} == {"vip"}
    assert all(
        change["after"]["reasons"][0] == "vip_domain:northwind.example"
        for change in report["changes"]
    )
    text = CliRunner().invoke(main, args).output
    assert "51 requests would change route:" in text
    assert all(f"  {submission}: " in text for submission in expected)


def test_the_shipped_variant_drops_only_the_custom_keyword(shared_requests) -> None:
    """README's example: `--against examples/variants/drop-custom.toml` over the sample month
    moves exactly the requests whose only trigger was "custom" to the automatic route."""
    from tests.conftest import ROOT

    variant = ROOT / "examples" / "variants" / "drop-custom.toml"
    result = CliRunner().invoke(
        main,
        [
            "backtest",
            str(SHARED_FIXTURES / "requests.jsonl"),
            "--config",
            str(ROOT / "examples" / "frontdesk.toml"),
            "--against",
            str(variant),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    changes = json.loads(result.output)["changes"]
    assert changes, "dropping `custom` changes some routes in the sample month"
    assert all(change["after"]["route"] == "auto" for change in changes)
    assert all(
        "custom" in row["notes"].lower()
        for row in shared_requests
        if any(row["submission_id"] == change["submission_id"] for change in changes)
    )
