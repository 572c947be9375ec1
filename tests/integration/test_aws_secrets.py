"""Secrets Manager as the Lambda functions' source of secrets (bot/aws_secrets.py), with
boto3 talking to the fake AWS of tests/fakes/aws.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bot.aws_secrets import SecretsError, load_secrets
from testkit.fakes.aws import FakeAws

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:frontdesk/prod-AbCdEf"


@pytest.fixture
def fake_aws() -> Iterator[FakeAws]:
    with FakeAws() as fake:
        yield fake


def client(fake: FakeAws) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=fake.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDTEST",
        aws_secret_access_key="test-secret-key",
    )


def test_the_secret_fills_the_variables_the_function_does_not_set(fake_aws: FakeAws) -> None:
    fake_aws.secrets[ARN] = json.dumps(
        {"SLACK_BOT_TOKEN": "xoxb-from-aws", "FRONTDESK_PUBLIC_URL": "https://from.secret"}
    )
    environ = {"FRONTDESK_SECRETS_ARN": ARN, "FRONTDESK_PUBLIC_URL": "https://fd.example"}
    assert load_secrets(environ, client=client(fake_aws)) == ["SLACK_BOT_TOKEN"]
    assert environ["SLACK_BOT_TOKEN"] == "xoxb-from-aws"
    assert environ["FRONTDESK_PUBLIC_URL"] == "https://fd.example"


def test_without_an_arn_nothing_is_asked(fake_aws: FakeAws) -> None:
    environ: dict[str, str] = {}
    assert load_secrets(environ, client=client(fake_aws)) == []
    assert environ == {}


def test_a_missing_secret_is_named(fake_aws: FakeAws) -> None:
    with pytest.raises(SecretsError, match=r"frontdesk/prod.*could not be read.*find"):
        load_secrets({"FRONTDESK_SECRETS_ARN": ARN}, client=client(fake_aws))


@pytest.mark.parametrize("value", ["not json", '["a list"]', '{"PORT": 3000}'])
def test_a_secret_that_is_not_an_object_of_strings_is_refused(
    fake_aws: FakeAws, value: str
) -> None:
    fake_aws.secrets[ARN] = value
    with pytest.raises(SecretsError, match="must be a JSON object"):
        load_secrets({"FRONTDESK_SECRETS_ARN": ARN}, client=client(fake_aws))
