"""The in-memory stand-in for one listener's Kafka client: fetch positions over the log.

Over 250 lines on purpose: it answers every call of the real client's protocol
(``ListenerClient``), one short method each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaException, TopicPartition

from engine.connection.client import check_config
from engine.connection.commits import Commits
from engine.connection.rebalance import RebalanceTracker
from engine.processing.partitions import PartitionKey
from engine.testing.faults import Faults, commit_refused
from engine.testing.log import EndOfPartition
from engine.virtual.metadata import decode

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.routing.subscription_group import SubscriptionGroup
    from engine.testing.clock import VirtualClock
    from engine.testing.history import History
    from engine.testing.log import Log

class MemoryClient:
    """What librdkafka and the engine's ``Client`` do, over the harness's log, on one thread.

    The harness drives the group side (``assign``, ``revoke``); the listener drives the rest
    exactly as it drives the real client. Stored offsets are committed when librdkafka would
    commit them: every ``auto.commit.interval.ms`` of virtual time (a timer on the clock, polls
    or not), on revocation, on close and when asked. ``faults`` may kill the process at a commit
    the engine makes (not at the background timer's: that is librdkafka's thread). A partition
    the group gave away (``lose``) refuses every commit that carries its offset, as the
    coordinator refuses an unknown member, until the next poll hears it lost.
    """

    def __init__(self, subscription_group: SubscriptionGroup, monitor: Monitor, listener: object,
                 log: Log, clock: VirtualClock, history: History,
                 faults: Faults | None = None) -> None:
        self.subscription_group = subscription_group
        self.monitor = monitor
        self._listener = listener
        self._log = log
        self._clock = clock
        self._history = history
        self._faults = faults or Faults()
        self._commits = Commits(monitor, self, subscription_group.id)
        self.lost: set[PartitionKey] = set()  # given away; this member has not heard yet
        self.rebalance = RebalanceTracker()
        self.fatal_error: Any = None
        self.fetch_limit: int | None = None
        self.positions: dict[PartitionKey, int] = {}
        self.paused: set[PartitionKey] = set()
        self._stored: dict[PartitionKey, int] = {}
        self._eof_at: dict[PartitionKey, int] = {}
        self._pause_assigned = False
        self._connected = False
        self._turn = 0
        kafka = subscription_group.kafka
        self._auto_commit = str(kafka.get("enable.auto.commit", True)).lower() == "true"
        self._commit_every = float(kafka.get("auto.commit.interval.ms", 5000)) / 1000
        self._next_commit = clock.now() + self._commit_every
        self._eof = str(kafka.get("enable.partition.eof", False)).lower() == "true"
        # librdkafka's default: transactions' records only once committed
        self._committed_only = kafka.get("isolation.level", "read_committed") != "read_uncommitted"
        self._stop_timer: Callable[[], None] | None = None

    # -- the group's side (driven by the harness) ----------------------------------------------

    def assign(self, keys: Iterable[PartitionKey]) -> None:
        """Partitions join this member, from the group's commit (else the initial offset)."""
        keys = [key for key in keys if key not in self.positions]
        for key in keys:
            committed = self._log.committed(self.subscription_group.consumer_group, key)
            if committed is None:
                committed = (0 if self.subscription_group.initial_offset == "earliest"
                             else self._log.end(*key))
                self._history.started(self.subscription_group.consumer_group, key, committed)
            self.positions[key] = committed
            if self._pause_assigned:
                self.paused.add(key)
            else:
                self.paused.discard(key)
        if keys:
            self._commits.assigned()
            self.rebalance.assigned(keys)
            self._announce("rebalance.partitions_assigned", keys)

    def revoke(self, keys: Iterable[PartitionKey], lost: bool) -> None:
        """Partitions leave this member: committed first unless lost (the engine's on_revoke)."""
        keys = [key for key in keys if key in self.positions]
        if not keys:
            return
        if not lost:
            self.commit(sync=True)
        for key in keys:
            self.lost.discard(key)
            del self.positions[key]
            self._stored.pop(key, None)
            self.paused.discard(key)
        if lost and not self.lost:
            self._commits.assigned()  # rejoined: what it still holds is its own again
        self.rebalance.revoked(keys, lost=lost)
        self._announce("rebalance.partitions_lost" if lost else "rebalance.partitions_revoked",
                       keys)

    def lose(self, key: PartitionKey) -> None:
        """The group gave ``key`` away (a session timeout); the member hears at its next poll.

        Until then a commit carrying it is refused whole (``UNKNOWN_MEMBER_ID``, reported as
        the engine's client reports it, ``is_revoked`` then True); that poll runs the lost
        revocation (no commit) and nobody holds it until the harness assigns it again.
        """
        self.lost.add(key)

    def holds(self, key: PartitionKey) -> bool:
        """Whether the group assigns ``key`` here (not once it gave it away)."""
        return key in self.positions and key not in self.lost

    def holding_work(self) -> list[PartitionKey]:
        """Assigned partitions whose fetch position is behind their (readable) end."""
        return [key for key, position in self.positions.items()
                if position < self._readable_end(key)]

    def _readable_end(self, key: PartitionKey) -> int:
        """Where fetching stops: ``read_committed`` never passes an open transaction."""
        return self._log.stable_end(*key) if self._committed_only else self._log.end(*key)

    # -- the listener's side -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether connected and not closed."""
        return self._connected

    def check_config(self) -> None:
        """librdkafka's own check of the settings, as the real client makes it."""
        check_config(self.subscription_group)

    def connect(self) -> None:
        """Connected (the harness assigns the partitions); the auto-commit timer starts."""
        self._connected = True
        if self._auto_commit and self._stop_timer is None:
            self._stop_timer = self._clock.on_advance(self._tick)

    def _tick(self, now: float) -> None:
        """librdkafka's background auto-commit: stored offsets go every interval, idle or not."""
        if now >= self._next_commit:
            self._commit_stored(sync=False)
            elapsed = (now - self._next_commit) // self._commit_every + 1
            self._next_commit += elapsed * self._commit_every  # the timer's own beat

    def _disconnect(self) -> None:
        self._connected = False
        if self._stop_timer is not None:
            self._stop_timer()
            self._stop_timer = None

    def poll_batch(self, max_messages: int, max_wait_time: float, stopping: Callable[[], bool],
                   *, between_slices: Callable[[], None]) -> list[Any]:
        """What is available across unpaused partitions, at most ``max_messages``.

        Also at most the harness's ``fetch_limit``; an empty poll waits out ``max_wait_time``
        of virtual time.
        """
        if not self._connected:
            raise RuntimeError(f"the client of {self.subscription_group.id} is closed")
        limit = min(max_messages, self.fetch_limit or max_messages)
        batch = self._fetch(limit)
        if not any(raw.error() is None for raw in batch):
            self._clock.advance(max_wait_time)
        return batch

    def _fetch(self, limit: int) -> list[Any]:
        keys = [key for key in self.positions if key not in self.paused]
        if not keys:
            return []
        start = self._turn % len(keys)
        self._turn += 1
        batch: list[Any] = []
        for key in keys[start:] + keys[:start]:
            records = self._log.records(*key)
            position = self.positions[key]
            end = self._readable_end(key)
            while position < end and len(batch) < limit:
                record = records[position]
                position += 1
                if record.control or (self._committed_only and record.aborted):
                    continue  # markers and (read_committed) aborted records: skipped, as Kafka
                batch.append(record)
            self.positions[key] = position
            if self._eof and position == len(records) and self._eof_at.get(key) != position:
                self._eof_at[key] = position
                batch.append(EndOfPartition(key[0], key[1], position))
        return batch

    def pause(self, topic: str, partition: int, offset: int | None = None,
              timeout: float | None = None) -> bool:
        """Stop fetching a partition."""
        self.monitor.instrument("client.pause", self, subscription_group=self.subscription_group.id,
                                topic=topic, partition=partition, offset=offset, timeout=timeout)
        if (topic, partition) not in self.positions:
            return False
        self.paused.add((topic, partition))
        return True

    def resume(self, topic: str, partition: int) -> bool:
        """Fetch a paused partition again."""
        self.monitor.instrument("client.resume", self,
                                subscription_group=self.subscription_group.id,
                                topic=topic, partition=partition)
        self.paused.discard((topic, partition))
        return (topic, partition) in self.positions

    def pause_all(self) -> None:
        """Pause everything, and what is assigned from now on (quiet)."""
        self._pause_assigned = True
        self.paused.update(self.positions)

    def seek(self, topic: str, partition: int, offset: int) -> bool:
        """Fetch from ``offset`` next; False when the partition is not assigned."""
        key = (topic, partition)
        if key not in self.positions:
            return False
        end = self._log.end(topic, partition)
        if offset == OFFSET_BEGINNING:
            offset = 0
        elif offset == OFFSET_END or offset > end:
            offset = end
        self.positions[key] = max(0, offset)
        self._eof_at.pop(key, None)
        return True

    def offset_for_time(self, topic: str, partition: int, moment: datetime) -> int:
        """The first record at or after ``moment``; the end when there is none."""
        wanted = int(moment.timestamp() * 1000)
        records = self._log.records(topic, partition)
        return next((record.offset() for record in records if record.timestamp()[1] >= wanted),
                    len(records))

    def group_metadata(self) -> Any:
        """The harness's group metadata; its consumer group at index 1 (memory_transactions)."""
        return ("group-metadata", self.subscription_group.consumer_group)

    def store_offset(self, topic: str, partition: int, offset: int,
                     metadata: str | None = None) -> bool:
        """Store ``offset`` for the next commit; False when the partition is not assigned.

        ``metadata`` is dropped, as Tansu drops it: the log keeps offsets only. The history
        hears what it says was processed above ``offset`` (virtual partitions' marks).
        """
        key = (topic, partition)
        if key not in self.positions:
            return False
        self._stored[key] = offset
        completed = decode(metadata, offset) if metadata else None
        self._history.stored(self.subscription_group.consumer_group, key, offset,
                             sorted(completed or ()))
        return True

    def committed(self, topic: str, partition: int) -> tuple[int, str | None] | None:
        """The group's committed offset (no metadata: the log keeps none); None if none."""
        found = self._log.committed(self.subscription_group.consumer_group, (topic, partition))
        return None if found is None else (found, None)

    def commit(self, sync: bool) -> bool:
        """Commit what was stored (True when there was nothing to commit).

        An armed crash dies here first; a refusal is reported as the engine's client does.
        """
        self._faults.committing()
        done = self._commit_stored(sync)
        if done:
            self._faults.committed()
        return done

    def _commit_stored(self, sync: bool) -> bool:
        if not self._stored:
            return True
        if self.lost.intersection(self._stored):  # refused whole; the offsets stay stored
            if sync:
                return self._commits.failed(KafkaException(commit_refused(sync=True)), sync)
            self._commits.on_commit(commit_refused(sync=False),
                                    [TopicPartition(*key, offset)
                                     for key, offset in self._stored.items()])
            return True
        stored, self._stored = self._stored, {}
        for key, offset in stored.items():
            if self._log.committed(self.subscription_group.consumer_group, key) != offset:
                self._log.commit(self.subscription_group.consumer_group, key, offset)
        return True

    def assignment_lost(self) -> bool:
        """Once a commit was refused for a lost assignment (until the member rejoins)."""
        return self._commits.assignment_lost

    def high_watermark(self, topic: str, partition: int) -> int | None:
        """The partition's end offset."""
        return self._log.end(topic, partition)

    def close(self, timeout: float) -> bool:
        """Commit, leave the group (the partitions go without a revocation) and close."""
        if self._connected:
            self.commit(sync=True)
        self._disconnect()
        self.lost.clear()
        self.positions.clear()
        self.paused.clear()
        return True

    def close_if_idle(self, timeout: float) -> bool:
        """Close (nothing is ever mid-poll here)."""
        return self.close(timeout)

    def kill(self) -> None:
        """The process died: stored offsets are gone, nothing is committed."""
        self._stored.clear()
        self.lost.clear()
        self._disconnect()
        self.positions.clear()
        self.paused.clear()

    def _announce(self, event: str, keys: list[PartitionKey]) -> None:
        self.monitor.instrument(event, self._listener,
                                subscription_group=self.subscription_group.id,
                                consumer_group=self.subscription_group.consumer_group,
                                partitions=keys)
