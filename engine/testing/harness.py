"""The harness: the user's app on the engine's own code, over an in-memory Kafka, one thread."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from engine.messages import Message
from engine.processing.death import ProcessDeath
from engine.producer import encode
from engine.routing.selection import Selection
from engine.testing.clock import Epoch, VirtualClock
from engine.testing.crash import CrashPlan
from engine.testing.errors import HarnessError, Stuck
from engine.testing.events import EventLog, EventRecorder
from engine.testing.faults import Faults
from engine.testing.history import History
from engine.testing.log import Log
from engine.testing.member import Member
from engine.testing.memory_producer import MemoryProducer, encode_headers
from engine.testing.topics import Partitions, create_topics, deserializers_for, watch_history

if TYPE_CHECKING:
    from engine.app import App
    from engine.consumer import Consumer
    from engine.messages import Messages
    from engine.routing.subscription_group import SubscriptionGroup


class Harness:
    """Runs an app's consumers without a broker, deterministically, on the calling thread.

    Only the Kafka client is replaced (by an in-memory log); the listener's iteration, the
    executors, strategies, retries, pauses, the dead-letter queue, producing and every event
    are the engine's own code. The app itself is never started. ``partitions`` gives topic
    sizes (an int for every routed topic, or a mapping; unlisted topics get their declared
    ``config`` partitions, else 1); topics named only in the mapping, and declared topics,
    are created too. ``consumer_groups`` / ``topics`` limit what runs,
    as the CLI's filters do. ``epoch`` is the wall time the virtual clock starts at (a
    timezone-aware datetime or Unix seconds; ``engine.testing.EPOCH`` by default, so that
    timestamps are the same on every run).
    """

    def __init__(self, app: App, partitions: Partitions = None, *,
                 consumer_groups: tuple[str, ...] = (), topics: tuple[str, ...] = (),
                 epoch: Epoch | None = None) -> None:
        self.app = app
        self.clock = _clock(epoch)
        self.events = EventLog()
        self._log = Log(self.clock.wall)
        self.history = History(self._log.end)
        self._log.on_commit = self.history.committed
        self._groups = app.subscription_groups(
            Selection(consumer_groups=tuple(consumer_groups), topics=tuple(topics)))
        create_topics(self._log, app, self._groups, partitions)
        self._faults = Faults()
        self._faults.on_produce_failed = self.history.produce_failed
        self._transport = MemoryProducer(self._log, self._faults)
        self.producer = app.producer.rebuilt(client_factory=lambda config: self._transport)
        self._plan = CrashPlan()
        self._recorder = EventRecorder(app.monitor, self.events)
        self._recorder.start()
        self._history_receivers = watch_history(app, self.history, self._groups)
        self._members: list[Member] = []
        self._state = "stopped"
        self.start()

    # -- producing and reading -----------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create a topic that is not routed (one consumers produce to, say)."""
        self._open()
        self._log.create_topic(name, partitions)

    def produce(self, topic: str, value: Any, *, key: Any = None, headers: Any = None,
                partition: int | None = None, timestamp: datetime | None = None) -> Message:
        """Append a message as a producer would (keyed: librdkafka's partition); the stored one.

        ``value`` is stored as JSON (what the default deserializer reads), ``bytes`` and None
        as they are; ``key`` as UTF-8 text (``bytes`` as they are).
        """
        self._open()
        record = self._log.append(
            topic, _json(value), key=encode(key), headers=encode_headers(headers),
            partition=partition,
            timestamp_ms=None if timestamp is None else int(timestamp.timestamp() * 1000),
        )
        return Message.of(record, topic, record.partition(), deserializers_for(self._groups, topic))

    def partition_count(self, topic: str) -> int:
        """How many partitions ``topic`` has in the in-memory log."""
        return self._log.partition_count(topic)

    def partition_for(self, topic: str, key: Any) -> int | None:
        """The partition a message with ``key`` goes to (None: unkeyed, round-robin)."""
        self._open()
        return self._log.partition_for(topic, encode(key))

    def topic(self, name: str) -> list[Message]:
        """Every message a topic holds (produced by the test or by consumers), in order."""
        self._open()
        deserializers = deserializers_for(self._groups, name)
        return [Message.of(record, name, record.partition(), deserializers)
                for record in self._log.appended(name)]

    def committed(self, topic: str, partition: int, group: str | None = None) -> int | None:
        """The group's committed offset (the next to read); None when nothing was committed."""
        self._open()
        self._log.end(topic, partition)  # unknown topic or partition: a clear error
        return self._log.committed(self._consumer_group(topic, group), (topic, partition))

    def consumer_for(self, topic: str, partition: int, group: str | None = None
                     ) -> Consumer | None:
        """The live consumer instance of a partition (None before its first batch)."""
        self._open()
        return self._member(topic, group).consumer_for((topic, partition))

    # -- running -------------------------------------------------------------------------------

    def poll(self, limit: int | None = None) -> list[Messages]:
        """One fetch-loop iteration of every subscription group; the batches it ran.

        ``limit`` caps what each group's poll fetches (never more than ``max_messages``).
        """
        self._running()
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise HarnessError(f"poll(limit=...) takes an integer >= 1 or None (got {limit!r})")
        ran: list[Messages] = []
        for member in self._members:
            try:
                ran += member.poll(limit)
            except ProcessDeath:
                ran += member.queue.take_batches()
                self._die()
                break
        return ran

    def run(self, max_polls: int = 10_000) -> int:
        """Poll until idle (jumping the clock to each pause's end); the number of polls.

        Raises ``Stuck`` naming the partitions still holding work after ``max_polls`` polls,
        or once idle if failed messages were passed over (it never returns with work left).
        """
        self._running()
        polls = 0
        while True:
            due = self._next_due()
            if due is None:
                self._check_nothing_passed_over(polls)
                return polls
            if polls >= max_polls:
                raise Stuck(polls, [line for member in self._members
                                    for line in member.describe_work(self.history)])
            self.clock.advance_to(due)
            self.poll()
            polls += 1

    # -- faults --------------------------------------------------------------------------------

    def revoke(self, topic: str, partition: int, *, lost: bool = False,
               group: str | None = None) -> None:
        """Take a partition away, as the group would (hooks run now; committed unless lost)."""
        self._running()
        self._log.end(topic, partition)
        member = self._member(topic, group).holding((topic, partition), "revoke")
        self._surviving(lambda: member.revoke([(topic, partition)], lost))

    def assign(self, topic: str, partition: int, *, group: str | None = None) -> None:
        """Give a partition back (fetched from the group's commit, by a new consumer)."""
        self._running()
        self._log.end(topic, partition)
        self._member(topic, group).assign([(topic, partition)])

    def rebalance(self) -> None:
        """An eager rebalance of this lone member: everything revoked, everything assigned."""
        self._running()

        def rebalance() -> None:
            for member in self._members:
                member.revoke(list(member.client.positions), lost=False)
                member.assign(member.all_partitions)

        self._surviving(rebalance)

    def crash(self, after: int | None = None, *, at: str = "take") -> None:
        """SIGKILL now, or armed: at a take, a produce or a commit call (``Faults.arm_crash``).

        Nothing uncommitted survives; fresh consumers (no hook runs) start at once from the
        committed offsets (a process that dies while stopping stays stopped).
        """
        self._running()
        if self._faults.arm_crash(self._plan, after, at):
            self._die()

    def fail_produce(self, times: int = 1, *, topic: str | None = None,
                     timeout: bool = False) -> None:
        """The next ``times`` produce calls (to ``topic``, or any) fail (``Faults.producing``)."""
        self._open()
        if topic is not None:
            self._log.partition_count(topic)  # unknown topic: a clear error
        self._faults.fail_produce(times, topic, timeout)

    def lose(self, topic: str, partition: int, *, group: str | None = None) -> None:
        """The group gives a partition away unheard (``MemoryClient.lose``), to nobody."""
        self._running()
        self._log.end(topic, partition)
        self._member(topic, group).holding((topic, partition), "lose").client.lose(
            (topic, partition))

    def assigned(self, topic: str, partition: int, group: str | None = None) -> bool:
        """Whether the group assigns the partition here (not once ``lose`` gave it away)."""
        self._running()
        self._log.end(topic, partition)
        return self._member(topic, group).client.holds((topic, partition))

    def stop(self) -> None:
        """The graceful stop: shutdown hooks, flush, final commit, leave the group."""
        self._running()
        try:
            for member in self._members:
                member.stop()
        except ProcessDeath:
            self._kill()
            return
        self.producer.flush(1.0)
        self._members = []
        self._state = "stopped"

    def start(self) -> None:
        """Start (again) with fresh consumers, from the committed offsets."""
        self._open()
        if self._state == "running":
            raise HarnessError("the harness is already running")
        self._members = [self._new_member(group) for group in self._groups]
        self._state = "running"
        for member in self._members:
            member.open()

    def close(self) -> None:
        """Stop (if running) and let go of the app's monitor; the harness is done."""
        if self._state == "closed":
            return
        try:
            if self._state == "running":
                self.stop()
        finally:
            self._recorder.stop()
            for _, receiver in self._history_receivers:
                self.app.monitor.unsubscribe(receiver)
            self._state = "closed"

    def __enter__(self) -> Harness:
        """The harness itself."""
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Close; an error of the block is never hidden by one of the close."""
        if kind is None:
            self.close()
            return
        with contextlib.suppress(Exception):  # the block's own error is the one to see
            self.close()

    @property
    def groups(self) -> tuple[SubscriptionGroup, ...]:
        """The subscription groups the harness runs (one listener each)."""
        return self._groups

    @property
    def faults(self) -> Faults:
        """The armed producer and commit faults, and the calls they count."""
        return self._faults

    @property
    def state(self) -> str:
        """``running``, ``stopped`` or ``closed``."""
        return self._state

    # -- internals -----------------------------------------------------------------------------

    def _new_member(self, group: SubscriptionGroup) -> Member:
        return Member(group, self.app.monitor, self.app.settings, self.producer, log=self._log,
                      clock=self.clock, history=self.history, plan=self._plan,
                      faults=self._faults)

    def _surviving(self, call: Callable[[], None]) -> None:
        """Make a call of the group's; a crash armed at a commit in it kills the process."""
        try:
            call()
        except ProcessDeath:
            self._die()

    def _die(self) -> None:
        self._kill()
        self.start()

    def _kill(self) -> None:
        self.history.crashed()
        for member in self._members:
            member.kill()
        self._transport.drop_reports()
        self._members = []
        self._state = "stopped"

    def _check_nothing_passed_over(self, polls: int) -> None:
        lines = [line for member in self._members
                 for line in member.describe_passed_over(self.history)]
        if lines:
            raise Stuck(polls, lines, passed_over=True)

    def _next_due(self) -> float | None:
        now = self.clock.now()
        dues = [due for member in self._members if (due := member.next_due(now)) is not None]
        return min(dues) if dues else None

    def _members_for(self, topic: str, group: str | None) -> list[Member]:
        members = [m for m in self._members if topic in m.group.topic_names
                   and (group is None or m.group.consumer_group == group)]
        if not members:
            routed = ", ".join(self._log.routed) or "none"
            where = f" in consumer group {group!r}" if group else ""
            raise HarnessError(f"topic {topic!r} is not consumed{where} (routed: {routed})")
        return members

    def _member(self, topic: str, group: str | None) -> Member:
        members = self._members_for(topic, group)
        if len(members) > 1:
            names = ", ".join(sorted(m.group.consumer_group for m in members))
            raise HarnessError(f"topic {topic!r} is consumed by several consumer groups"
                               f" ({names}); pass group=")
        return members[0]

    def _consumer_group(self, topic: str, group: str | None) -> str:
        if group is not None:
            return group
        names = sorted({g.consumer_group for g in self._groups if topic in g.topic_names})
        if len(names) == 1:
            return names[0]
        if not names:
            raise HarnessError(f"topic {topic!r} is not consumed by any consumer group;"
                               " pass group=")
        raise HarnessError(f"topic {topic!r} is consumed by several consumer groups"
                           f" ({', '.join(names)}); pass group=")

    def _open(self) -> None:
        if self._state == "closed":
            raise HarnessError("this harness is closed; open a new Harness(app)")

    def _running(self) -> None:
        self._open()
        if self._state != "running":
            raise HarnessError("the harness is stopped: call kafka.start() first")

    def __repr__(self) -> str:
        """The app, the state and the virtual time."""
        return f"<Harness {self.app.settings.client_id!r} {self._state} at {self.clock}>"


def _clock(epoch: Epoch | None) -> VirtualClock:
    try:
        return VirtualClock(epoch)
    except ValueError as error:
        raise HarnessError(f"Harness(epoch=...): {error}") from None


def _json(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    return json.dumps(value).encode()
