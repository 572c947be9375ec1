"""What one intake request costs inside the server: statements, transactions, profile.

Run it from the repository root:

    .venv/bin/python -m bench.intake_profile                 # 400 requests, SQLite
    .venv/bin/python -m bench.intake_profile --profile 15    # and the top 15 costs

It builds the real app (sandbox integrations, a fresh SQLite file) in this process and
sends the intake benchmark's request mix (``bench.intake``'s bodies, signed) through
Starlette's test client, one at a time. SQLAlchemy's event hooks count, per request, the
statements by kind, the write transactions (``BEGIN IMMEDIATE``), the read connections
and the pool checkouts. With ``--profile N`` cProfile runs over the same requests and the
N functions with the most own time are printed with their share of the total. No timing
here is a target: ``bench.intake`` measures throughput and latency against ``/healthz``.
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


def _top(profiler: cProfile.Profile, n: int) -> str:
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])  # type: ignore[attr-defined]
    lines = [f"{'own time':>9}  {'share':>6}  function"]
    for (path, line, name), (_cc, _nc, own, _cum, _callers) in rows[:n]:
        where = f"{Path(path).name}:{line}({name})"
        lines.append(f"{own:8.3f}s  {own / total:6.1%}  {where}")
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
        with TestClient(app) as client:
            _send(client, secret, BodyMaker(config, pool, "p", "warm", 7), 20)
            counts.attach(components.db.engine)
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            outcomes = _send(client, secret, BodyMaker(config, pool, "p", "run", 1), args.requests)
            if profiler is not None:
                profiler.disable()
        n = args.requests
        print(f"{n} intake requests: {dict(outcomes)}")
        total = sum(counts.statements.values())
        print(f"statements per request: {total / n:.2f}")
        for kind, count in counts.statements.most_common():
            print(f"  {kind:<32} {count / n:6.2f}")
        print(f"write transactions per request (BEGIN IMMEDIATE): {counts.writes / n:.2f}")
        print(f"read transactions per request: {counts.reads / n:.2f}")
        print(f"pool checkouts per request: {counts.checkouts / n:.2f}")
        if profiler is not None:
            print()
            print(_top(profiler, args.profile))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
