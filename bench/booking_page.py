"""The client's booking page under load (SPEC §10, issue #13), against `/healthz` in the
same run.

Run it from the repository root:

    .venv/bin/python -m bench.booking_page
    .venv/bin/python -m bench.booking_page --seconds 10 --visitors 5

A team of 10 reps, each with 3 Google calendars, is read through the real `GoogleCalendar`
(google-api-python-client; each rep's refresh token stored encrypted in a SQLite file in a
temporary directory) from a minimal fake Google started here, in a process of its own: it
answers the token refresh at once and each `freeBusy.query` after 150 ms (`--delay-ms`),
and counts the calls. Frontdesk runs on uvicorn in another process with
`[booking_page] cache_seconds = 30`.

20 visitors (`--visitors`), each from its own local address (127.0.0.x, so the per-client
rate limits apply to each as they would to real people), load the team's page `GET /book`,
pause 0.5 s, fetch the next week with `GET /api/slots`, pause 0.5 s, and so on for 30 s
(`--seconds`); two more clients poll `GET /healthz` meanwhile. After one warm-up load
(which fills the cache), the script prints p50/p99 of each, their ratio to `/healthz`, the
freeBusy calls per minute and per rep and cache window, and what the page weighs over the
wire (HTML, CSS and JS as sent, gzip-compressed). Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import re
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench._machine import (
    OtherLoad,
    free_port,
    interrupt_on_sigterm,
    machine_summary,
    print_other_load,
)

REPS = 10
CALENDARS_PER_REP = 3
CACHE_SECONDS = 30
TARGET_P99_MS = 300
TARGET_PAGE_BYTES = 30 * 1024
SCOPES = (
    "https://www.googleapis.com/auth/calendar.freebusy",
    "https://www.googleapis.com/auth/calendar.events",
)
ZONES = ("America/New_York", "Europe/Berlin", "America/Phoenix", "America/Chicago")


# --------------------------------------------------------------------------- fake Google


def _busy_for(calendar: str, start: str, end: str) -> list[dict[str, str]]:
    """One hour busy every day on each calendar, at an hour of its own (UTC)."""
    first = datetime.fromisoformat(start.replace("Z", "+00:00")).date()
    last = datetime.fromisoformat(end.replace("Z", "+00:00")).date()
    hour = 12 + sum(map(ord, calendar)) % 9
    blocks = []
    day = first
    while day <= last:
        at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
        blocks.append(
            {
                "start": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "end": (at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        day += timedelta(days=1)
    return blocks


def run_fake_google(port: int, delay: float, ready: Any) -> None:
    """The fake's process: OAuth token refresh and freeBusy, and `GET /_stats`."""
    lock = threading.Lock()
    stats: dict[str, Any] = {"freeBusy": 0, "token": 0, "arrivals": []}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/token"):
                with lock:
                    stats["token"] += 1
                self._answer(
                    200,
                    {
                        "access_token": "ya29.bench",
                        "expires_in": 3600,
                        "scope": " ".join(SCOPES),
                        "token_type": "Bearer",
                    },
                )
            elif "freeBusy" in self.path:
                with lock:
                    stats["freeBusy"] += 1
                    stats["arrivals"].append(time.time())
                time.sleep(delay)  # the round trip to Google
                query = json.loads(body)
                calendars = {
                    item["id"]: {"busy": _busy_for(item["id"], query["timeMin"], query["timeMax"])}
                    for item in query["items"]
                }
                self._answer(
                    200,
                    {
                        "kind": "calendar#freeBusy",
                        "timeMin": query["timeMin"],
                        "timeMax": query["timeMax"],
                        "calendars": calendars,
                    },
                )
            else:
                self._answer(404, {"error": {"code": 404, "message": "not found"}})

        def do_GET(self) -> None:
            with lock:
                self._answer(200, dict(stats))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    ready.set()
    server.serve_forever()


# --------------------------------------------------------------------------- Frontdesk


def _config_text(host: str) -> str:
    lines = [
        'timezone = "America/New_York"',
        "[slack]",
        'escalation_channel = "C0ESCALATE"',
        "[booking]",
        "min_notice_minutes = 120",
        "buffer_minutes = 10",
        "horizon_days = 21",
        "[booking_page]",
        'title = "Book a call"',
        "durations = [30, 45]",
        f"cache_seconds = {CACHE_SECONDS}",
        f'embed_origins = ["{host}"]',
    ]
    for index in range(REPS):
        email = f"rep{index}@ourco.example"
        calendars = [email] + [f"room{index}-{n}@resource.calendar.google.com" for n in (1, 2)]
        lines += [
            "[[reps]]",
            f'email = "{email}"',
            f'timezone = "{ZONES[index % len(ZONES)]}"',
            'working_hours = { mon = "09:00-17:00", tue = "09:00-17:00", wed = "09:00-17:00", '
            'thu = "09:00-17:00", fri = "09:00-17:00" }',
            'provider = "google"',
            f'booking_calendar = "{email}"',
            f"calendars = {json.dumps(calendars[:CALENDARS_PER_REP])}",
        ]
    return "\n".join(lines) + "\n"


