"""What one intake request costs inside the server: statements, transactions, profile.

Run it from the repository root:

    .venv/bin/python -m bench.intake_profile                 # 400 requests, SQLite
    .venv/bin/python -m bench.intake_profile --profile 15    # and the top 15 costs

It builds the real app (sandbox integrations, a fresh SQLite file) in this process and
sends the intake benchmark's request mix (``bench.intake``'s bodies, signed) through
Starlette's test client, one at a time. SQLAlchemy's event hooks count, per request, the
statements by kind, the write transactions (``BEGIN IMMEDIATE``), the read connections
and the pool checkouts. With ``--profile N`` every thread the server starts (the event
loop, the threadpool's workers) runs its own cProfile on its own CPU clock, so waiting for
the GIL or the write lock costs nothing; the summary groups the CPU by the library that
spent it (the HTTP stack, SQLAlchemy, SQLite, the .ics, Block Kit, ...) and lists the N
functions with the most own time. cProfile slows code that makes many small calls more
than other code: read the shares, not the times. No timing here is a target:
``bench.intake`` measures throughput and latency against ``/healthz``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import secrets
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.intake import DEFAULT_CONFIG, INTAKE_PATH, BodyMaker, SlotPool, plan_slots
from bot.config import load_config
from bot.domain.signing import signed_headers
from storage.db import _immediate


def _kind(sql: str) -> str:
    """`INSERT requests`, `SELECT bookings`, … : the statement's verb and first table."""
    words = sql.replace("(", " ").replace('"', "").split()
    verb = words[0].upper()
    after = {"INSERT": "INTO", "UPDATE": "UPDATE", "SELECT": "FROM", "DELETE": "FROM"}
    marker = after.get(verb)
    upper = [word.upper() for word in words]
    if marker is None or marker not in upper:
        return verb
    return f"{verb} {words[upper.index(marker) + 1]}"


class Counts:
    """Statements by their first word, transactions and checkouts, over the whole run."""

    def __init__(self) -> None:
        self.statements: Counter[str] = Counter()
        self.checkouts = 0
        self.writes = 0
        self.reads = 0

    def attach(self, engine: Any) -> None:
        @event.listens_for(engine, "before_cursor_execute")
        def _statement(*args: Any) -> None:
            self.statements[_kind(str(args[2]))] += 1

        @event.listens_for(engine, "begin")
        def _begin(_conn: Any) -> None:
            # The driver's BEGIN is issued by storage.db's own hook, not through a cursor.
            if _immediate.get():
                self.writes += 1
            else:
                self.reads += 1

        @event.listens_for(engine, "checkout")
        def _checkout(*_args: Any) -> None:
            self.checkouts += 1


def _app(workdir: Path, secret: str) -> tuple[Any, Any]:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'profile.db'}"
    os.environ["FRONTDESK_WEBHOOK_SECRET"] = secret
    os.environ["FRONTDESK_LOG_LEVEL"] = "WARNING"
    from bot.app import create_app
    from bot.components import build_components
    from bot.settings import Settings
    from storage.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url)
    components = build_components(settings, load_config(DEFAULT_CONFIG))
    return components, create_app(components, recover_on_start=False)


