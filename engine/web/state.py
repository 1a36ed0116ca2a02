"""What the dashboard knows: the last report of every process and the latest errors.

Built only from the records of ``engine_reports`` and ``engine_errors`` (``apply``); the views
(``overview``, ``processes``, ``groups``, ``jobs``, ``errors``) are plain data for templates.
Thread-safe: the feed's consumer applies records while the web server reads.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from engine.web.history import BUCKET, History, polyline
from engine.web.shapes import readable

SILENT_AFTER = 3
"""Reports missed (``interval`` each) before a process shows as silent."""

COUNTERS = ("messages", "batches", "errors", "retries", "dead_letters", "rebalances")
"""The totals the overview adds up over processes."""


class State:
    """The materialised reports: one entry per process, and a window of errors.

    A process last heard of more than ``forget_after`` seconds ago is left out of every view;
    the newest ``max_errors`` errors are kept.
    """

    def __init__(self, *, max_errors: int = 500, forget_after: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._forget_after = forget_after
        self._processes: dict[str, dict[str, Any]] = {}
        self._errors: deque[dict[str, Any]] = deque(maxlen=max_errors)
        self._numbers = itertools.count(1)
        self._history = History()
        self._forgotten_at = float("-inf")
        self.unreadable = 0

    def apply(self, record: dict[str, Any]) -> None:
        """Take in one decoded record (a report or an error); others are counted as unreadable.

        So is a report or error whose fields the pages cannot read (``engine.web.shapes``).
        """
        kind = record.get("kind") if readable(record) else None
        with self._lock:
            if kind == "report":
                process = str(record["process"].get("id"))
                self._processes[process] = record
                self._history.add(process, float(record["process"]["reported_at"]),
                                  record.get("counters") or {}, _lag(record))
                self._forget(self._clock(), every=BUCKET)  # bounded with no page asked
            elif kind == "error":
                self._errors.appendleft({**record, "number": next(self._numbers)})
            else:  # of another kind, or a shape the pages could not show
                self.unreadable += 1

    def _forget(self, now: float, every: float = 0.0) -> None:
        """Drop the processes silent for ``forget_after`` and the history past its window.

        At most once per ``every`` seconds; the caller holds the lock.
        """
        if now - self._forgotten_at < every:
            return
        self._forgotten_at = now
        for process, report in list(self._processes.items()):
            if now - float(report["process"].get("reported_at") or 0) > self._forget_after:
                del self._processes[process]
                self._history.forget(process)
        self._history.prune(now)

    def count_unreadable(self) -> None:
        """A record that could not be decoded."""
        with self._lock:
            self.unreadable += 1

    # -- views ---------------------------------------------------------------------------------

    def reports(self) -> list[dict[str, Any]]:
        """The last report of each process still remembered, by host and pid.

        A process forgotten (silent for ``forget_after`` seconds) is dropped here for good.
        """
        now = self._clock()
        with self._lock:
            self._forget(now)
            kept = list(self._processes.values())
        return sorted(kept, key=lambda r: (str(r["process"].get("host")),
                                           int(r["process"].get("pid") or 0)))

    def processes(self) -> list[dict[str, Any]]:
        """One row per process: host, pid, state (``silent`` when reports stopped), figures."""
        now = self._clock()
        rows = []
        for report in self.reports():
            process = dict(report["process"])
            age = now - float(process.get("reported_at", now))
            interval = float(process.get("interval") or 5.0)
            process["silent"] = age > SILENT_AFTER * interval + 1
            process["report_age"] = round(max(0.0, age), 1)
            process["counters"] = report.get("counters", {})
            process["statistics"] = report.get("statistics", {})
            process["listeners"] = report.get("listeners", [])
            rows.append(process)
        return rows

    def overview(self) -> dict[str, Any]:
        """Totals over the processes that still report, and how many errors are known."""
        processes = self.processes()
        live = [row for row in processes if not row["silent"]]
        totals = dict.fromkeys(COUNTERS, 0)
        for row in processes:
            for name in COUNTERS:
                totals[name] += int(row["counters"].get(name, 0))
        groups = self.groups()
        with self._lock:
            errors_known = len(self._errors)
        return {"processes": processes, "processes_count": len(processes),
                "reporting": len(live), "totals": totals,
                "lag": sum(row["lag"] or 0 for rows in groups.values() for row in rows),
                "jobs": len(self.jobs()), "errors_known": errors_known,
                "unreadable": self.unreadable}

    def charts(self) -> dict[str, dict[str, Any]]:
        """Throughput (msg/s), error rate (per minute) and lag over the last hour, as SVG."""
        now = self._clock()
        with self._lock:
            series = self._history.series(now)
        return {name: polyline(points, now) for name, points in series.items()}

    def groups(self) -> dict[str, list[dict[str, Any]]]:
        """Consumer group -> its partition rows over every process (with host and pid)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for report in self.reports():
            process = report["process"]
            for row in report.get("partitions", []):
                found.setdefault(str(row.get("consumer_group")), []).append(
                    {**row, "host": process.get("host"), "pid": process.get("pid"),
                     "process": process.get("id")})
            hidden = report.get("partitions_hidden") or {}
            if hidden.get("count"):
                found.setdefault("(more partitions, summarised)", []).append(
                    {"topic": f"{hidden['count']} more on {process.get('host')}",
                     "partition": "", "lag": hidden.get("lag"), "committed": None,
                     "high": None, "paused": bool(hidden.get("paused")),
                     "messages": hidden.get("messages"), "host": process.get("host"),
                     "pid": process.get("pid"), "attempt": 0})
        for rows in found.values():
            rows.sort(key=lambda row: (str(row.get("topic")), str(row.get("partition"))))
        return dict(sorted(found.items()))

    def jobs(self) -> list[dict[str, Any]]:
        """Every running job of every reporting process, the oldest first."""
        rows = [{**job, "host": report["process"].get("host"),
                 "pid": report["process"].get("pid")}
                for report in self.reports() for job in report.get("jobs", [])]
        return sorted(rows, key=lambda row: float(row.get("started_at") or 0))

    def errors(self) -> list[dict[str, Any]]:
        """The newest errors first."""
        with self._lock:
            return list(self._errors)


def _lag(report: dict[str, Any]) -> int:
    """A report's lag: its partitions' and its summarised partitions'."""
    shown = sum(int(row.get("lag") or 0) for row in report.get("partitions") or [])
    return shown + int((report.get("partitions_hidden") or {}).get("lag") or 0)
