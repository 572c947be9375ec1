"""`frontdesk check` probes the CRM (SPEC §12): the token and its scopes, HubSpot's pipeline,
stages and property, Salesforce's external id field, and that every VIP owner is a CRM user;
each failure names its fix. Start-up refuses CRM settings that do not add up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.providers import UnavailableIntegrationError, build_integrations
from storage.db import Database
from storage.repositories import BookingRepository, ConnectionRepository, OutboxRepository
from testkit.fakes.hubspot import FakeHubSpot
from testkit.fakes.salesforce import FakeSalesforce
from tests.conftest import make_settings
from tests.integration.test_check_probes import CONFIG, fakes, rows, run_check
from tests.slack_requests import slack_config

__all__ = ["fakes", "run_check"]  # the fixtures this module borrows

VIPS = """
[[vip]]
domain = "majorclient.com"
owner_email = "olivia@ourco.example"

[[vip]]
domain = "bigcorp.net"
owner_email = "ghost@ourco.example"
"""


def write_config(tmp_path: Path, crm: str) -> None:
    (tmp_path / "frontdesk.toml").write_text(CONFIG + VIPS + crm, encoding="utf-8")


@pytest.fixture
def connected(run_check):
    connect, run = run_check
    connect("alice@ourco.example")
    connect("carol@ourco.example")
    return run


def test_hubspot_with_a_good_token_passes_and_names_the_unknown_owner(
    connected, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, '\n[crm]\nprovider = "hubspot"\n')
    with FakeHubSpot(owners={"olivia@ourco.example": "101"}) as hubspot:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", hubspot.token)
        monkeypatch.setenv("HUBSPOT_API_URL", hubspot.url)
        result = connected()

    assert result.exit_code == 1, result.output
    found = rows(result)
    for subject in (
        "hubspot:token",
        "hubspot:scopes",
        "hubspot:pipeline pipeline 0",
        "hubspot:property frontdesk_request_id",
        "hubspot:owner olivia@ourco.example",
    ):
        assert found[subject].startswith("ok "), result.output
    ghost = found["hubspot:owner ghost@ourco.example"]
    assert ghost.startswith("FAIL") and "fix owner_email in [[vip]]" in ghost


def test_hubspot_with_a_bad_token_fails_naming_the_variable(
    connected, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, '\n[crm]\nprovider = "hubspot"\n')
    with FakeHubSpot() as hubspot:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-revoked")
        monkeypatch.setenv("HUBSPOT_API_URL", hubspot.url)
        result = connected()

    assert result.exit_code == 1
    token = rows(result)["hubspot:token"]
    assert token.startswith("FAIL") and "HUBSPOT_ACCESS_TOKEN" in token
    assert "pat-na1-revoked" not in result.output  # never printed


def test_hubspot_set_up_problems_are_each_named_with_the_fix(
    connected, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(
        tmp_path,
        '\n[crm]\nprovider = "hubspot"\nhubspot_pipeline = "0"\nhubspot_stage_closed = "9"\n',
    )
    owners = {"olivia@ourco.example": "101", "ghost@ourco.example": "102"}
    with FakeHubSpot(owners=owners, scopes=("tickets",), has_property=False) as hubspot:
        monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", hubspot.token)
        monkeypatch.setenv("HUBSPOT_API_URL", hubspot.url)
        result = connected()

    found = rows(result)
    assert result.exit_code == 1
    scopes = found["hubspot:scopes"]
    assert scopes.startswith("FAIL") and "crm.objects.contacts.write" in scopes
    assert "crm.objects.owners.read" in scopes
    pipeline = found["hubspot:pipeline pipeline 0"]
    assert pipeline.startswith("FAIL") and "hubspot_stage_closed" in pipeline
    prop = found["hubspot:property frontdesk_request_id"]
    assert prop.startswith("FAIL") and "Ticket properties" in prop


@pytest.fixture
def salesforce_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[rsa.RSAPrivateKey, str, trustme.CA]]:
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
    yield key, str(key_file), ca


def test_salesforce_names_a_missing_external_id_and_an_unknown_owner(
    connected, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, salesforce_env
) -> None:
    key, key_file, ca = salesforce_env
    write_config(tmp_path, '\n[crm]\nprovider = "salesforce"\n')
    users = {"olivia@ourco.example": "005A"}
    with FakeSalesforce(
        public_key=key.public_key(), users=users, ca=ca, external_id_field=False
    ) as salesforce:
        for name, value in salesforce.settings(key_file).items():
            monkeypatch.setenv(name.upper(), value)
        result = connected()

    found = rows(result)
    assert result.exit_code == 1
    assert found["salesforce:token"].startswith("ok ")
    field = found["salesforce:field Frontdesk_Request_Id__c"]
    assert field.startswith("FAIL") and "External ID" in field
    assert found["salesforce:owner olivia@ourco.example"].startswith("ok ")
    assert found["salesforce:owner ghost@ourco.example"].startswith("FAIL")


def test_salesforce_with_a_key_the_app_does_not_hold_fails_the_token(
    connected, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, salesforce_env
) -> None:
    _, key_file, ca = salesforce_env
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    write_config(tmp_path, '\n[crm]\nprovider = "salesforce"\n')
    with FakeSalesforce(public_key=other.public_key(), ca=ca) as salesforce:
        for name, value in salesforce.settings(key_file).items():
            monkeypatch.setenv(name.upper(), value)
        result = connected()

    token = rows(result)["salesforce:token"]
    assert result.exit_code == 1
    assert token.startswith("FAIL") and "SALESFORCE_PRIVATE_KEY_FILE" in token


# ------------------------------------------------------------------ start-up


def _build(database_url: str, config_changes: dict, **settings: str) -> object:
    db = Database(database_url)
    try:
        return build_integrations(
            make_settings(database_url, **settings),
            slack_config(**config_changes),
            outbox=OutboxRepository(db),
            bookings=BookingRepository(db),
            connections=ConnectionRepository(db, None),
        )
    finally:
        db.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_crm_settings_that_do_not_add_up_refuse_to_start(database_url: str, tmp_path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("not used here")
    salesforce = {
        "salesforce_instance_url": "https://example.my.salesforce.com",
        "salesforce_client_id": "3MVG9",
        "salesforce_username": "int@ourco.example",
        "salesforce_private_key_file": str(key),
    }
    half = dict(salesforce)
    del half["salesforce_username"]
    cases = [
        ({}, {"hubspot_access_token": "pat"}, "no [crm] section"),
        ({"crm": {"provider": "salesforce"}}, {"hubspot_access_token": "pat"}, "HUBSPOT_ACCESS"),
        ({"crm": {"provider": "salesforce"}}, half, "set SALESFORCE_USERNAME"),
        (
            {"crm": {"provider": "salesforce"}},
            {**salesforce, "salesforce_private_key_file": str(tmp_path / "missing.pem")},
            "SALESFORCE_PRIVATE_KEY_FILE",
        ),
    ]
    for config, settings, message in cases:
        with pytest.raises(UnavailableIntegrationError, match=message.replace("[", r"\[")):
            _build(database_url, config, **settings)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_credentials_the_crm_of_crm_is_the_sandbox(database_url: str) -> None:
    from storage.migrate import upgrade

    upgrade(database_url)
    integrations = _build(database_url, {"crm": {"provider": "hubspot"}})
    assert integrations.modes()["crm"] == "sandbox"  # type: ignore[attr-defined]
    assert integrations.tickets.label == "HubSpot"  # type: ignore[attr-defined]
    assert "crm" not in _build(database_url, {}).modes()  # type: ignore[attr-defined]


def test_serve_refuses_a_half_configured_salesforce_naming_the_missing_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from click.testing import CliRunner

    from bot import cli
    from tests.conftest import EXAMPLE_CONFIG
    from tests.unit.test_cli import CREDENTIAL_VARIABLES

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("serve must not start half configured")

    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(uvicorn, "run", never)
    monkeypatch.setattr(cli, "configure_logging", lambda level="INFO": None)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    monkeypatch.setenv("FRONTDESK_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("SALESFORCE_INSTANCE_URL", "https://ourco.my.salesforce.com")
    monkeypatch.setenv("SALESFORCE_CLIENT_ID", "3MVG9")
    monkeypatch.setenv("SALESFORCE_PRIVATE_KEY_FILE", str(tmp_path / "sf.key"))
    config = tmp_path / "frontdesk.toml"
    config.write_text(EXAMPLE_CONFIG.read_text() + '\n[crm]\nprovider = "salesforce"\n')

    result = CliRunner().invoke(cli.main, ["serve", "--config", str(config)])

    assert result.exit_code == 1
    assert "Salesforce is half configured: set SALESFORCE_USERNAME" in result.output
