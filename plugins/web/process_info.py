"""This process as a dashboard shows it: id, host, pid, memory, CPU, threads, versions."""

from __future__ import annotations

import os
import platform
import resource
import socket
import sys
import threading
import time
import uuid
from importlib import metadata
from typing import Any


def process_id() -> str:
    """``host:pid:random``: unique across machines, restarts and apps of one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def versions() -> dict[str, str]:
    """Python, the engine, confluent-kafka and librdkafka versions."""
    found = {"python": platform.python_version()}
    for name in ("engine", "confluent-kafka"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    try:
        import confluent_kafka

        found["librdkafka"] = str(confluent_kafka.libversion()[0])
    except ImportError:
        found["librdkafka"] = "unknown"
    return found


def rss_bytes() -> int:
    """Resident memory now (``/proc``), else the peak ``getrusage`` gives."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # Linux counts KiB


class CpuMeter:
    """CPU use as a percentage of one core between two readings."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.monotonic(), time.process_time()

    def percent(self) -> float:
        """Since the previous reading (or creation)."""
        wall, cpu = time.monotonic(), time.process_time()
        spent, elapsed = cpu - self._cpu, wall - self._wall
        self._wall, self._cpu = wall, cpu
        return round(100.0 * spent / elapsed, 1) if elapsed > 0 else 0.0


def snapshot(cpu: CpuMeter) -> dict[str, Any]:
    """What changes between reports: memory, CPU and threads."""
    return {"rss": rss_bytes(), "cpu": cpu.percent(), "threads": threading.active_count()}
