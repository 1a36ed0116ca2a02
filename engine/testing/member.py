"""One subscription group inside the harness: the engine's listener over an in-memory client."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, cast

from engine.connection.listener import Listener
from engine.consumer import Consumer
from engine.processing.partitions import PartitionKey
from engine.testing.crash import CrashPlan
from engine.testing.crashing_executors import crashing_executor
from engine.testing.faults import Faults
from engine.testing.harness_loop import HarnessLoop
from engine.testing.inline_queue import InlineQueue
from engine.testing.interleave import Interleaving
from engine.testing.memory_client import MemoryClient
from engine.testing.memory_transactions import MemoryTransactions
from engine.transactions.producers import at_once

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Messages
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup
    from engine.testing.clock import VirtualClock
    from engine.testing.history import History
    from engine.testing.log import Log


class Member:
    """A group member as one process runs it: the real ``Listener`` and its jobs, inline.

    ``number`` is the process's (``engine.testing.members``); the history records it.
    """

    def __init__(self, subscription_group: SubscriptionGroup, monitor: Monitor, settings: Settings,
                 producer: Producer, *, log: Log, clock: VirtualClock, history: History,
                 plan: CrashPlan, faults: Faults, number: int = 0,
                 interleaving: Interleaving | None = None, loop: HarnessLoop | None = None,
                 transactions: MemoryTransactions | None = None) -> None:
        self.subscription_group = subscription_group
        self.number = number
        self._log = log
        self.queue = InlineQueue(monitor, interleaving, loop)

        def client(subscription_group: SubscriptionGroup, monitor: Monitor,
                   listener: object) -> MemoryClient:
            return MemoryClient(subscription_group, monitor, listener, log, clock, history, faults)

        executor = functools.partial(crashing_executor,
                                     stall_threshold=settings.loop_stall_threshold,
                                     consumer_group=subscription_group.consumer_group,
                                     plan=plan, history=history, member=number,
                                     wall_offset=clock.wall() - clock.now())
        coordinator = transactions or MemoryTransactions(log, faults, history)
        self.listener = Listener(subscription_group, self.queue, monitor, settings, producer,
                                 client_factory=client, executor_factory=executor,
                                 clock=clock.now, transactional_factory=coordinator.client,
                                 transactional_warm_up=at_once)

    @property
    def client(self) -> MemoryClient:
        """The listener's in-memory client."""
        return cast(MemoryClient, self.listener.client)

    def open(self, keys: list[PartitionKey]) -> None:
        """Start the listener, take the partitions the group gives, enter the fetch loop."""
        self.listener.open()
        self.client.assign(keys)

    def poll(self, limit: int | None) -> list[Messages]:
        """One fetch-loop iteration; the batches it ran (a process death goes through)."""
        if self.client.lost:  # the poll hears of partitions the group gave away
            self.revoke(sorted(self.client.lost), lost=True)
        self.client.fetch_limit = limit
        try:
            self.listener.iterate()
        finally:
            self.client.fetch_limit = None
        return self.queue.take_batches()

    def revoke(self, keys: list[PartitionKey], lost: bool) -> None:
        """The group takes partitions away; their consumers hear ``revoked`` now."""
        self.client.revoke(keys, lost)
        self.listener.after_rebalance([])

    def assign(self, keys: list[PartitionKey]) -> None:
        """The group gives partitions (fetched from the next poll).

        One given away that the member has not heard of yet is heard lost first.
        """
        unheard = [key for key in keys if key in self.client.lost]
        if unheard:
            self.revoke(unheard, lost=True)
        self.client.assign(keys)

    def stop(self) -> None:
        """The graceful stop: quiet (shutdown hooks), then flush, commit, leave and close."""
        self.listener.quiet()
        self.listener.close(serve_quiet=False)

    def kill(self) -> None:
        """SIGKILL: nothing more runs; what was stored but not committed is gone."""
        self.client.kill()

    def consumer_for(self, key: PartitionKey) -> Consumer | None:
        """The live consumer instance of a partition, if one was built."""
        if key not in self.listener.partitions:
            return None
        return self.listener.partitions.get(key).executor.consumer

    def next_due(self, now: float) -> float | None:
        """When this member next has work: ``now``, a pause's end, or None (idle)."""
        due: float | None = None
        for key in self.client.holding_work():
            if key not in self.client.paused:
                return now
            if key in self.listener.partitions:
                until = self.listener.partitions.get(key).state.paused_until
                if until is not None:
                    due = until if due is None else min(due, until)
        return due

    def describe_work(self, history: History) -> list[str]:
        """A line per partition that still holds work."""
        lines = []
        consumer_group = self.subscription_group.consumer_group
        for key in self.client.holding_work():
            position = self.client.positions[key]
            line = (f"{key[0]}/{key[1]} ({consumer_group}): at offset {position},"
                    f" {self._log.end(*key) - position} message(s) left")
            if key in self.listener.partitions:
                line += f", attempt {self.listener.partitions.get(key).state.attempt}"
            error = history.last_error.get(key)
            if error is not None:
                line += f", last error {error!r}"
            lines.append(line)
        return lines

    def describe_passed_over(self, history: History) -> list[str]:
        """A line per partition fetched past failed messages it never retried."""
        lines = []
        consumer_group = self.subscription_group.consumer_group
        for key, position in self.client.positions.items():
            failed = history.passed_over(consumer_group, key, position)
            if failed:
                error = history.last_error.get(key)
                lines.append(f"{key[0]}/{key[1]} ({consumer_group}): fetching at"
                             f" {position}, past failed offset(s)"
                             f" {', '.join(str(f.offset) for f in failed)}, never retried,"
                             f" processed or dead-lettered (last error {error!r})")
        return lines