def run_frontdesk(port: int, google_url: str, workdir: str, ready: Any) -> None:
    """Frontdesk's process: the real app on uvicorn, reading the fake Google."""
    import logging

    import uvicorn
    from cryptography.fernet import Fernet

    from bot.app import create_app
    from bot.components import build_components
    from bot.config import parse_config
    from bot.settings import Settings
    from integrations.google_oauth import GOOGLE, REQUIRED_SCOPES
    from storage.crypto import TokenCipher
    from storage.migrate import upgrade
    from storage.repositories import ConnectionRepository

    logging.disable(logging.WARNING)
    url = f"sqlite:///{Path(workdir) / 'bench.db'}"
    upgrade(url)
    key = Fernet.generate_key().decode()
    settings = Settings(
        database_url=url,
        frontdesk_webhook_secret="bench-secret",
        frontdesk_encryption_key=key,
        google_client_id="bench-client",
        google_client_secret="bench-secret",
        google_api_url=google_url,
        google_token_url=google_url + "token",
        google_auth_url=google_url + "auth",
    )
    import tomllib

    config = parse_config(tomllib.loads(_config_text("http://127.0.0.1")))
    components = build_components(settings, config)
    connections = ConnectionRepository(components.db, TokenCipher(key))
    for rep in config.reps:
        connections.save_connected(
            rep.email, GOOGLE, refresh_token=f"1//bench-{rep.email}", scopes=list(REQUIRED_SCOPES)
        )
    app = create_app(components, recover_on_start=False)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )

    def started() -> None:
        _wait_started(server)
        ready.set()

    threading.Thread(target=started, daemon=True).start()
    server.run()


def _wait_started(server: Any) -> None:
    while not server.started:
        time.sleep(0.02)


# --------------------------------------------------------------------------- visitors


Timing = tuple[float, float]  # (wall-clock start, seconds taken)


def _ms(timings: list[Timing], q: float) -> float:
    ordered = sorted(seconds for _, seconds in timings)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _visitor(
    base: str,
    address: str,
    arrive: float,
    until: float,
    pause: float,
    times: dict[str, list[Timing]],
) -> None:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=base, transport=transport, timeout=30) as client:
        # Visitors arrive spread over one round of requests, not all in the same instant.
        await asyncio.sleep(arrive)
        week = 0
        while time.perf_counter() < until:
            wall, started = time.time(), time.perf_counter()
            response = await client.get("/book", params={"tz": "Europe/Berlin"})
            times["page" if response.status_code == 200 else "failed"].append(
                (wall, time.perf_counter() - started)
            )
            await asyncio.sleep(pause)
            week = (week + 1) % 3
            day = (datetime.now(UTC) + timedelta(days=7 * week)).date().isoformat()
            wall, started = time.time(), time.perf_counter()
            response = await client.get(
                "/api/slots", params={"from": day, "days": 7, "tz": "Asia/Kolkata"}
            )
            times["slots" if response.status_code == 200 else "failed"].append(
                (wall, time.perf_counter() - started)
            )
            await asyncio.sleep(pause)


