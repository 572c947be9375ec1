"""The image builds and its container answers /healthz, as an unprivileged user, with the
health check Docker runs reporting healthy.

Needs a Docker engine: where there is none (CI, a machine with only the client) the test
is skipped and says why. Nothing else in the suite depends on Docker.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ROOT

BUILD_TIMEOUT_S = 900
HEALTHY_TIMEOUT_S = 90


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def docker_problem() -> str | None:
    """Why no image can be built here, or None."""
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    except subprocess.TimeoutExpired:
        return "the Docker engine did not answer `docker info` within 20 s"
    said = (info.stderr or "").strip().splitlines()
    if info.returncode != 0 or not info.stdout.strip() or said:
        return f"no Docker engine: {said[-1] if said else 'docker info failed'}"
    return None


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    problem = docker_problem()
    if problem:
        print(f"\nSKIPPING the Docker image test: {problem}")
        pytest.skip(problem)
    tag = f"frontdesk-test:{uuid.uuid4().hex[:8]}"
    built = docker("build", "--tag", tag, str(ROOT), timeout=BUILD_TIMEOUT_S)
    assert built.returncode == 0, built.stderr[-3000:]
    try:
        yield tag
    finally:
        docker("rmi", "--force", tag)


def test_the_container_answers_healthz_and_reports_healthy(image: str) -> None:
    started = docker(
        "run",
        "--detach",
        "--env",
        "FRONTDESK_WEBHOOK_SECRET=image-test-secret",
        "--publish",
        "127.0.0.1::3000",
        image,
    )
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    try:
        address = docker("port", container, "3000/tcp").stdout.strip().splitlines()[0]
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        health = ""
        answer: httpx.Response | None = None
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://{address}/healthz", timeout=2)
            except httpx.HTTPError:
                answer = None
            inspect = docker("inspect", "--format", "{{.State.Health.Status}}", container)
            health = inspect.stdout.strip()
            if answer is not None and answer.status_code == 200 and health == "healthy":
                break
            time.sleep(1)
        logs = docker("logs", container).stderr[-3000:]
        assert answer is not None and answer.json() == {"status": "ok"}, logs
        assert health == "healthy", logs
        user = docker("exec", container, "id", "-u").stdout.strip()
        assert user not in ("", "0"), "the container runs as root"
    finally:
        docker("rm", "--force", container)
