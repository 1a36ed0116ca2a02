"""The Kafka client of one subscription group: a wrapper over ``confluent_kafka.Consumer``.

The rebalance callbacks are ``rebalance_callbacks``'s, the bounded close ``bounded_close``'s;
the client is what the listener and the partitions' offsets port call. Just over 250 lines:
one short method per call of that protocol.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from confluent_kafka import OFFSET_END, KafkaError, KafkaException
from confluent_kafka import Consumer as KafkaConsumer
from confluent_kafka import TopicPartition as KafkaPartition

from engine.config.kafka import PROBE_LOGGER, logged, refused
from engine.connection.bounded_close import BoundedClose
from engine.connection.commits import Commits
from engine.connection.rebalance import RebalanceTracker
from engine.connection.rebalance_callbacks import RebalanceCallbacks
from engine.errors import ConfigError
from engine.instrumentation.monitor import Monitor
from engine.routing.subscription_group import SubscriptionGroup

POLL_SLICE = 0.1  # seconds one consume() call may block, so stops and rebalances cut in fast



class Client:
    """Batch polls, pause/resume/seek under a lock, offset store/commit, bounded close."""

    def __init__(self, subscription_group: SubscriptionGroup, monitor: Monitor,
                 listener: object = None) -> None:
        self.subscription_group = subscription_group
        self.monitor = monitor
        # rebalance and statistics events are the listener's (the catalogue's sender): they
        # happen inside its poll
        self._listener = listener if listener is not None else self
        self.rebalance = RebalanceTracker()
        self.pause_assigned = False
        self.fatal_error: KafkaError | None = None
        self._consumer: Any = None
        self._lock = threading.Lock()
        self._last_poll = time.monotonic()
        max_poll_ms = subscription_group.kafka.get("max.poll.interval.ms", 300_000)
        self._max_poll_interval = float(max_poll_ms) / 1000
        self._commits = Commits(monitor, self, subscription_group.id)
        self._callbacks = RebalanceCallbacks(self, self.rebalance, self._commits, self._listener)
        self._closer = BoundedClose(subscription_group.id, lambda: self._consumer, self._close)

    def check_config(self) -> None:
        """Raise ``ConfigError`` now if librdkafka refuses the settings (e.g. a typo)."""
        check_config(self.subscription_group)

    def connect(self) -> None:
        """Create the consumer and subscribe to the group's topics."""
        config = dict(self.subscription_group.kafka)
        config["error_cb"] = self._on_error
        config["on_commit"] = self._commits.on_commit
        if int(config.get("statistics.interval.ms", 0) or 0) > 0:
            config["stats_cb"] = self._on_statistics
        self._consumer = KafkaConsumer(logged(config))
        callbacks = self._callbacks
        self._consumer.subscribe(
            list(self.subscription_group.topic_names), on_assign=callbacks.on_assign,
            on_revoke=callbacks.on_revoke, on_lost=callbacks.on_lost,
        )

    def poll_batch(self, max_messages: int, max_wait_time: float, stopping: Callable[[], bool],
                   *, between_slices: Callable[[], None]) -> list[Any]:
        """Up to ``max_messages`` of what is ready now; if nothing is, wait for the first one.

        A backlog gives full batches at once; a trickle is delivered as it arrives instead of
        waiting to fill a batch. Waiting ends after ``max_wait_time``, on a rebalance, or once
        ``stopping()`` says so; ``between_slices()`` runs before each wait slice.
        """
        with self._closer.polling:
            if self._consumer is None or self._closer.closing:  # a closer may be at work
                raise RuntimeError(f"the client of {self.subscription_group.id} is closed")
            consume = self._consumer.consume
            batch: list[Any] = consume(max_messages, 0)
            deadline = time.monotonic() + max_wait_time
            while not batch and not self.rebalance.changed:
                between_slices()
                if stopping():
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                batch = consume(1, min(remaining, POLL_SLICE))  # returns on the first arrival
                if batch and max_messages > 1:
                    batch += consume(max_messages - 1, 0)
            self._last_poll = time.monotonic()
            return batch

    def assignment_lost(self) -> bool:
        """Whether librdkafka has given this member's partitions up, as far as it tells.

        True once a commit was refused for a lost assignment (until the next assignment),
        and while the last poll is older than ``max.poll.interval.ms``: librdkafka has left
        the group then, even though no callback has said so yet (it will at the next poll).
        """
        return (self._commits.assignment_lost
                or time.monotonic() - self._last_poll > self._max_poll_interval)

    @property
    def connected(self) -> bool:
        """Whether the client has a live consumer (connected and not closed)."""
        return self._consumer is not None

    @property
    def kafka_consumer(self) -> Any:
        """The live ``confluent_kafka.Consumer``; None when not connected or closed."""
        return self._consumer

    def pause(self, topic: str, partition: int, offset: int | None = None,
              timeout: float | None = None) -> bool:
        """Stop fetching a partition (timing is the engine's, not librdkafka's)."""
        self.monitor.instrument("client.pause", self, subscription_group=self.subscription_group.id,
                                topic=topic, partition=partition, offset=offset, timeout=timeout)
        return bool(self._call(self._consumer.pause, [KafkaPartition(topic, partition)]))

    def resume(self, topic: str, partition: int) -> bool:
        """Fetch a paused partition again."""
        self.monitor.instrument("client.resume", self,
                                subscription_group=self.subscription_group.id,
                                topic=topic, partition=partition)
        return bool(self._call(self._consumer.resume, [KafkaPartition(topic, partition)]))

    def pause_all(self) -> None:
        """Pause the whole assignment (quiet mode) and every partition assigned from now on."""
        self.pause_assigned = True
        if self._consumer is None:
            return
        partitions = self._consumer.assignment()
        if partitions:
            self._call(self._consumer.pause, partitions)

    def seek(self, topic: str, partition: int, offset: int) -> bool:
        """Fetch a partition from ``offset`` next."""
        return bool(self._call(self._consumer.seek, KafkaPartition(topic, partition, offset)))

    def store_offset(self, topic: str, partition: int, offset: int,
                     metadata: str | None = None) -> bool:
        """Store ``offset`` (the next to read), with ``metadata``, for the next commit."""
        stored = (KafkaPartition(topic, partition, offset) if metadata is None
                  else KafkaPartition(topic, partition, offset, metadata=metadata))
        try:
            self._consumer.store_offsets(offsets=[stored])
        except KafkaException:
            return False
        return True

    def committed(self, topic: str, partition: int) -> tuple[int, str | None] | None:
        """The group's committed offset of a partition and its metadata; None if none."""
        try:
            (found,) = self._consumer.committed([KafkaPartition(topic, partition)], timeout=10)
        except KafkaException:
            return None
        if found.error is not None or found.offset < 0:
            return None
        return found.offset, found.metadata

    def commit(self, sync: bool) -> bool:
        """Commit the stored offsets; True when there was nothing to commit."""
        try:
            self._consumer.commit(asynchronous=not sync)
        except KafkaException as error:
            return self._commits.failed(error, sync)
        return True

    def high_watermark(self, topic: str, partition: int) -> int | None:
        """The partition's end offset as the last fetch reported it; None until known.

        Cached from fetch responses: no broker round trip (and right on Tansu, whose
        ListOffsets answer is wrong).
        """
        try:
            _, high = self._consumer.get_watermark_offsets(
                KafkaPartition(topic, partition), cached=True
            )
        except KafkaException:
            return None
        return int(high) if high >= 0 else None

    def close_if_idle(self, timeout: float) -> bool:
        """Close unless a poll is under way (closing inside consume() crashes the binding)."""
        return self._closer.close_if_idle(timeout)

    def close(self, timeout: float) -> bool:
        """Commit, leave the group and close within ``timeout``; False when it gave up.

        The close runs on a helper thread that finishes on its own (``BoundedClose``).
        """
        return self._closer.close(timeout)

    def _close(self, consumer: Any, deadline: float) -> None:
        self.commit(sync=True)
        self._call(consumer.unsubscribe)
        while time.monotonic() < deadline and self._call(consumer.assignment, default=[]):
            self._call(consumer.consume, 100, POLL_SLICE)  # serves the revocation; drops data
        self._consumer = None
        consumer.close()

    def offset_for_time(self, topic: str, partition: int, moment: datetime) -> int:
        """The first offset at or after ``moment`` (the end when there is none)."""
        wanted = KafkaPartition(topic, partition, int(moment.timestamp() * 1000))
        (found,) = self._consumer.offsets_for_times([wanted], timeout=10)
        return int(found.offset) if found.offset >= 0 else OFFSET_END

    def group_metadata(self) -> Any:
        """The consumer's group metadata (for ``send_offsets_to_transaction``).

        librdkafka copies it under its own lock: safe from a worker while the listener polls.
        """
        return self._consumer.consumer_group_metadata()

    def _call(self, method: Callable[..., Any], *args: Any, default: Any = False) -> Any:
        with self._lock:
            try:
                result = method(*args)
            except KafkaException as error:
                self.monitor.instrument("error.occurred", self, type="connection.client.poll.error",
                                        error=error, subscription_group=self.subscription_group.id)
                return default
        return True if result is None else result

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self.fatal_error = error
        self.monitor.instrument("error.occurred", self, type="librdkafka.error",
                                error=KafkaException(error),
                                subscription_group=self.subscription_group.id)

    def _on_statistics(self, raw: str) -> None:
        try:
            statistics = json.loads(raw)
            self.monitor.instrument("statistics.emitted", self._listener,
                                    subscription_group=self.subscription_group.id,
                                    consumer_group=self.subscription_group.consumer_group,
                                    statistics=statistics)
        except Exception as error:  # noqa: BLE001 - must not propagate into librdkafka
            self.monitor.instrument("error.occurred", self, type="callbacks.statistics.error",
                                    error=error, subscription_group=self.subscription_group.id)


def check_config(subscription_group: SubscriptionGroup) -> None:
    """Raise ``ConfigError`` if librdkafka refuses a group's settings (e.g. a typo).

    The probe never dials the broker: it has no ``bootstrap.servers``, and it is silenced
    (its only complaint would be exactly that); ``debug`` overrides ``log_level``, so its lines
    go to a logger of their own rather than raw to stderr.
    """
    config = {key: value for key, value in subscription_group.kafka.items()
              if key not in ("bootstrap.servers", "metadata.broker.list")}
    try:
        probe = KafkaConsumer(logged({**config, "log_level": 0}, PROBE_LOGGER))
    except KafkaException as error:
        subject = f"subscription group {subscription_group.id}"
        raise ConfigError([refused(subject, error)]) from error
    probe.close()
