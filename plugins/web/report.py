"""One report of this process, from the tracker and ``app.statistics()``, bounded in size.

At most ``max_partitions`` partition rows and ``max_jobs`` job rows are listed (the most
lagging partitions and the oldest jobs first); the rest are summarised by count and totals, so
a process with thousands of partitions still sends a report of a few kilobytes.
"""

from __future__ import annotations

from typing import Any

from .tracker import Tracker


def build(tracker: Tracker, process: dict[str, Any], statistics: dict[str, int], now: float, *,
          max_partitions: int, max_jobs: int) -> dict[str, Any]:
    """The report body (``engine.web.codec.encode`` adds schema and kind)."""
    return {
        "process": {**process, "state": tracker.app_state, "reported_at": now},
        "listeners": _listeners(tracker, now),
        **_partitions(tracker, max_partitions),
        **_jobs(tracker, now, max_jobs),
        "counters": {**tracker.counters, "errors_dropped": tracker.errors_dropped},
        "statistics": dict(statistics),
    }


def _listeners(tracker: Tracker, now: float) -> list[dict[str, Any]]:
    rows = []
    for name, seen in sorted(dict(tracker.listeners).items()):
        polled = seen.get("polled")
        rows.append({"subscription_group": name, "state": seen.get("state"),
                     "consumer_group": seen.get("consumer_group",
                                                tracker.groups.get(name, "")),
                     "assigned": [list(pair) for pair in seen.get("assigned", [])],
                     "rebalances": seen.get("rebalances", 0),
                     "poll_age": None if polled is None else round(now - polled, 3)})
    return rows


def _partitions(tracker: Tracker, limit: int) -> dict[str, Any]:
    rows = [{"consumer_group": key[0], "topic": key[1], "partition": key[2],
             **{name: value for name, value in dict(row).items() if name != "lag_read"}}
            for key, row in list(tracker.partitions.items())]
    rows.sort(key=lambda row: (-(row["lag"] or 0), row["consumer_group"], row["topic"],
                               row["partition"]))
    shown, rest = rows[:limit], rows[limit:]
    return {"partitions": shown, "partitions_hidden": {
        "count": len(rest), "lag": sum(row["lag"] or 0 for row in rest),
        "messages": sum(row["messages"] for row in rest),
        "paused": sum(1 for row in rest if row["paused"])}}


def _jobs(tracker: Tracker, now: float, limit: int) -> dict[str, Any]:
    running = sorted(list(tracker.jobs.values()), key=lambda pair: pair[1])
    rows = [{"kind": job.kind, "topic": job.topic, "partition": job.partition,
             "started_at": started, "age": round(now - started, 3)}
            for job, started in running[:limit]]
    return {"jobs": rows, "jobs_hidden": max(0, len(running) - limit)}
