"""What the public events say about this process, kept as plain dicts the reporter copies.

Receivers run on the engine's threads: each does a few dict stores, no I/O and no lock on the
per-batch and per-poll paths (a single store is atomic; the reporter copies before reading).
A state change (app or listener) calls ``changed`` so a report goes out at once.
"""

from __future__ import annotations

import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.app import UNTIL_RESUMED
from engine.lifecycle import AppState, ListenerState

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor

PartitionKey = tuple[str, str, int]
"""(consumer group, topic, partition)."""

LAG_EVERY = 1.0
"""Seconds between two reads of one partition's lag (the consumer's figure) after a batch."""

COUNTERS = ("messages", "batches", "errors", "retries", "dead_letters", "rebalances")
"""The process's running totals, in the order reports list them."""


class Tracker:
    """Follows the app, its listeners, partitions, jobs and errors through the monitor.

    ``errors`` holds at most ``error_backlog`` records not yet sent (older ones are dropped
    and counted in ``errors_dropped``); ``traceback_limit`` characters of each traceback are
    kept. ``ignore_topics`` are the plugin's own topics: an error sending to them is counted
    but never reported (a report about a failed report would loop).
    """

    def __init__(self, changed: Callable[[], None], *, error_backlog: int, traceback_limit: int,
                 ignore_topics: frozenset[str], clock: Callable[[], float] = time.time) -> None:
        self._changed = changed
        self._clock = clock
        self._traceback_limit = traceback_limit
        self._ignore = ignore_topics
        self.app_state = AppState.INITIALIZING.value
        self.listeners: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, str] = {}  # subscription group -> consumer group
        self.partitions: dict[PartitionKey, dict[str, Any]] = {}
        self.jobs: dict[int, tuple[Any, float]] = {}
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.errors: deque[dict[str, Any]] = deque(maxlen=error_backlog)
        self.errors_dropped = 0

    def install(self, monitor: Monitor) -> None:
        """Subscribe every receiver."""
        for state in list(AppState)[1:]:  # initializing is never announced
            monitor.subscribe(f"app.{state.value}", self._on_app_state)
        for listener_state in ListenerState:
            monitor.subscribe(f"connection.listener.{listener_state.value}", self._on_listener)
        table: dict[str, Callable[..., None]] = {
            "connection.listener.fetch_loop": self._on_poll,
            "rebalance.partitions_assigned": self._on_assigned,
            "rebalance.partitions_revoked": self._on_revoked,
            "rebalance.partitions_lost": self._on_revoked,
            "client.pause": self._on_pause,
            "client.resume": self._on_resume,
            "consumer.consumed": self._on_consumed,
            "consumer.consuming.retry": self._on_retry,
            "consumer.consuming.pause": self._on_consumer_pause,
            "dead_letter_queue.dispatched": self._on_dead_letter,
            "statistics.emitted": self._on_statistics,
            "worker.process": self._on_job_start,
            "worker.completed": self._on_job_end,
            "error.occurred": self._on_error,
        }
        for name, receiver in table.items():
            monitor.subscribe(name, receiver)

    # -- states: each change asks for a report now ---------------------------------------------

    def _on_app_state(self, sender: Any, **event: Any) -> None:
        self.app_state = event["state"]
        self._changed()

    def _on_listener(self, sender: Any, **event: Any) -> None:
        seen = self.listeners.setdefault(event["subscription_group"], {
            "assigned": [], "rebalances": 0, "polled": None})
        seen["state"] = event["state"]
        self._changed()

    def _on_poll(self, sender: Any, **event: Any) -> None:
        seen = self.listeners.get(event["subscription_group"])
        if seen is not None:
            seen["polled"] = self._clock()

    def _on_assigned(self, sender: Any, **event: Any) -> None:
        self._rebalanced(event)
        seen = self.listeners.get(event["subscription_group"])
        if seen is not None:
            seen["assigned"] = sorted({*map(tuple, seen["assigned"]), *event["partitions"]})
        for topic, partition in event["partitions"]:
            self._partition(event["consumer_group"], topic, partition)
        self._changed()

    def _on_revoked(self, sender: Any, **event: Any) -> None:
        self._rebalanced(event)
        gone = {tuple(pair) for pair in event["partitions"]}
        seen = self.listeners.get(event["subscription_group"])
        if seen is not None:
            seen["assigned"] = [pair for pair in seen["assigned"] if tuple(pair) not in gone]
        for topic, partition in gone:
            self.partitions.pop((event["consumer_group"], topic, partition), None)
        self._changed()

    def _rebalanced(self, event: dict[str, Any]) -> None:
        self.groups[event["subscription_group"]] = event["consumer_group"]
        self.counters["rebalances"] += 1
        seen = self.listeners.get(event["subscription_group"])
        if seen is not None:
            seen["consumer_group"] = event["consumer_group"]
            seen["rebalances"] += 1

    # -- partitions ----------------------------------------------------------------------------

    def _partition(self, consumer_group: str, topic: str, partition: int) -> dict[str, Any]:
        key = (consumer_group, topic, partition)
        row = self.partitions.get(key)
        if row is None:
            row = self.partitions[key] = {
                "messages": 0, "batches": 0, "last_offset": None, "lag": None,
                "committed": None, "stored": None, "high": None, "paused": False,
                "paused_until": None, "pause_reason": None, "attempt": 0, "last_error": None,
                "lag_read": -LAG_EVERY}
        return row

    def _on_pause(self, sender: Any, **event: Any) -> None:
        group = self.groups.get(event["subscription_group"], event["subscription_group"])
        row = self.partitions.get((group, event["topic"], event["partition"]))
        if row is None:  # not (or no longer) assigned: no row to bring back
            return
        timeout = event.get("timeout")
        row["paused"] = True
        if timeout is not None and float(timeout) >= UNTIL_RESUMED:  # an operator's, no end
            row["paused_until"], row["pause_reason"] = None, "until resumed"
            return
        row["paused_until"] = None if timeout is None else self._clock() + float(timeout)

    def _on_resume(self, sender: Any, **event: Any) -> None:
        group = self.groups.get(event["subscription_group"], event["subscription_group"])
        row = self.partitions.get((group, event["topic"], event["partition"]))
        if row is not None:  # a revoked partition's late resume brings no row back
            row["paused"], row["paused_until"], row["pause_reason"] = False, None, None

    def _on_consumed(self, sender: Any, **event: Any) -> None:
        # per batch: a few stores; the lag is the consumer's own figure, no broker call
        messages = event["messages"]
        row = self._partition(getattr(sender, "consumer_group", ""), event["topic"],
                              event["partition"])
        marked = event.get("marked")
        count = len(messages) if marked is None else marked
        row["messages"] += count
        row["batches"] += 1
        row["attempt"] = 0
        last = messages.metadata.last_offset if len(messages) else -1
        if last >= 0:
            row["last_offset"] = last
        now = time.monotonic()
        if now - row["lag_read"] >= LAG_EVERY:  # as the prometheus plugin: once a second
            row["lag_read"] = now
            lag = getattr(sender, "lag", None)
            if lag is not None:
                row["lag"] = lag
                if last >= 0:
                    row["high"] = last + 1 + lag
        self.counters["messages"] += count
        self.counters["batches"] += 1

    def _on_retry(self, sender: Any, **event: Any) -> None:
        self.counters["retries"] += 1
        row = self.partitions.get((getattr(sender, "consumer_group", ""), event["topic"],
                                   event["partition"]))
        if row is not None:  # a revoked partition's retry brings no row back
            row["attempt"] = event["attempt"]
            row["pause_reason"] = f"retry, attempt {event['attempt']}"

    def _on_consumer_pause(self, sender: Any, **event: Any) -> None:
        row = self._partition(getattr(sender, "consumer_group", ""), event["topic"],
                              event["partition"])
        row["pause_reason"] = "paused by the consumer" if event.get("manual") else "paused"

    def _on_dead_letter(self, sender: Any, **event: Any) -> None:
        self.counters["dead_letters"] += 1

    def _on_statistics(self, sender: Any, **event: Any) -> None:
        """librdkafka's figures (with ``statistics.interval.ms``): committed, stored, high."""
        consumer_group = event["consumer_group"]
        for topic, data in event["statistics"].get("topics", {}).items():
            for number, figures in data.get("partitions", {}).items():
                key = (consumer_group, topic, int(number))
                row = self.partitions.get(key)
                # librdkafka keeps listing a partition its client no longer fetches, its
                # figures frozen: another connection of this process may own it now
                if number == "-1" or row is None or figures.get("fetch_state") in _NOT_FETCHED:
                    continue
                for field, name in (("committed", "committed_offset"),
                                    ("stored", "stored_offset"), ("high", "hi_offset"),
                                    ("lag", "consumer_lag_stored")):
                    value = figures.get(name)
                    if isinstance(value, int) and value >= 0:
                        row[field] = value

    # -- jobs ----------------------------------------------------------------------------------

    def _on_job_start(self, sender: Any, **event: Any) -> None:
        # by the job, not the sender: the event loop runs many jobs at once (async consumers)
        self.jobs[id(event["job"])] = (event["job"], self._clock())

    def _on_job_end(self, sender: Any, **event: Any) -> None:
        self.jobs.pop(id(event["job"]), None)

    # -- errors --------------------------------------------------------------------------------

    def _on_error(self, sender: Any, **event: Any) -> None:
        self.counters["errors"] += 1
        if event.get("topic") in self._ignore:
            return
        error = event.get("error")
        record = {"type": str(event.get("type")), "at": self._clock(),
                  "error_class": _class_name(error), "message": str(error),
                  "traceback": self._traceback(error), "context": _context(event)}
        topic, partition = event.get("topic"), event.get("partition")
        if isinstance(topic, str) and isinstance(partition, int):
            row = self.partitions.get((getattr(sender, "consumer_group", ""), topic, partition))
            if row is not None:
                row["last_error"] = f"{record['error_class']}: {record['message']}"[:200]
        if len(self.errors) == self.errors.maxlen:
            self.errors_dropped += 1
        self.errors.append(record)
        self._changed()

    def _traceback(self, error: Any) -> str:
        if not isinstance(error, BaseException):
            return ""
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        limit = self._traceback_limit
        return text if len(text) <= limit else "...\n" + text[-limit:]


def _class_name(error: Any) -> str:
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else (
        f"{kind.__module__}.{kind.__qualname__}")


_NOT_FETCHED = ("none", "stopped")
"""librdkafka's ``fetch_state`` of a partition its client is not assigned."""

_CONTEXT = ("topic", "partition", "offset", "subscription_group", "consumer_group", "attempt")


def _context(event: dict[str, Any]) -> dict[str, Any]:
    """The event's context that a dashboard can show (plain values only)."""
    return {name: event[name] for name in _CONTEXT
            if isinstance(event.get(name), (str, int, float)) and event.get(name) is not None}
