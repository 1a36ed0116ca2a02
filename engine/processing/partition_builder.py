"""The one place a served partition's pieces are built and wired together."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.aio.executor import AsyncExecutor
from engine.processing.backoff import Backoff
from engine.processing.executor import Executor
from engine.processing.partition_context import PartitionContext
from engine.processing.partition_state import PartitionState
from engine.processing.partitions import PartitionKey, Served
from engine.processing.strategies import DefaultStrategy, strategy_for
from engine.processing.virtual_batch import VirtualBatch
from engine.producer import ProducerClientFactory, kafka_producer
from engine.transactions.partition import PartitionTransactions
from engine.transactions.producers import (
    BuildLocks,
    TransactionalProducers,
    WarmUp,
    in_background,
)

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.instrumentation.monitor import Monitor
    from engine.processing.offsets_port import OffsetsPort
    from engine.producer import Producer
    from engine.routing.subscription_group import SubscriptionGroup
    from engine.routing.topic import Topic

ExecutorFactory = Callable[["Topic", int, PartitionContext, "Monitor", Callable[[], float]],
                           Executor]
"""Builds a partition's executor: ``(route, partition, context, monitor, clock)``.

An async consumer's route (``Topic.is_async``) needs an ``AsyncExecutor``.
"""


class PartitionBuilder:
    """Builds what a subscription group's partition needs once it is served.

    A state (pure), a context over the partition's offsets port (the consumer's runtime),
    an executor for its consumer, and its topic's strategy (one per topic, shared).
    """

    def __init__(self, subscription_group: SubscriptionGroup, monitor: Monitor,
                 settings: Settings, producer: Producer, *,
                 executor_factory: ExecutorFactory | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 transactional_factory: ProducerClientFactory = kafka_producer,
                 transactional_warm_up: WarmUp = in_background,
                 build_locks: BuildLocks | None = None) -> None:
        self._group = subscription_group
        self._monitor = monitor
        self._producer = producer
        self._executor_factory = executor_factory or self._executor
        self._stall_threshold = settings.loop_stall_threshold
        self._clock = clock
        self._concurrency = settings.concurrency
        self._backoff = Backoff(settings.pause_timeout, settings.pause_max_timeout,
                                settings.pause_with_exponential_backoff)
        self._strategies: dict[str, DefaultStrategy] = {
            topic.name: strategy_for(topic, monitor, producer, subscription_group.consumer_group)
            for topic in subscription_group.topics
        }
        self.transactional: TransactionalProducers | None = None
        """The partitions' transactional producers (an app with ``transactional_id``)."""
        if settings.transactional_id is not None:
            self.transactional = TransactionalProducers(
                settings, subscription_group.consumer_group, producer,
                client_factory=transactional_factory, warm_up=transactional_warm_up,
                build_locks=build_locks)

    def prepare(self, keys: set[PartitionKey]) -> None:
        """Partitions were assigned: build what their first batch would wait for."""
        if self.transactional is not None:
            self.transactional.prepare(keys)

    def release(self, keys: set[PartitionKey] | None = None) -> None:
        """Partitions were taken away (``None``: all of them): close what ``prepare`` built."""
        if self.transactional is None:
            return
        if keys is None:
            self.transactional.close_all()
        else:
            self.transactional.close(keys)

    def build(self, key: PartitionKey, port: OffsetsPort) -> Served:
        """Everything the partition ``key`` needs, its offsets going through ``port``."""
        topic, number = key
        state = PartitionState(topic, number, self._backoff, self._clock)
        context = PartitionContext(state, port, self._producer, self._monitor)
        if self.transactional is not None:
            context.transactions = PartitionTransactions(
                self.transactional, state, self._monitor, port.group_metadata,
                lambda: context.consumer)
        route = self._group.topic(topic)
        if route.virtual_partitions is not None:
            return self._virtual(route, number, context, port)
        executor = self._executor_factory(route, number, context, self._monitor, self._clock)
        return Served(state, executor, self._strategies[topic], context)

    def _executor(self, route: Topic, number: int, context: PartitionContext, monitor: Monitor,
                  clock: Callable[[], float]) -> Executor:
        """The engine's executor: an async consumer's awaits its hooks on the loop."""
        if route.is_async:
            return AsyncExecutor(route, number, context, monitor, self._stall_threshold, clock)
        return Executor(route, number, context, monitor, clock)

    def _virtual(self, route: Topic, number: int, context: PartitionContext,
                 port: OffsetsPort) -> Served:
        """A partition of a topic with virtual partitions: one executor per virtual one."""
        settings = route.virtual_partitions
        assert settings is not None

        def executor_for(virtual_context: PartitionContext) -> Executor:
            return self._executor_factory(route, number, virtual_context, self._monitor,
                                          self._clock)

        virtual = VirtualBatch(route, settings, settings.partitions(self._concurrency), context,
                               port, self._producer, self._monitor, executor_for)
        return Served(context.state, virtual.executor(0), self._strategies[route.name], context,
                      virtual)
