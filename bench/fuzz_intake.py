"""Longer fuzz runs of the intake webhook (issue: hardening): signed hostile bodies from
the seeded generator the suite uses (tests/fuzz_bodies.py), against the real app on a fresh
SQLite database and a fresh PostgreSQL schema; exits non-zero on any 5xx.

    .venv/bin/python -m bench.fuzz_intake                       # 20,000 bodies per database
    .venv/bin/python -m bench.fuzz_intake --bodies 5000 --seed 3 --database postgres

Prints, per database: bodies sent, answers by status, bodies per second (the same run's
`GET /healthz` rate is the baseline), and every body that got a 5xx (the first 200 bytes,
and the seed and serial that replay it).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from bench._databases import add_database_option, database_kinds, reachable, scratch_database
from bot.app import create_app
from bot.components import build_components
from bot.config import load_config
from bot.domain.signing import signed_headers
from bot.settings import Settings
from storage.db import Database
from storage.migrate import upgrade
from testkit.fuzz_bodies import bodies

ROOT = Path(__file__).resolve().parent.parent

SECRET = "fuzz-webhook-secret"
# The generator's valid request asks for 2026-12-01; the app's clock stands before it.
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
BASELINE_REQUESTS = 500


def run(kind: str, url: str, count: int, seed: int) -> int:
    upgrade(url)
    db = Database(url)
    settings = Settings(database_url=url, frontdesk_webhook_secret=SECRET)
    config = load_config(ROOT / "examples" / "frontdesk.toml")
    components = build_components(settings, config, db=db, clock=lambda: NOW)
    client = TestClient(
        create_app(components, recover_on_start=False), raise_server_exceptions=False
    )
    started = time.perf_counter()
    for _ in range(BASELINE_REQUESTS):
        client.get("/healthz")
    baseline = BASELINE_REQUESTS / (time.perf_counter() - started)

    statuses: Counter[int] = Counter()
    failures = []
    started = time.perf_counter()
    for serial, fuzz in enumerate(bodies(count, seed)):
        headers = {**signed_headers(SECRET, fuzz.body), "Content-Type": fuzz.content_type}
        response = client.post("/webhooks/booking", content=fuzz.body, headers=headers)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append((serial, response.status_code, fuzz.body[:200]))
    rate = count / (time.perf_counter() - started)
    db.dispose()

    print(f"\n{kind}: {count} bodies, seed {seed}")
    print(f"  statuses: {dict(sorted(statuses.items()))}")
    print(f"  {rate:,.0f} bodies/s (baseline GET /healthz: {baseline:,.0f}/s)")
    for serial, status, body in failures:
        print(f"  5xx {status}: serial {serial} (seed {seed}): {body!r}")
    return len(failures)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bodies", type=int, default=20_000, help="per database")
    parser.add_argument("--seed", type=int, default=1)
    add_database_option(parser)
    args = parser.parse_args()
    # Replays of a reused submission_id warn once each; only errors matter here.
    logging.basicConfig(level=logging.ERROR)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="fuzz-intake-") as workdir:
        for kind in reachable(database_kinds(args.database)):
            with scratch_database(kind, Path(workdir), "fuzz") as url:
                failed += run(kind, url, args.bodies, args.seed)
    print(f"\n{'FAIL' if failed else 'ok'}: {failed} bodies got a 5xx")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
