"""One node as the supervisor sees it, and what a node process runs."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.connection.preflight import check_broker
from engine.errors import ConfigError, PluginError, RoutingError
from engine.swarm.reporter import NodeReporter

if TYPE_CHECKING:
    from engine.app import App
    from engine.routing.selection import Selection

log = logging.getLogger("engine.swarm")
BAD_SETUP = 78  # EX_CONFIG: the node cannot run as configured; restarting would not help
HEALTHY_UPTIME = 60.0  # seconds up after which a node's failure count starts again


@dataclass
class Node:
    """A node slot: its process (while one runs), its reports and its restart back-off."""

    index: int
    pid: int | None = None
    reader: int | None = None
    started_at: float = 0.0
    last_report: float = 0.0
    age: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    killed_for: str | None = None
    buffer: bytes = b""

    @property
    def alive(self) -> bool:
        """Whether a process runs in this slot."""
        return self.pid is not None

    def started(self, pid: int, reader: int) -> None:
        """A process runs in the slot now."""
        now = time.monotonic()
        self.pid, self.reader, self.started_at, self.last_report = pid, reader, now, now
        self.age, self.killed_for, self.restart_at, self.buffer = 0.0, None, None, b""

    def read_reports(self) -> None:
        """Take every report waiting on the pipe; the last one counts."""
        assert self.reader is not None
        try:
            data = os.read(self.reader, 4096)
        except BlockingIOError:
            return
        lines = (self.buffer + data).split(b"\n")
        self.buffer = lines.pop()
        if lines:
            self.last_report = time.monotonic()
            self.age = float(lines[-1] or 0)

    def exited(self) -> None:
        """The process is gone; the slot keeps its failure count."""
        if self.reader is not None:
            os.close(self.reader)
        self.pid = self.reader = None
        if time.monotonic() - self.started_at > HEALTHY_UPTIME:
            self.failures = 0

    def overdue(self, timeout: float) -> str | None:
        """Why the node must be killed (silent or stuck past ``timeout``), or None."""
        silent = time.monotonic() - self.last_report
        if silent > timeout:
            return f"no report for {silent:.1f} s"
        if self.age > timeout:
            return f"a listener made no progress for {self.age:.1f} s"
        return None


def run_node(app: App, selection: Selection | None, writer: int, supervisor: int) -> int:
    """A node's life: report to the supervisor, check the broker, run as ``engine server``.

    The exit code: 0 after a graceful stop, ``BAD_SETUP`` when the app cannot run as
    configured (no restart would help); process mode itself exits 2 when forced.
    """
    try:
        NodeReporter(app, writer, supervisor).start()
        check_broker(dict(app.settings.kafka))
        app.run(selection)
    except (ConfigError, RoutingError, PluginError):
        log.exception("node %d cannot run", os.getpid())
        return BAD_SETUP
    return 0
