"""The last hour in buckets: messages, errors and lag over every process, for the charts.

Fed by each report (``add``): the growth of a process's counters since its previous report
goes to the bucket of the report's time; its lag is that bucket's latest for the process. A
counter that went down means the process restarted: its new value counts as growth.
"""

from __future__ import annotations

from typing import Any

BUCKET = 30.0
"""Seconds per bucket."""

WINDOW = 3600.0
"""Seconds of history kept."""


class History:
    """Buckets of the last ``WINDOW`` seconds; not thread-safe (the State locks around it)."""

    def __init__(self) -> None:
        self._buckets: dict[int, dict[str, Any]] = {}
        self._last: dict[str, dict[str, int]] = {}

    def add(self, process: str, at: float, counters: dict[str, Any], lag: int) -> None:
        """One report of ``process`` made at ``at`` (seconds since the epoch)."""
        previous = self._last.get(process, {})
        bucket = self._buckets.setdefault(int(at // BUCKET),
                                          {"messages": 0, "errors": 0, "lag": {}})
        for name in ("messages", "errors"):
            now, before = int(counters.get(name, 0)), previous.get(name, 0)
            bucket[name] += now - before if now >= before else now
        bucket["lag"][process] = lag
        self._last[process] = {name: int(counters.get(name, 0)) for name in ("messages",
                                                                             "errors")}

    def prune(self, now: float) -> None:
        """Drop the buckets older than the window."""
        first = int((now - WINDOW) // BUCKET)
        for old in [index for index in self._buckets if index < first]:
            del self._buckets[old]

    def forget(self, process: str) -> None:
        """Drop what is kept of ``process`` (forgotten: its next report counts afresh)."""
        self._last.pop(process, None)

    def series(self, now: float) -> dict[str, list[tuple[float, float]]]:
        """Per bucket of the last hour (oldest first): msg/s, errors/min and the summed lag."""
        self.prune(now)
        rows = sorted(self._buckets.items())
        return {
            "throughput": [(index * BUCKET, bucket["messages"] / BUCKET)
                           for index, bucket in rows],
            "errors": [(index * BUCKET, bucket["errors"] * 60 / BUCKET)
                       for index, bucket in rows],
            "lag": [(index * BUCKET, float(sum(bucket["lag"].values())))
                    for index, bucket in rows],
        }


def polyline(points: list[tuple[float, float]], now: float, width: int = 600,
             height: int = 120) -> dict[str, Any]:
    """An SVG polyline of ``points`` over the last hour: its ``points`` text and its top value."""
    top = max((value for _, value in points), default=0.0) or 1.0
    pad = 4  # room for the end's mark inside the frame
    drawn = [f"{(width - pad) * (1 - (now - at) / WINDOW):.1f},"
             f"{pad + (height - 2 * pad) * (1 - value / top):.1f}"
             for at, value in points if now - at <= WINDOW]
    end = drawn[-1].split(",") if drawn else None  # marked: one bucket alone draws no line
    return {"points": " ".join(drawn), "top": top, "width": width, "height": height,
            "last": points[-1][1] if points else 0.0, "end": end}
