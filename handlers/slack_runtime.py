"""Where Slack listeners do their work after the ack, chosen once at start-up.

On a server the response goes out first and the work runs on a small thread pool. On AWS
Lambda the function is frozen the moment it returns, so no thread may outlive the
response: the app runs with Bolt's `process_before_response`, work handed to the listener
executor runs at once (before the response is built), and Bolt's lazy listeners run in a
second, asynchronous invocation of the same function (Bolt's `LambdaLazyListenerRunner`:
the same signed Slack request, replayed with `x-slack-bolt-lazy-only`), so the slow paths
still answer Slack within its 3 s.

An ack listener hands small values (a modal's view id) to its lazy listeners with
`carry`; they read them back with `carried`, on either runtime.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

from slack_bolt import App, BoltContext, BoltRequest

T = TypeVar("T")

CARRY_PREFIX = "frontdesk_carry_"
CARRY_HEADER_PREFIX = "x-frontdesk-carry-"
SIGNATURE_SUFFIX = "-signature"
CARRY_KEY = "frontdesk_carry_key"

log = logging.getLogger("frontdesk.slack.runtime")


class InlineExecutor(Executor):
    """Runs each task in `submit`, in the caller's thread: on Lambda the listener, and so
    the Slack response, waits for the work.
    """

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def listener_executor(on_lambda: bool, workers: int) -> Executor:
    if on_lambda:
        return InlineExecutor()
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-lazy")


def use_lambda_lazy_listeners(app: App, logger: logging.Logger, signing_secret: str) -> None:
    """Lazy listeners in a second invocation of this function (needs boto3 and the
    function's permission to invoke itself, see deploy/lambda/template.yaml). What an ack
    listener carries to them travels in headers of that invocation, signed with the Slack
    signing secret: Slack's signature covers only the body.
    """
    from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner

    app.listener_runner.lazy_listener_runner = LambdaLazyListenerRunner(logger)

    def carry_key(context: BoltContext, next: Callable[[], None]) -> None:
        context[CARRY_KEY] = signing_secret
        next()

    app.use(carry_key)


def add_lambda_context(bolt_request: BoltRequest, scope: Mapping[str, Any]) -> None:
    """What Bolt's Lambda lazy runner needs to invoke the function again: the event as it
    arrived (Mangum keeps it in the ASGI scope) and the function's ARN.
    """
    event = scope.get("aws.event")
    context = scope.get("aws.context")
    if event is None or context is None:
        return
    bolt_request.context["lambda_request"] = event
    bolt_request.context["aws_lambda_function_name"] = context.function_name
    bolt_request.context["aws_lambda_invoked_function_arn"] = context.invoked_function_arn


def _signature(key: str, name: str, value: str) -> str:
    return hmac.new(key.encode(), f"{name}:{value}".encode(), hashlib.sha256).hexdigest()


def carry(context: BoltContext, name: str, value: str) -> None:
    """Hand `value` from an ack listener to its lazy listeners: Bolt copies the context for
    a lazy listener on a thread; on Lambda it re-sends the event, so a signed header goes
    too.
    """
    context[CARRY_PREFIX + name] = value
    event = context.get("lambda_request")
    key = context.get(CARRY_KEY)
    if isinstance(event, dict) and key:
        headers = event.setdefault("headers", {})
        headers[CARRY_HEADER_PREFIX + name] = value
        headers[CARRY_HEADER_PREFIX + name + SIGNATURE_SUFFIX] = _signature(key, name, value)


def carried(context: BoltContext, request: BoltRequest, name: str) -> str | None:
    """What the ack listener carried, or None (nothing carried, or a header whose
    signature does not match, which is logged).
    """
    value = context.get(CARRY_PREFIX + name)
    if value:
        return str(value)
    header = CARRY_HEADER_PREFIX + name
    values = request.headers.get(header) or []
    signatures = request.headers.get(header + SIGNATURE_SUFFIX) or []
    key = context.get(CARRY_KEY)
    if not values:
        return None
    expected = _signature(key, name, values[0]) if key else ""
    if not (signatures and expected and hmac.compare_digest(signatures[0], expected)):
        log.warning("refused a carried value with a bad signature", extra={"carried": name})
        return None
    return str(values[0])
