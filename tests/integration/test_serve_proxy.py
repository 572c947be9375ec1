"""`frontdesk serve` behind a reverse proxy: with --forwarded-allow-ips naming the proxy,
X-Forwarded-Proto and X-Forwarded-For are taken as the client's; from anyone else they are
ignored. Seen in the absolute URL of a redirect (the trailing-slash one), which is built
from the scheme the app believes the client used.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLE_CONFIG, ROOT
from tests.integration.test_reminder_processes import free_port

START_TIMEOUT_S = 20.0


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., str]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> str:
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "DATABASE_URL": f"sqlite:///{tmp_path / f'proxy-{port}.db'}",
            "FRONTDESK_WEBHOOK_SECRET": "proxy-test-secret",
            "FRONTDESK_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "bot.cli", "serve", "--config", str(EXAMPLE_CONFIG)]
        command += ["--port", str(port), "--no-scheduler", *options]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"serve did not answer /healthz: {stderr[-2000:]}")
            time.sleep(0.05)

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "Host": "fd.example"}


def redirect_location(base: str) -> str:
    response = httpx.get(base + "/healthz/", headers=FORWARDED, follow_redirects=False)
    assert response.status_code == 307, response.text
    return response.headers["location"]


def test_headers_from_a_trusted_proxy_are_believed(serve: Callable[..., str]) -> None:
    base = serve("--forwarded-allow-ips", "127.0.0.1/32,10.0.0.0/8")
    assert redirect_location(base) == "https://fd.example/healthz"


def test_headers_from_others_or_with_proxy_headers_off_are_not(serve: Callable[..., str]) -> None:
    untrusted = serve("--forwarded-allow-ips", "10.9.9.9")
    assert redirect_location(untrusted) == "http://fd.example/healthz"
    off = serve("--no-proxy-headers", "--forwarded-allow-ips", "*")
    assert redirect_location(off) == "http://fd.example/healthz"