def _send(client: Any, secret: str, maker: BodyMaker, n: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for _ in range(n):
        body, content_type = maker.make()
        headers = {"Content-Type": content_type, **signed_headers(secret, body)}
        response = client.post(INTAKE_PATH, content=body, headers=headers)
        outcomes[str(response.json().get("status", response.status_code))] += 1
    return outcomes


# Where a function lives, by the library that owns it: the profile summary's groups.
HTTP_STACK = "HTTP server and framework (uvicorn, h11, Starlette, FastAPI, anyio)"
GROUPS = (
    ("sqlalchemy/", "SQLAlchemy"),
    ("sqlite3", "sqlite3 (the driver and SQLite itself)"),
    ("psycopg", "psycopg"),
    ("uvicorn/", HTTP_STACK),
    ("h11/", HTTP_STACK),
    ("starlette/", HTTP_STACK),
    ("fastapi/", HTTP_STACK),
    ("anyio/", HTTP_STACK),
    ("asyncio/", HTTP_STACK),
    ("slack_sdk/", "Slack Block Kit models (slack_sdk)"),
    ("icalendar/", "the .ics invitation (icalendar)"),
    ("jinja2/", "email templates (Jinja2)"),
    ("phonenumbers/", "phone numbers (phonenumbers)"),
    ("email_validator/", "email addresses (email_validator)"),
    ("pydantic", "pydantic and SQLModel models"),
    ("sqlmodel/", "pydantic and SQLModel models"),
    ("logging/", "logging"),
    ("json/", "JSON"),
    ("/bot/", "Frontdesk's own code"),
    ("/handlers/", "Frontdesk's own code"),
    ("/integrations/", "Frontdesk's own code (the sandbox integrations)"),
    ("/storage/", "Frontdesk's own code"),
)


def _group(path: str, name: str) -> str:
    where = path.replace("\\", "/")
    for marker, group in GROUPS:
        if marker in where or (path == "~" and marker.strip("/") in name):
            return group
    return "other (Python's own library, builtins)"


class ThreadProfiles:
    """One cProfile per thread the server starts (the event loop, the threadpool's workers),
    each timing the CPU of its own thread: waiting for the GIL or a lock costs nothing."""

    def __init__(self) -> None:
        self.profilers: list[cProfile.Profile] = []
        self.on = False

    def _install(self, *_args: Any) -> None:
        if not self.on:
            return
        profiler = cProfile.Profile(time.thread_time)
        self.profilers.append(profiler)
        profiler.enable()  # replaces this hook for the rest of the thread's life

    def start(self) -> None:
        """Profile every thread started from now on (so: before the app's threads start)."""
        self.on = True
        threading.setprofile(self._install)

    def stop(self) -> pstats.Stats:
        threading.setprofile(None)
        self.on = False
        stats = pstats.Stats(self.profilers[0], stream=io.StringIO())
        for profiler in self.profilers[1:]:
            stats.add(profiler)
        return stats


def _summary(stats: pstats.Stats, n: int, requests: int) -> str:
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(row[2] for row in raw.values()) or 1.0
    groups: Counter[str] = Counter()
    for (path, _line, name), (_cc, _nc, own, _cum, callers) in raw.items():
        if path != "~" or not callers or "sqlite3" in name:
            groups[_group(path, name)] += own
            continue
        # A builtin (len, str.encode) counts for the code calling it; SQLite's for itself.
        for (caller_path, _l, caller_name), timing in callers.items():
            groups[_group(caller_path, caller_name)] += timing[2]
    lines = [
        f"server CPU per request, profiled: {total * 1000 / requests:.2f} ms (cProfile's own "
        "cost is in it, more for code making many small calls: read shares, not times)",
        "",
        "where it goes, by library (a builtin counts for its caller's):",
    ]
    for group, own in groups.most_common():
        lines.append(f"  {own / total:6.1%}  {group}")
    lines += ["", f"the {n} functions with the most own CPU time:"]
    rows = sorted(raw.items(), key=lambda item: -item[1][2])
    for (path, line, name), (_cc, _nc, own, _cum, _callers) in rows[:n]:
        lines.append(f"  {own / total:6.1%}  {Path(path).name}:{line}({name})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=400, help="measured requests")
    parser.add_argument("--profile", type=int, default=0, help="print the top N own costs")
    args = parser.parse_args(argv)
    from fastapi.testclient import TestClient

    config = load_config(DEFAULT_CONFIG)
    rng = random.Random(1)
    pool = SlotPool(plan_slots(config, datetime.now(UTC), rng))
    secret = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="frontdesk-profile-") as workdir:
        components, app = _app(Path(workdir), secret)
        counts = Counts()
        profiles = ThreadProfiles()
        if args.profile:
            # No warm-up then: the threads must start with their profiler on.
            profiles.start()
        with TestClient(app) as client:
            if not args.profile:
                _send(client, secret, BodyMaker(config, pool, "p", "warm", 7), 20)
            counts.attach(components.db.engine)
            outcomes = _send(client, secret, BodyMaker(config, pool, "p", "run", 1), args.requests)
        stats = profiles.stop() if args.profile else None
        n = args.requests
        print(f"{n} intake requests: {dict(outcomes)}")
        total = sum(counts.statements.values())
        print(f"statements per request: {total / n:.2f}")
        for kind, count in counts.statements.most_common():
            print(f"  {kind:<32} {count / n:6.2f}")
        print(f"write transactions per request (BEGIN IMMEDIATE): {counts.writes / n:.2f}")
        print(f"read transactions per request: {counts.reads / n:.2f}")
        print(f"pool checkouts per request: {counts.checkouts / n:.2f}")
        if stats is not None:
            print()
            print(_summary(stats, args.profile, n))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
