"""The harness: the user's app on the engine's own code, over an in-memory Kafka, one thread.

Over 250 lines for a reason: it is the kit's public API, one short method per call a test
makes. The work is elsewhere: ``members`` (processes and assignment), ``topics`` (set-up),
``log``, ``memory_client``, ``history``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from engine.messages import Message
from engine.processing.death import ProcessDeath
from engine.processing.partitions import PartitionKey
from engine.producer import encode
from engine.routing.selection import Selection
from engine.testing.clock import Epoch, VirtualClock
from engine.testing.crash import CrashPlan
from engine.testing.errors import HarnessError, Stuck
from engine.testing.events import EventLog, EventRecorder, HistoryFeed
from engine.testing.faults import Faults
from engine.testing.history import History
from engine.testing.log import Log
from engine.testing.member import Member
from engine.testing.members import Members
from engine.testing.memory_producer import MemoryProducer, encode_headers
from engine.testing.topics import (
    TopicSizes,
    consumer_group_of,
    create_topics,
    deserializers_for,
    subscription_index,
)

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
    timestamps are the same on every run). ``join()``, ``leave()`` and ``crash(member=)``
    add and take away processes of the app in its consumer groups (``engine.testing.members``).
    """

    def __init__(self, app: App, partitions: TopicSizes = None, *,
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
        self._feed = HistoryFeed(app.monitor, self.history, self._groups)
        self._feed.start()
        self._members = Members(self._groups, self._new_member, self._log)
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
        key = self._key(topic, partition)
        return self._log.committed(consumer_group_of(self._groups, topic, group), key)

    def consumer_for(self, topic: str, partition: int, group: str | None = None
                     ) -> Consumer | None:
        """The live consumer instance of a partition, in the member owning it.

        None before its first batch, or while nobody owns the partition.
        """
        self._open()
        index = subscription_index(self._groups, topic, group)
        owner = self._members.owner(index, (topic, partition))
        return None if owner is None else owner.consumer_for((topic, partition))

    def assignment(self, topic: str, group: str | None = None) -> dict[int, list[int]]:
        """Member number -> the partitions of ``topic`` it owns (every live member listed)."""
        self._open()
        return self._members.assignment(subscription_index(self._groups, topic, group), topic)

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
                self._die(member.number)
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
            due = self._members.next_due(self.clock.now())
            if due is None:
                passed_over = self._members.passed_over(self.history)
                if passed_over:
                    raise Stuck(polls, passed_over, passed_over=True)
                return polls
            if polls >= max_polls:
                raise Stuck(polls, self._members.work(self.history))
            self.clock.advance_to(due)
            self.poll()
            polls += 1

    # -- faults --------------------------------------------------------------------------------

    def revoke(self, topic: str, partition: int, *, lost: bool = False,
               group: str | None = None) -> None:
        """Take a partition away, as the group would (hooks run now; committed unless lost)."""
        self._running()
        owner = self._owner(topic, partition, group, "revoke")
        self._surviving(lambda: owner.revoke([(topic, partition)], lost), owner.number)

    def assign(self, topic: str, partition: int, *, group: str | None = None,
               member: int | None = None) -> None:
        """Give a partition (to ``member``, else the oldest): fetched from the group's commit.

        One ``lose`` gave away goes back to the member that lost it unless ``member=`` names
        another, which takes it once the loser heard it was lost.
        """
        self._running()
        index = subscription_index(self._groups, topic, group)
        key = self._key(topic, partition)
        owner = self._members.owner(index, key)
        if owner is not None and not owner.client.holds(key):  # lost, not heard yet
            if member is None or member == owner.number:
                member = owner.number
            else:
                loser = owner
                self._surviving(lambda: loser.revoke([key], lost=True), loser.number)
                owner = None
        target = self._members.member(index, member)
        if owner is not None and owner is not target:
            raise HarnessError(f"{topic}/{partition} is assigned to member {owner.number};"
                               " revoke it first")
        self._surviving(lambda: target.assign([key]), target.number)

    def rebalance(self) -> None:
        """An eager rebalance: everything revoked, everything assigned again by the assignor."""
        self._running()
        self._surviving(self._members.rebalance)

    def join(self) -> int:
        """Another process of the app joins its groups and takes its share; its member number."""
        self._running()
        joined: list[int] = []
        self._surviving(lambda: joined.append(self._members.join()))
        return joined[0] if joined else self.members[-1]

    def leave(self, member: int | None = None) -> None:
        """A member (the newest by default) stops gracefully; the others take its partitions."""
        self._running()
        number = self._members.numbers[-1] if member is None else member
        self._surviving(lambda: self._members.leave(number))

    def settle(self) -> None:
        """Partitions nobody owns (after ``revoke``) go to the members owning fewest."""
        self._running()
        self._members.settle()

    def crash(self, after: int | None = None, *, at: str = "take",
              member: int | None = None) -> None:
        """SIGKILL now, or armed: at a take, a produce or a commit call (``Faults.arm_crash``).

        Everything not committed is lost. The process comes back at once with fresh consumers
        (no hook runs) that start from the committed offsets; with other members alive, the
        killed one (``member=``, or the one running the job) stays dead and they take over.
        A process that dies while stopping stays stopped.
        """
        self._running()
        if member is not None and (after is not None or at != "take"):
            raise HarnessError("an armed crash kills the member that reaches it; member= is for"
                               " a crash now")
        if self._faults.arm_crash(self._plan, after, at):
            self._die(member)

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
        self._owner(topic, partition, group, "lose").client.lose((topic, partition))

    def assigned(self, topic: str, partition: int, group: str | None = None) -> bool:
        """Whether the group assigns the partition to a member (not once ``lose`` gave it away)."""
        self._running()
        index, key = subscription_index(self._groups, topic, group), self._key(topic, partition)
        owner = self._members.owner(index, key)
        return owner is not None and owner.client.holds(key)

    def stop(self) -> None:
        """The graceful stop: shutdown hooks, flush, final commit, leave the group."""
        self._running()
        try:
            self._members.stop()
        except ProcessDeath:
            self._kill()
            return
        self.producer.flush(1.0)
        self._state = "stopped"

    def start(self) -> None:
        """Start (again) with fresh consumers, from the committed offsets."""
        self._open()
        if self._state == "running":
            raise HarnessError("the harness is already running")
        self._state = "running"
        self._members.start()

    def close(self) -> None:
        """Stop (if running) and let go of the app's monitor; the harness is done."""
        if self._state == "closed":
            return
        try:
            if self._state == "running":
                self.stop()
        finally:
            self._recorder.stop()
            self._feed.stop()
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
    def members(self) -> tuple[int, ...]:
        """The live members' numbers (0 is the process ``start()`` runs; ``join()`` adds)."""
        return self._members.numbers

    @property
    def faults(self) -> Faults:
        """The armed producer and commit faults, and the calls they count."""
        return self._faults

    @property
    def state(self) -> str:
        """``running``, ``stopped`` or ``closed``."""
        return self._state

    # -- internals -----------------------------------------------------------------------------

    def _new_member(self, subscription_group: SubscriptionGroup, number: int) -> Member:
        return Member(subscription_group, self.app.monitor, self.app.settings, self.producer,
                      log=self._log, clock=self.clock, history=self.history, plan=self._plan,
                      faults=self._faults, number=number)

    def _owner(self, topic: str, partition: int, consumer_group: str | None, call: str) -> Member:
        """The member owning the partition (else a ``HarnessError``: nothing to ``call``)."""
        index = subscription_index(self._groups, topic, consumer_group)
        owner = self._members.owner(index, self._key(topic, partition))
        if owner is None:
            raise HarnessError(f"{topic}/{partition} is not assigned; nothing to {call}")
        return owner

    def _surviving(self, call: Callable[[], None], member: int | None = None) -> None:
        """Make a call of the group's; a crash armed at a commit in it kills the process.

        ``member`` is the process the call runs in (None: several, so all of them die).
        """
        try:
            call()
        except ProcessDeath:
            self._die(member)

    def _die(self, number: int | None) -> None:
        """A process dies: the only one (or ``None``: all) comes back; else the rest take over."""
        if number is not None:
            self._members.check(number)
        if number is None or len(self.members) == 1:
            self._kill()
            self.start()
            return
        self.history.crashed(self._members.die(number))

    def _kill(self) -> None:
        """Every process dies; the harness is stopped."""
        self.history.crashed()
        self._members.kill()
        self._transport.drop_reports()
        self._state = "stopped"

    def _key(self, topic: str, partition: int) -> PartitionKey:
        self._log.end(topic, partition)  # unknown topic or partition: a clear error
        return (topic, partition)

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
