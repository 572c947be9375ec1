"""A fake of the two AWS APIs the Lambda functions call, for boto3 pointed at it with
`AWS_ENDPOINT_URL_SECRETSMANAGER` / `AWS_ENDPOINT_URL_LAMBDA` (or `endpoint_url`):

* Secrets Manager `GetSecretValue` (JSON 1.1 protocol, `X-Amz-Target`), from `secrets`;
* Lambda `Invoke` (`POST /2015-03-31/functions/{name}/invocations`), recorded with its
  invocation type and payload, answered as AWS does for an asynchronous invocation (202).
  A test replays the recorded payloads into the handler, as Lambda would.

Signatures are not checked: boto3 signs with whatever credentials the test sets.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from testkit.fakes import FakeHandler, FakeService

INVOKE_PREFIX = "/2015-03-31/functions/"
INVOKE_SUFFIX = "/invocations"


@dataclass(frozen=True)
class Invocation:
    function: str
    invocation_type: str
    payload: dict[str, Any]


class _Handler(FakeHandler):
    fake: FakeAws

    def dispatch(self, method: str) -> None:
        body = self.read_body()
        headers = self.lower_headers()
        target = headers.get("x-amz-target", "")
        if method == "POST" and target == "secretsmanager.GetSecretValue":
            self._secret(json.loads(body or b"{}"))
        elif method == "POST" and self.path.startswith(INVOKE_PREFIX):
            function = unquote(self.path[len(INVOKE_PREFIX) :].split("/", 1)[0])
            kind = headers.get("x-amz-invocation-type", "RequestResponse")
            self.fake.record(Invocation(function, kind, json.loads(body or b"{}")))
            self.send(202 if kind == "Event" else 200, b"", {})
        else:
            self.send(400, json.dumps({"__type": "UnknownOperationException"}), {})

    def _secret(self, request: dict[str, Any]) -> None:
        secret_id = request.get("SecretId", "")
        value = self.fake.secrets.get(secret_id)
        if value is None:
            error = {
                "__type": "ResourceNotFoundException",
                "Message": "Secrets Manager can't find the specified secret.",
            }
            self.send(400, json.dumps(error), {"Content-Type": "application/x-amz-json-1.1"})
            return
        answer = {"ARN": secret_id, "Name": secret_id, "SecretString": value}
        self.send(200, json.dumps(answer), {"Content-Type": "application/x-amz-json-1.1"})


class FakeAws(FakeService):
    handler = _Handler
    thread_name = "fake-aws"

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        super().__init__()
        self.secrets = dict(secrets or {})
        self.invocations: list[Invocation] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.root_url.rstrip("/")

    def record(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)

    def take_invocations(self) -> list[Invocation]:
        with self._lock:
            taken, self.invocations = self.invocations, []
        return taken
