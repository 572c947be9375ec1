"""Cold start of the AWS Lambda HTTP handler against `frontdesk serve`'s start-up, in the
same run, on PostgreSQL (the database a Lambda deployment uses).

Run it from the repository root:

    .venv/bin/python -m bench.lambda_cold_start            # 5 runs of each
    .venv/bin/python -m bench.lambda_cold_start --runs 9

What it does, for each run, on a fresh schema migrated beforehand (the deploy step):

* Lambda (the cold-start proxy): a fresh interpreter, `python -c` that imports
  `bot.lambda_handler` and hands `http_handler` one signed booking request, shaped as API
  Gateway's HTTP API (payload 2.0) sends it (tests/fixtures/lambda/), with
  `AWS_LAMBDA_FUNCTION_NAME` set, every service in sandbox mode. Timed from the moment
  the process is started to the moment the booking is answered (its status printed), and,
  inside the interpreter, the import alone and the first request alone; then a second
  booking on the now warm environment.
* serve (the baseline): `frontdesk serve --no-scheduler` on its own schema, timed from the
  moment the process is started to its first `GET /healthz` 200 (polled every 10 ms), then
  one booking over HTTP.

It prints every run, the medians, the ratio of the Lambda cold start to serve's start-up,
and the verdict against the target: the first booking answered < 1.5 s after the
interpreter starts. For reference, each run also times a fresh interpreter importing
only FastAPI, SQLAlchemy's ORM and SQLModel: the floor no Frontdesk change can go under.
Only 127.0.0.1 is contacted; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._databases import postgres_problem, scratch_databases
from bench._machine import free_port, interrupt_on_sigterm, machine_summary
from bot.domain.signing import signed_headers
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]

CONFIG = ROOT / "examples" / "frontdesk.toml"
EVENT = ROOT / "tests" / "fixtures" / "lambda" / "api_gateway_http_v2.json"
TARGET_S = 1.5
START_TIMEOUT_S = 60.0

# Runs in the fresh interpreter: the event arrives on stdin, the figures leave on stdout.
CHILD = """
import json, sys, time
started = time.perf_counter()
events = json.load(sys.stdin)
from bot.lambda_handler import http_handler
imported = time.perf_counter()

class Context:
    function_name = "frontdesk-bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:frontdesk-bench"
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self):
        return 30000

