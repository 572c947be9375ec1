"""What every benchmark here reads off the machine: busy CPU across all cores (to warn when
something else was running) and a free local port for a server under test.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores have spent busy since boot (Linux /proc/stat), else None.

    Time stolen by the hypervisor is not counted: nothing in this machine used it.
    """
    try:
        ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = sum(ticks[3:5])  # idle + iowait
    return (sum(ticks[:7]) - idle) / os.sysconf("SC_CLK_TCK")


def free_port(host: str) -> int:
    """A port nothing listens on right now."""
    with socket.create_server((host, 0)) as listener:
        return int(listener.getsockname()[1])
