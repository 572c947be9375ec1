"""What the CRM fakes share: endpoints named by route templates, every call recorded, and
canned answers (an error, a delay) queued per route ahead of the normal one."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from testkit.fakes import FakeService, Scripts


@dataclass(frozen=True)
class Call:
    route: str  # the route template, e.g. "PATCH /crm/v3/objects/tickets/{id}"
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


@dataclass
class Scripted:
    """A canned answer for the next `times` calls of one route. `body` None: carry the call
    out and answer normally (after `delay`)."""

    status: int = 200
    body: Any = None  # a str is sent as it is (an HTML error page), anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1


class RoutedFake(FakeService):
    """A fake whose `route` names each request's endpoint and whose `answer` answers it."""

    def __init__(self) -> None:
        super().__init__()
        self._calls: list[Call] = []
        self._scripts: Scripts[Scripted] = Scripts()
        self._lock = threading.Lock()

    def calls(self, route: str | None = None) -> list[Call]:
        with self._lock:
            return [call for call in self._calls if route is None or call.route == route]

    def script(self, route: str, scripted: Scripted) -> None:
        self._scripts.add(route, scripted)

    def route(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        """The route template of a request, and the path's parameters."""
        raise NotImplementedError

    def answer(
        self,
        route: str,
        params: dict[str, str],
        query: dict[str, str],
        body: Any,
        headers: dict[str, str],
    ) -> tuple[int, Any]:
        """The normal answer: a status and a body (None: no body)."""
        raise NotImplementedError

    def handle(
        self, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
    ) -> tuple[int, str, dict[str, str]]:
        route, params = self.route(method, path)
        with self._lock:
            self._calls.append(Call(route, path, query, body, headers, time.monotonic()))
            scripted = self._scripts.pop(route)
        if scripted is not None and scripted.body is not None:
            time.sleep(scripted.delay)
            text = scripted.body if isinstance(scripted.body, str) else json.dumps(scripted.body)
            return scripted.status, text, scripted.headers
        status, answer = self.answer(route, params, query, body, headers)
        if scripted is not None:
            time.sleep(scripted.delay)
        return status, "" if answer is None else json.dumps(answer), {}
