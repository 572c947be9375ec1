"""The TOML config (SPEC §2): good files load; every error names the file, key and reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config
from tests.conftest import EXAMPLE_CONFIG, SHARED_FIXTURES
from tests.unit._support import VALID_TOML

WriteToml = Callable[[str], Path]


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def _broken(write_toml: WriteToml, old: str, new: str) -> tuple[Path, str]:
    assert old in VALID_TOML, old
    path = write_toml(VALID_TOML.replace(old, new, 1))
    return path, _error(path)


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert [rep.email for rep in config.reps] == [
        "alice@ourco.example",
        "bruno@ourco.example",
        "chen@ourco.example",
        "dmitri@ourco.example",
    ]
    assert config.timezone == "America/New_York"
    assert config.slack.sla_minutes == 15
    assert {vip.domain for vip in config.vip} == {"majorclient.com", "bigcorp.net"}
    alice = config.rep("alice@ourco.example")
    assert alice is not None
    assert alice.hours_by_weekday[4] == ((time(9), time(12)),)
    assert 5 not in alice.hours_by_weekday  # Saturday is a day off


def test_shared_fixture_config_loads() -> None:
    path = SHARED_FIXTURES / "frontdesk.toml"
    if not path.exists():
        pytest.skip(f"shared fixtures not found at {SHARED_FIXTURES}")
    config = load_config(path)
    assert len(config.reps) == 3
    assert config.booking.buffer_minutes == 10
    assert config.gate_rules.vip_domains == ("majorclient.com", "bigcorp.net")


def test_valid_base_config_loads(write_toml: WriteToml) -> None:
    # The mutations below start from this text, so it must itself be valid.
    config = load_config(write_toml(VALID_TOML))
    assert config.rep("ALICE@ourco.example") is not None
    # The booking calendar always counts as busy time, listed or not.
    assert config.reps[0].calendars == ("alice@ourco.example",)


def test_unknown_top_level_zone(write_toml: WriteToml) -> None:
    path, message = _broken(
        write_toml, 'timezone = "America/New_York"\n\n[slack]', 'timezone = "Mars/Olympus"\n[slack]'
    )
    assert str(path) in message
    assert f"{path}: timezone: " in message
    assert "unknown IANA time zone 'Mars/Olympus'" in message


def test_unknown_rep_zone(write_toml: WriteToml) -> None:
    path, message = _broken(write_toml, '"Europe/Berlin"', '"Europe/Berln"')
    assert f"{path}: reps[1].timezone: " in message
    assert "unknown IANA time zone 'Europe/Berln'" in message


@pytest.mark.parametrize(
    ("hours", "reason"),
    [
        ("9-17", "expected HH:MM-HH:MM"),
        ("17:00-09:00", "end is not after start"),
        ("25:00-26:00", "is not a time of day"),
        ("09:00-12:00, 11:00-17:00", "overlap"),
    ],
)
def test_malformed_working_hours(write_toml: WriteToml, hours: str, reason: str) -> None:
    path, message = _broken(write_toml, 'mon = "08:30-16:30"', f'mon = "{hours}"')
    assert f"{path}: reps[1].working_hours" in message
    assert "mon" in message
    assert repr(hours) in message
    assert reason in message


def test_unknown_working_day(write_toml: WriteToml) -> None:
    path, message = _broken(write_toml, 'mon = "08:30-16:30"', 'mon2 = "08:30-16:30"')
    assert f"{path}: reps[1].working_hours" in message
    assert "unknown day 'mon2'" in message


def test_working_hours_may_end_at_midnight(write_toml: WriteToml) -> None:
    config = load_config(
        write_toml(VALID_TOML.replace('mon = "08:30-16:30"', 'sat = "18:00-24:00"'))
    )
    assert config.reps[1].hours_by_weekday == {5: ((time(18), time.max),)}


@pytest.mark.parametrize("duplicate", ["alice@ourco.example", "ALICE@OurCo.Example"])
def test_duplicate_rep_email_case_insensitive(write_toml: WriteToml, duplicate: str) -> None:
    path, message = _broken(write_toml, 'email = "bruno@ourco.example"', f'email = "{duplicate}"')
    assert f"{path}: reps[1].email: " in message
    assert "'alice@ourco.example' is listed twice" in message


def test_vip_domain_listed_twice(write_toml: WriteToml) -> None:
    extra = '[[vip]]\ndomain = "MajorClient.com"\nowner_email = "marcus@ourco.example"\n\n'
    path = write_toml(VALID_TOML.replace("[[reps]]", extra + "[[reps]]", 1))
    message = _error(path)
    assert f"{path}: vip[1].domain: " in message
    assert "'majorclient.com' is listed twice" in message


def test_malformed_rep_email(write_toml: WriteToml) -> None:
    path, message = _broken(write_toml, 'email = "alice@ourco.example"', 'email = "alice-at-ourco"')
    assert f"{path}: reps[0].email: " in message
    assert "malformed email 'alice-at-ourco'" in message


def test_malformed_owner_email(write_toml: WriteToml) -> None:
    path, message = _broken(write_toml, '"olivia@ourco.example"', '"olivia@"')
    assert f"{path}: vip[0].owner_email: " in message
    assert "malformed email 'olivia@'" in message


@pytest.mark.parametrize(
    ("old", "new", "key", "reason"),
    [
        ('"U0ALICE"', '"alice"', "reps[0].slack_id", "is not a Slack user id"),
        ('"U0OLIVIA"', '"@olivia"', "vip[0].owner_slack_id", "is not a Slack user id"),
        ('"C0ESCALATE"', '"#escalations"', "slack.escalation_channel", "not a Slack channel id"),
        ('"S0OPS"', '"ops-team"', "slack.ops_usergroup", "not a Slack user group id"),
    ],
)
def test_bad_slack_ids(write_toml: WriteToml, old: str, new: str, key: str, reason: str) -> None:
    path, message = _broken(write_toml, old, new)
    assert f"{path}: {key}: " in message
    assert reason in message
    assert new.strip('"') in message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("escalation_channel =", "escalation_chanel =", "slack.escalation_chanel"),
        (
            'timezone = "America/New_York"\n\n',
            'timezone = "America/New_York"\ntimzone = "UTC"\n',
            "timzone",
        ),
        ('provider = "google"', 'provider = "google"\nworkinghours = "x"', "reps[0].workinghours"),
    ],
)
def test_unknown_key_is_refused(write_toml: WriteToml, old: str, new: str, key: str) -> None:
    path, message = _broken(write_toml, old, new)
    assert f"{path}: {key}: " in message
    assert "Extra inputs are not permitted" in message


def test_sla_minutes_zero_refused(write_toml: WriteToml) -> None:
    path, message = _broken(write_toml, "sla_minutes = 15", "sla_minutes = 0")
    assert f"{path}: slack.sla_minutes: " in message
    assert "greater than or equal to 1" in message


def test_invalid_toml(write_toml: WriteToml) -> None:
    path = write_toml(VALID_TOML + "\n[slack\nbroken = \n")
    message = _error(path)
    assert message.startswith(f"{path}: not valid TOML")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    message = _error(path)
    assert message.startswith(f"{path}: cannot read config")
    assert "No such file" in message


def test_several_problems_reported_together(write_toml: WriteToml) -> None:
    text = (
        VALID_TOML.replace('timezone = "America/New_York"\n\n', 'timezone = "Nope/Zone"\n\n', 1)
        .replace('"Europe/Berlin"', '"Bad/Zone"')
        .replace("sla_minutes = 15", "sla_minutes = 0")
        .replace('"olivia@ourco.example"', '"olivia"')
    )
    path = write_toml(text)
    lines = _error(path).splitlines()
    keys = {line.split(": ")[1] for line in lines}
    assert keys == {"timezone", "reps[1].timezone", "slack.sla_minutes", "vip[0].owner_email"}
    assert all(line.startswith(f"{path}: ") for line in lines)
