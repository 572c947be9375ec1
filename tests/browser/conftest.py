"""Real-browser fixtures: Frontdesk served by uvicorn on a free local port, Playwright
driving Debian's Chromium, and a host page on another port (another origin) for embedding.

Without Chromium at /usr/bin/chromium (or without the `playwright` package) every browser
test is skipped with a message saying how to get it.
"""

from __future__ import annotations

import socket
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from bot.app import create_app
from bot.components import Components, build_components
from bot.config import parse_config
from storage.migrate import upgrade
from tests.conftest import EXAMPLE_CONFIG, FixedClock, make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NO_CHROMIUM = (
    f"Chromium not found at {CHROMIUM}: the browser tests need Debian's Chromium; install it "
    "with `sudo apt-get install -y chromium` (`.ci/run` does so when it is missing)"
)
# A Monday afternoon in New York: the week ahead has free slots for every rep.
NOW = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """The real app on uvicorn in a thread of this process."""

    def __init__(self, components: Components, port: int | None = None) -> None:
        self.components = components
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(components, recover_on_start=False),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class HostPage:
    """Another origin (another port) serving one page that embeds the booking page."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.html = ""
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = page.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HostPage:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def host_page() -> Iterator[HostPage]:
    with HostPage() as page:
        yield page


@pytest.fixture
def live(tmp_path: Path, host_page: HostPage) -> Iterator[LiveServer]:
    """Frontdesk in sandbox mode on the example config, embeddable from `host_page`."""
    url = f"sqlite:///{tmp_path / 'frontdesk.db'}"
    upgrade(url)
    data = tomllib.loads(EXAMPLE_CONFIG.read_text())
    data["booking_page"]["embed_origins"] = [host_page.url]
    components = build_components(make_settings(url), parse_config(data), clock=FixedClock(NOW))
    with LiveServer(components) as server:
        yield server
    components.db.dispose()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the `playwright` package is missing: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    """A fresh context whose clock and zone are New York's (tests open their own for other
    zones)."""
    context = chromium.new_context(timezone_id="America/New_York", locale="en-US")
    yield context
    context.close()
