"""Per-batch figures for Prometheus, kept per thread and added up only when scraped.

A batch costs a few list additions on the thread that consumed it: no lock, no metric
object (prometheus_client's take a lock per update, and a histogram walks its buckets).
Each thread writes only its own rows; a scrape reads every thread's rows and sums them.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""Upper bounds of the processing-time histogram, seconds (prometheus_client's defaults)."""

_MESSAGES, _OK, _FAILED, _SECONDS, _FIRST_BUCKET = range(5)
Key = tuple[str, str]  # (consumer group, topic)


class BatchTally:
    """Consumed messages, batches by outcome and processing times, per consumer group and topic.

    Also a prometheus_client collector (``collect``) of ``engine_messages_consumed_total``,
    ``engine_batches_total`` and ``engine_batch_processing_seconds``.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._tables: list[dict[Key, list[float]]] = []
        self._lock = threading.Lock()  # taken once per thread, when its table is made

    def consumed(self, consumer_group: str, topic: str, messages: int, seconds: float) -> None:
        """A batch whose consume returned, ``messages`` of it marked as consumed."""
        row = self._row(consumer_group, topic)
        row[_MESSAGES] += messages
        row[_OK] += 1
        row[_SECONDS] += seconds
        row[_FIRST_BUCKET + bisect_left(BUCKETS, seconds)] += 1

    def failed(self, consumer_group: str, topic: str, messages: int = 0) -> None:
        """A consume call that raised after marking ``messages`` of its batch as consumed."""
        row = self._row(consumer_group, topic)
        row[_FAILED] += 1
        row[_MESSAGES] += messages

    def totals(self) -> dict[Key, list[float]]:
        """Every thread's rows added up."""
        with self._lock:
            tables = list(self._tables)
        summed: dict[Key, list[float]] = {}
        for table in tables:
            for key, row in list(table.items()):
                total = summed.setdefault(key, [0.0] * len(row))
                for index, value in enumerate(row):
                    total[index] += value
        return summed

    def collect(self) -> Iterator[Any]:
        """The three metric families, as a scrape asks for them."""
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        labels = ["consumer_group", "topic"]
        consumed = CounterMetricFamily(
            "engine_messages_consumed",
            "Messages marked as consumed, by the consumer or the automatic marking"
            " (dead-lettered ones are in engine_dead_letters_total)",
            labels=labels)
        batches = CounterMetricFamily("engine_batches", "Consume calls by outcome (ok, failed)",
                                      labels=[*labels, "outcome"])
        seconds = HistogramMetricFamily("engine_batch_processing_seconds",
                                        "Time of consume calls that returned", labels=labels)
        for (consumer_group, topic), row in sorted(self.totals().items()):
            consumed.add_metric([consumer_group, topic], row[_MESSAGES])
            batches.add_metric([consumer_group, topic, "ok"], row[_OK])
            batches.add_metric([consumer_group, topic, "failed"], row[_FAILED])
            running, buckets = 0.0, []
            for bound, count in zip((*map(str, BUCKETS), "+Inf"), row[_FIRST_BUCKET:],
                                    strict=True):
                running += count
                buckets.append((bound, running))
            seconds.add_metric([consumer_group, topic], buckets, row[_SECONDS])
        yield from (consumed, batches, seconds)

    def _row(self, consumer_group: str, topic: str) -> list[float]:
        table: dict[Key, list[float]] | None = getattr(self._local, "table", None)
        if table is None:
            table = self._local.table = {}
            with self._lock:
                self._tables.append(table)
        row = table.get((consumer_group, topic))
        if row is None:
            row = table[(consumer_group, topic)] = [0.0] * (_FIRST_BUCKET + len(BUCKETS) + 1)
        return row