first = http_handler(events[0], Context())
answered = time.perf_counter()
status = json.loads(first["body"]).get("status")
print(json.dumps({"status": status, "code": first["statusCode"]}), flush=True)
second = http_handler(events[1], Context())
warm = time.perf_counter()
print(json.dumps({
    "import_s": imported - started,
    "first_request_s": answered - imported,
    "warm_request_s": warm - answered,
    "warm_status": json.loads(second["body"]).get("status"),
}), flush=True)
"""


@dataclass
class LambdaRun:
    to_first_booking_s: float
    import_s: float
    first_request_s: float
    warm_request_s: float
    statuses: tuple[str, str]


@dataclass
class ServeRun:
    to_healthz_s: float
    booking_s: float
    status: str


def booking(run: int, index: int) -> bytes:
    """A request the sandbox books: a free weekday slot of a configured rep, unique."""
    day = datetime.now(UTC).date() + timedelta(days=7 + 7 * index + run % 5)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    payload = {
        "name": "Bench Client",
        "email": f"bench{run}.{index}@example.com",
        "company": "Bench",
        "timezone": "America/New_York",
        "requested_start": f"{day.isoformat()}T11:00:00-05:00",
        "duration_minutes": 30,
        "rep": "alice@ourco.example",
        "submission_id": f"bench-{secrets.token_hex(6)}",
    }
    return json.dumps(payload).encode()


def api_gateway_event(body: bytes, secret: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT.read_text())
    headers = {**signed_headers(secret, body), "Content-Type": "application/json"}
    event["headers"].update({name.lower(): value for name, value in headers.items()})
    event["headers"]["content-length"] = str(len(body))
    event["body"] = body.decode()
    return event


def environment(database_url: str, secret: str, workdir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "DATABASE_URL": database_url,
        "FRONTDESK_CONFIG": str(CONFIG),
        "FRONTDESK_WEBHOOK_SECRET": secret,
        "FRONTDESK_LOG_LEVEL": "WARNING",
    }


def lambda_run(run: int, database_url: str, secret: str, workdir: Path) -> LambdaRun:
    events = [api_gateway_event(booking(run, i), secret) for i in range(2)]
    env = environment(database_url, secret, workdir) | {
        "AWS_LAMBDA_FUNCTION_NAME": "frontdesk-bench"
    }
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps(events))
    child.stdin.close()
    first_line = child.stdout.readline()
    answered = time.perf_counter() - started
    rest = child.stdout.read()
    stderr = child.stderr.read() if child.stderr else ""
    if child.wait(timeout=START_TIMEOUT_S) != 0 or not first_line:
        raise SystemExit(f"the Lambda handler failed:\n{stderr[-3000:]}")
    first = json.loads(first_line)
    figures = json.loads(rest)
    return LambdaRun(
        answered,
        figures["import_s"],
        figures["first_request_s"],
        figures["warm_request_s"],
        (first["status"], figures["warm_status"]),
    )


def serve_run(run: int, database_url: str, secret: str, workdir: Path) -> ServeRun:
    port = free_port("127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "bot.cli", "serve", "--config", str(CONFIG)]
    command += ["--port", str(port), "--no-scheduler"]
    started = time.perf_counter()
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment(database_url, secret, workdir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(timeout=5) as client:
            while True:
                try:
                    if client.get(base + "/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.perf_counter() - started > START_TIMEOUT_S:
                    stderr = server.stderr.read() if server.stderr else b""
                    raise SystemExit(f"serve did not start:\n{stderr.decode()[-3000:]}")
                time.sleep(0.01)
            up = time.perf_counter() - started
            body = booking(run, 0)
            headers = {**signed_headers(secret, body), "Content-Type": "application/json"}
            before = time.perf_counter()
            answer = client.post(base + "/webhooks/booking", content=body, headers=headers)
            booked = time.perf_counter() - before
        return ServeRun(up, booked, str(answer.json().get("status")))
    finally:
        server.terminate()
        server.wait(timeout=15)


def framework_floor() -> float:
    """Seconds a fresh interpreter spends importing the frameworks every request needs."""
    code = (
        "import time; t = time.perf_counter(); import fastapi, sqlalchemy.orm, sqlmodel; "
        "print(time.perf_counter() - t)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return float(done.stdout)


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    args = parser.parse_args()
    interrupt_on_sigterm()
    problem = postgres_problem()
    if problem:
        raise SystemExit(f"PostgreSQL is needed (Lambda refuses SQLite): {problem}")
    print(machine_summary())
    secret = secrets.token_hex(16)
    names = [f"{kind}{i}" for i in range(args.runs) for kind in ("lambda", "serve")]
    lambdas: list[LambdaRun] = []
    floors: list[float] = []
    serves: list[ServeRun] = []
    with (
        tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp,
        scratch_databases("postgres", Path(tmp), names) as urls,
    ):
        for url in urls:
            upgrade(url)
        for run in range(args.runs):
            # Alternate, so a machine busy for a while weighs on both alike.
            cold = lambda_run(run, urls[2 * run], secret, Path(tmp))
            base = serve_run(run, urls[2 * run + 1], secret, Path(tmp))
            lambdas.append(cold)
            serves.append(base)
            floors.append(framework_floor())
            print(
                f"run {run + 1}: lambda cold {cold.to_first_booking_s:.3f} s to the first "
                f"booking (import {cold.import_s:.3f} s, first request "
                f"{cold.first_request_s:.3f} s, warm {cold.warm_request_s * 1000:.0f} ms, "
                f"{'/'.join(cold.statuses)}) | serve {base.to_healthz_s:.3f} s to /healthz, "
                f"booking {base.booking_s * 1000:.0f} ms ({base.status})"
            )
    cold_s = median([r.to_first_booking_s for r in lambdas])
    serve_s = median([r.to_healthz_s for r in serves])
    print()
    print(f"medians over {args.runs} runs (PostgreSQL, every service in sandbox mode):")
    print(f"  lambda: process start -> first booking answered  {cold_s:.3f} s")
    print(
        f"          of which import of bot.lambda_handler    "
        f"{median([r.import_s for r in lambdas]):.3f} s"
    )
    print(
        f"          (FastAPI + SQLAlchemy ORM + SQLModel alone  {median(floors):.3f} s: "
        "the frameworks' floor)"
    )
    print(
        f"          of which the first request (app build)   "
        f"{median([r.first_request_s for r in lambdas]):.3f} s"
    )
    print(
        f"          a warm request afterwards                "
        f"{median([r.warm_request_s for r in lambdas]) * 1000:.0f} ms"
    )
    print(f"  serve:  process start -> first /healthz 200      {serve_s:.3f} s")
    print(
        f"          a booking afterwards                     "
        f"{median([r.booking_s for r in serves]) * 1000:.0f} ms"
    )
    print(f"  ratio lambda cold start / serve start-up: {cold_s / serve_s:.2f}")
    verdict = "MET" if cold_s < TARGET_S else "MISSED"
    print(f"  target first booking < {TARGET_S} s after a cold start: {verdict}")


if __name__ == "__main__":
    main()
