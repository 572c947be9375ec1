"""Secrets for the Lambda functions from AWS Secrets Manager, read once per execution
environment before the settings are.

`FRONTDESK_SECRETS_ARN` names one secret whose value is a JSON object of variable names and
values (`{"DATABASE_URL": "postgresql+psycopg://…", "SLACK_BOT_TOKEN": "xoxb-…"}`); each
becomes an environment variable unless the function's own configuration sets it already.
A service whose variables are absent from the secret runs in sandbox mode, as anywhere.
Reading at run time keeps the values out of the function's configuration, where anyone
allowed `lambda:GetFunctionConfiguration` would see them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import MutableMapping
from typing import Any

log = logging.getLogger("frontdesk.lambda")

SECRETS_ARN_VARIABLE = "FRONTDESK_SECRETS_ARN"
NOT_AN_OBJECT = "the secret {arn} must be a JSON object of variable names and string values"
UNREADABLE = "the secret {arn} could not be read: {reason}"


class SecretsError(RuntimeError):
    """The secret named by FRONTDESK_SECRETS_ARN cannot be used; the message says why."""


def load_secrets(
    environ: MutableMapping[str, str] | None = None, *, client: Any = None
) -> list[str]:
    """Put the secret's variables into `environ` (default: os.environ); returns the names
    set. `client` is a boto3 Secrets Manager client (default: one for this region).
    """
    environ = os.environ if environ is None else environ
    arn = environ.get(SECRETS_ARN_VARIABLE)
    if not arn:
        return []
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    try:
        answer = client.get_secret_value(SecretId=arn)
    except Exception as exc:  # botocore's errors: say which secret, not a stack trace
        raise SecretsError(UNREADABLE.format(arn=arn, reason=exc)) from None
    try:
        values = json.loads(answer.get("SecretString") or "")
    except ValueError:
        raise SecretsError(NOT_AN_OBJECT.format(arn=arn)) from None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise SecretsError(NOT_AN_OBJECT.format(arn=arn))
    added = sorted(name for name in values if name not in environ)
    for name in added:
        environ[name] = values[name]
    kept = sorted(set(values) - set(added))
    # Names only: never a value.
    log.info("secrets loaded", extra={"secret": arn, "set": added, "kept_from_config": kept})
    return added
