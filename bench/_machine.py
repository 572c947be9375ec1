"""What every benchmark here reads off the machine: busy CPU across all cores (to warn when
something else was running), the cores and Python a caveat names, a free local port for a
server under test; and SIGTERM turned into an interrupt, so that a run stopped that way still
cleans up (servers stopped, scratch schemas dropped) on its way out.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

# Cores kept busy by other processes, on average, above which the times count as disturbed.
OTHER_CPU_WARNING = 0.3
OTHER_LOAD = "Other processes kept {share:.0%} of a core busy meanwhile"
POSTGRES_INCLUDED = " (PostgreSQL's own work included)."
NOT_QUIET = "WARNING: the machine was not quiet; the times are disturbed, rerun on a quiet one."


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


def cpu_seconds() -> float:
    """CPU used by this process and by its children that have ended (a fake server in its
    own process, a CLI run in a subprocess)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def usable_cores() -> int:
    """Cores this process may run on (its affinity), else all of them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_summary() -> str:
    """How a caveat names the machine: `2 logical cores (2 usable), Python 3.11.7`."""
    cores = os.cpu_count() or 1
    return f"{cores} logical cores ({usable_cores()} usable), Python {sys.version.split()[0]}"


@dataclass(frozen=True)
class OtherLoad:
    """What the rest of the machine kept busy during a run: taken when the run starts, read
    when it ends. Everything but this process and its ended children counts, so a
    PostgreSQL on the same machine does too."""

    began: float
    machine: float | None
    own: float

    @classmethod
    def start(cls) -> OtherLoad:
        machine, own = machine_busy_seconds(), cpu_seconds()
        return cls(time.perf_counter(), machine, own)

    def cores(self) -> float | None:
        """Cores kept busy by other processes since `start`, on average; None when the
        machine's CPU time cannot be read."""
        wall = time.perf_counter() - self.began
        machine = machine_busy_seconds()
        if self.machine is None or machine is None or wall <= 0:
            return None
        return max(0.0, (machine - self.machine - (cpu_seconds() - self.own)) / wall)


def print_other_load(load: OtherLoad, *, postgres: bool = False) -> None:
    """The caveat's line on other processes, and a warning when they disturbed the run.

    With PostgreSQL on the machine its work is counted as other but is the run's own, so
    the line says so and no warning is given.
    """
    share = load.cores()
    if share is None:
        return
    print(OTHER_LOAD.format(share=share) + (POSTGRES_INCLUDED if postgres else "."))
    if share > OTHER_CPU_WARNING and not postgres:
        print(NOT_QUIET)


def _raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def interrupt_on_sigterm() -> None:
    """Make SIGTERM raise KeyboardInterrupt, as Ctrl-C does, so `finally` blocks run."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)


def free_port(host: str) -> int:
    """A port nothing listens on right now."""
    with socket.create_server((host, 0)) as listener:
        return int(listener.getsockname()[1])
