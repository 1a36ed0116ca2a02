"""The harness: the user's app on the engine's own code, over an in-memory Kafka, one thread.

The kit's public API, one short method per call a test makes (docs/guides/testing.md says
what each does). The work is elsewhere: ``topics`` (set-up, producing and reading),
``group_verbs`` (faults and members coming and going), ``members`` (processes and
assignment), ``faults``, ``log``, ``memory_client``, ``history``. Just over 250 lines: one
short method per public call, each with its docstring, and nothing else.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from engine.routing.selection import Selection
from engine.testing.clock import Epoch, VirtualClock
from engine.testing.crash import CrashPlan
from engine.testing.errors import HarnessError
from engine.testing.events import EventLog, EventRecorder, HistoryFeed
from engine.testing.faults import Faults
from engine.testing.group_verbs import GroupVerbs
from engine.testing.harness_loop import HarnessLoop
from engine.testing.harness_state import HarnessState
from engine.testing.history import History
from engine.testing.interleave import Interleave, Interleaving
from engine.testing.log import Log
from engine.testing.member import Member
from engine.testing.members import Members
from engine.testing.memory_producer import MemoryProducer
from engine.testing.memory_transactions import MemoryTransactions
from engine.testing.polling import Polling
from engine.testing.topics import Topics, TopicSizes, create_topics

if TYPE_CHECKING:
    from engine.app import App
    from engine.consumer import Consumer
    from engine.messages import Message, Messages
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
    ``interleave`` orders the jobs of a batch's virtual partitions, which workers would run
    side by side (``interleave()``).
    """

    def __init__(self, app: App, partitions: TopicSizes = None, *,
                 consumer_groups: tuple[str, ...] = (), topics: tuple[str, ...] = (),
                 epoch: Epoch | None = None, interleave: Interleave = None) -> None:
        self.app = app
        self._interleaving = Interleaving(interleave)
        self._loop = HarnessLoop()  # async consumers' jobs run on it
        self.clock = _clock(epoch)
        self.events = EventLog()
        self._log = Log(self.clock.wall)
        self.history = History(self._log.end)
        self._log.on_commit = self.history.committed
        self._groups = app.subscription_groups(
            Selection(consumer_groups=tuple(consumer_groups), topics=tuple(topics)))
        create_topics(self._log, app, self._groups, partitions)
        self.history.split_by(_partitioners(self._groups))
        self._faults = Faults()
        self._faults.on_produce_failed = self.history.produce_failed
        self.transactions = MemoryTransactions(self._log, self._faults, self.history)
        """The transaction coordinator: ``outcomes`` of the app's transactions, in order."""
        self._faults.on_death = self.transactions.die
        self._transport = MemoryProducer(self._log, self._faults)
        self.producer = app.producer.rebuilt(client_factory=lambda config: self._transport)
        self._plan = CrashPlan()
        self._plan.on_death = self.transactions.die
        self._members = Members(self._groups, self._new_member, self._log)
        feeds = (EventRecorder(app.monitor, self.events),
                 HistoryFeed(app.monitor, self.history, self._groups))
        self._state = HarnessState(self._members, self.history, self.producer, self._transport,
                                   feeds, self.transactions)
        die = self._state.die
        self._topics = Topics(self._log, self._groups)
        self.history.read_topics(self._topics.messages, self._log.never_delivered)
        self._verbs = GroupVerbs(self._topics, self._members, self._faults, self._plan, die)
        self._polling = Polling(self._members, self.clock, self.history, die)
        self.start()

    # -- producing and reading -----------------------------------------------------------------

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create a topic that is not routed (one consumers produce to, say)."""
        self._state.check_open()
        self._log.create_topic(name, partitions)

    def produce(self, topic: str, value: Any, *, key: Any = None, headers: Any = None,
                partition: int | None = None, timestamp: datetime | None = None) -> Message:
        """Append a message as a producer would (keyed: librdkafka's partition); the stored one."""
        self._state.check_open()
        return self._topics.produce(topic, value, key, headers, partition, timestamp)

    def partition_count(self, topic: str) -> int:
        """How many partitions ``topic`` has in the in-memory log."""
        return self._log.partition_count(topic)

    def partition_for(self, topic: str, key: Any) -> int | None:
        """The partition a message with ``key`` goes to (None: unkeyed, round-robin)."""
        self._state.check_open()
        return self._topics.partition_for(topic, key)

    def topic(self, name: str, *, committed_only: bool = True) -> list[Message]:
        """The messages a ``read_committed`` reader sees in a topic, in the order appended.

        ``committed_only=False``: every message, those of aborted or still open
        transactions too (what a ``read_uncommitted`` reader sees).
        """
        self._state.check_open()
        return self._topics.messages(name, committed_only)

    def committed(self, topic: str, partition: int, group: str | None = None) -> int | None:
        """The group's committed offset (the next to read); None when nothing was committed."""
        self._state.check_open()
        return self._topics.committed(topic, partition, group)

    def high_watermark(self, topic: str, partition: int) -> int:
        """The offset the partition's next record gets (transaction markers count, as on Kafka)."""
        self._state.check_open()
        return self._log.end(*self._topics.key(topic, partition))

    def consumer_for(self, topic: str, partition: int, group: str | None = None
                     ) -> Consumer | None:
        """The live consumer of a partition in its owner (None before its first batch, unowned)."""
        self._state.check_open()
        return self._verbs.consumer_for(topic, partition, group)

    def assignment(self, topic: str, group: str | None = None) -> dict[int, list[int]]:
        """Member number -> the partitions of ``topic`` it owns (every live member listed)."""
        self._state.check_open()
        return self._verbs.assignment(topic, group)

    # -- running -------------------------------------------------------------------------------

    def poll(self, limit: int | None = None) -> list[Messages]:
        """One fetch-loop iteration of every subscription group (``limit`` caps each fetch)."""
        self._state.check_running()
        return self._polling.poll(limit)

    def run(self, max_polls: int = 10_000) -> int:
        """Poll until idle (jumping the clock to each pause's end); ``Stuck`` if work is left."""
        self._state.check_running()
        return self._polling.run(max_polls)

    def interleave(self, order: Interleave) -> None:
        """How the jobs of one batch's virtual partitions run from now on, one after the other.

        None: in push order (virtual partition order); an int: shuffled by a generator seeded
        with it (a replay reproduces the orders); a ``random.Random`` (hypothesis's
        ``st.randoms()``): shuffled by it; a function: given the jobs, returns them in the
        order to run. Other jobs keep their order.
        """
        self._interleaving.set(order)

    # -- faults --------------------------------------------------------------------------------

    def revoke(self, topic: str, partition: int, *, lost: bool = False,
               group: str | None = None) -> None:
        """Take a partition away, as the group would (hooks run now; committed unless lost)."""
        self._state.check_running()
        self._verbs.revoke(topic, partition, lost, group)

    def assign(self, topic: str, partition: int, *, group: str | None = None,
               member: int | None = None) -> None:
        """Give a partition (to ``member``, else the oldest): fetched from the group's commit."""
        self._state.check_running()
        self._verbs.assign(topic, partition, group, member)

    def rebalance(self) -> None:
        """An eager rebalance: everything revoked, everything assigned again by the assignor."""
        self._state.check_running()
        self._verbs.rebalance()

    def join(self) -> int:
        """Another process of the app joins its groups and takes its share; its member number."""
        self._state.check_running()
        return self._verbs.join()

    def leave(self, member: int | None = None) -> None:
        """A member (the newest by default) stops gracefully; the others take its partitions."""
        self._state.check_running()
        self._verbs.leave(member)

    def settle(self) -> None:
        """Partitions nobody owns (after ``revoke``) go to the members owning fewest."""
        self._state.check_running()
        self._verbs.settle()

    def crash(self, after: int | None = None, *, at: str = "take",
              member: int | None = None) -> None:
        """SIGKILL now, or armed: at a take, a produce or a commit call (``Faults.arm_crash``)."""
        self._state.check_running()
        self._verbs.crash(after, at, member)

    def fail_produce(self, times: int = 1, *, topic: str | None = None,
                     timeout: bool = False) -> None:
        """The next ``times`` produce calls (to ``topic``, or any) fail (``Faults.producing``)."""
        self._state.check_open()
        if topic is not None:
            self._log.partition_count(topic)  # unknown topic: a clear error
        self._faults.fail_produce(times, topic, timeout)

    def lose(self, topic: str, partition: int, *, group: str | None = None) -> None:
        """The group gives a partition away unheard (``MemoryClient.lose``), to nobody."""
        self._state.check_running()
        self._verbs.lose(topic, partition, group)

    def assigned(self, topic: str, partition: int, group: str | None = None) -> bool:
        """Whether the group assigns the partition to a member (not once ``lose`` gave it away)."""
        self._state.check_running()
        return self._verbs.assigned(topic, partition, group)

    def stop(self) -> None:
        """The graceful stop: shutdown hooks, flush, final commit, leave the group."""
        self._state.stop()

    def start(self) -> None:
        """Start (again) with fresh consumers, from the committed offsets."""
        self._state.start()

    def close(self) -> None:
        """Stop (if running) and let go of the app's monitor; the harness is done."""
        try:
            self._state.close()
        finally:
            self._loop.close()

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
        return self._state.name

    # -- internals -----------------------------------------------------------------------------

    def _new_member(self, subscription_group: SubscriptionGroup, number: int) -> Member:
        return Member(subscription_group, self.app.monitor, self.app.settings, self.producer,
                      log=self._log, clock=self.clock, history=self.history, plan=self._plan,
                      faults=self._faults, number=number, interleaving=self._interleaving,
                      loop=self._loop, transactions=self.transactions)

    def __repr__(self) -> str:
        """The app, the state and the virtual time."""
        return f"<Harness {self.app.settings.client_id!r} {self._state.name} at {self.clock}>"


def _clock(epoch: Epoch | None) -> VirtualClock:
    try:
        return VirtualClock(epoch)
    except ValueError as error:
        raise HarnessError(f"Harness(epoch=...): {error}") from None



def _partitioners(groups: tuple[SubscriptionGroup, ...]) -> dict[tuple[str, str], Any]:
    """(consumer group, topic) -> the partitioner, for each topic with virtual partitions."""
    return {(group.consumer_group, route.name): route.virtual_partitions.partitioner
            for group in groups for route in group.topics
            if route.virtual_partitions is not None}