async def _health(base: str, until: float, pause: float, times: dict[str, list[Timing]]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.perf_counter() < until:
            wall, started = time.time(), time.perf_counter()
            response = await client.get("/healthz")
            times["healthz" if response.status_code == 200 else "failed"].append(
                (wall, time.perf_counter() - started)
            )
            await asyncio.sleep(pause)


async def _load(base: str, visitors: int, seconds: float, pause: float) -> dict[str, list[Timing]]:
    times: dict[str, list[Timing]] = {"page": [], "slots": [], "healthz": [], "failed": []}
    until = time.perf_counter() + seconds
    spread = 2 * pause / max(visitors, 1)
    tasks = [
        _visitor(base, f"127.0.0.{10 + i}", i * spread, until, pause, times)
        for i in range(visitors)
    ]
    tasks += [_health(base, until, pause / 2, times) for _ in range(2)]
    await asyncio.gather(*tasks)
    return times


def _page_weight(base: str) -> tuple[int, int, int]:
    """HTML, CSS and JS of /book as sent to a browser that accepts gzip (body bytes)."""
    with httpx.Client(base_url=base, headers={"Accept-Encoding": "gzip"}) as client:

        def sent(path: str) -> tuple[int, str]:
            with client.stream("GET", path) as response:
                raw = b"".join(response.iter_raw())
                encoded = response.headers.get("content-encoding") == "gzip"
            return len(raw), (gzip.decompress(raw) if encoded else raw).decode()

        html_bytes, html = sent("/book")
        css = js = 0
        for link in re.findall(r'(?:href|src)="(/book/static/[^"]+)"', html):
            size, _ = sent(link)
            if ".css" in link:
                css += size
            else:
                js += size
    return html_bytes, css, js


def _stats(google_url: str) -> dict[str, Any]:
    return dict(httpx.get(google_url + "_stats").json())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=150.0)
    parser.add_argument("--pause", type=float, default=0.5, help="each visitor's think time")
    parser.add_argument("--show-slowest", type=int, default=0, help="list the slowest pages")
    args = parser.parse_args()
    interrupt_on_sigterm()

    spawn = multiprocessing.get_context("spawn")
    google_port, app_port = free_port("127.0.0.1"), free_port("127.0.0.1")
    google_url = f"http://127.0.0.1:{google_port}/"
    base = f"http://127.0.0.1:{app_port}"
    google_ready, app_ready = spawn.Event(), spawn.Event()
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-page-") as workdir:
        fake = spawn.Process(
            target=run_fake_google, args=(google_port, args.delay_ms / 1000, google_ready)
        )
        fake.start()
        google_ready.wait(10)
        app = spawn.Process(target=run_frontdesk, args=(app_port, google_url, workdir, app_ready))
        app.start()
        try:
            if not app_ready.wait(60):
                print("Frontdesk did not start", file=sys.stderr)
                return 1
            cold_started = time.perf_counter()
            warm_up = httpx.get(base + "/book", timeout=60)
            cold = time.perf_counter() - cold_started
            if warm_up.status_code != 200 or "slot-" not in warm_up.text:
                print(f"the warm-up page failed: {warm_up.status_code}", file=sys.stderr)
                return 1
            before = _stats(google_url)
            before_wall = time.time()
            load = OtherLoad.start()
            run_started = time.perf_counter()
            times = asyncio.run(_load(base, args.visitors, args.seconds, args.pause))
            elapsed = time.perf_counter() - run_started
            after = _stats(google_url)
            html_bytes, css_bytes, js_bytes = _page_weight(base)
        finally:
            app.terminate()
            fake.terminate()
            app.join(10)
            fake.join(10)

    calls = after["freeBusy"] - before["freeBusy"]
    windows = elapsed / CACHE_SECONDS
    health_p50, health_p99 = _ms(times["healthz"], 0.5), _ms(times["healthz"], 0.99)
    print(
        f"Booking page: {REPS} reps x {CALENDARS_PER_REP} calendars on a fake Google answering "
        f"freeBusy after {args.delay_ms:.0f} ms; {args.visitors} visitors for {elapsed:.0f} s "
        f"(think time {args.pause} s), cache {CACHE_SECONDS} s; {machine_summary()}"
    )
    print(f"Cold first load of /book (10 freeBusy reads at once): {cold * 1000:.0f} ms")
    print(
        f"{'endpoint':<14}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'p50/healthz':>13}"
        f"{'p99/healthz':>13}"
    )
    for name, label in (
        ("page", "GET /book"),
        ("slots", "GET /api/slots"),
        ("healthz", "GET /healthz"),
    ):
        p50, p99 = _ms(times[name], 0.5), _ms(times[name], 0.99)
        print(
            f"{label:<14}{len(times[name]):>9}{p50:>9.1f}{p99:>9.1f}"
            f"{p50 / health_p50:>13.1f}{p99 / health_p99:>13.1f}"
        )
    if times["failed"]:
        print(f"FAILED requests (non-200): {len(times['failed'])}")
    print(
        f"freeBusy calls: {calls} in {elapsed:.0f} s = {calls / elapsed * 60:.1f}/min; "
        f"{calls / REPS / max(windows, 1e-9):.2f} rounds of {REPS} reps per {CACHE_SECONDS}-s "
        f"cache window (target <= 1, +1 for a window the run only touches)"
    )
    total = html_bytes + css_bytes + js_bytes
    print(
        f"Page weight over the wire (gzip): HTML {html_bytes} B + CSS {css_bytes} B + "
        f"JS {js_bytes} B = {total / 1024:.1f} KB (target < {TARGET_PAGE_BYTES // 1024} KB)"
    )
    # A request that was under way while a freeBusy round was out waited for it (the cache
    # had expired); the others were served from a warm cache.
    rounds = [a for a in after["arrivals"] if a >= before_wall]
    delay = args.delay_ms / 1000

    def during_refresh(timing: Timing) -> bool:
        start, seconds = timing
        return any(start <= a + delay and a <= start + seconds for a in rounds)

    warm = [t for t in times["page"] if not during_refresh(t)]
    waited = [t for t in times["page"] if during_refresh(t)]
    print(
        f"GET /book with a warm cache: {len(warm)} requests, p50 {_ms(warm, 0.5):.1f} ms, "
        f"p99 {_ms(warm, 0.99):.1f} ms; during a freeBusy round (cache expired): "
        f"{len(waited)} requests, p99 {_ms(waited, 0.99):.1f} ms"
    )
    if args.show_slowest:
        for start, seconds in sorted(times["page"], key=lambda t: -t[1])[: args.show_slowest]:
            print(f"  slow: at +{start - before_wall:.2f} s took {seconds * 1000:.0f} ms")
    page_p99 = _ms(warm, 0.99)
    verdict = "met" if page_p99 < TARGET_P99_MS else "MISSED"
    print(f"Target p99 < {TARGET_P99_MS} ms for the page with a warm cache: {verdict}")
    print_other_load(load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
