"""Strategies: what happens after ``consume`` — mark and go on, or retry after a pause."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Message, Messages
    from engine.processing.outcome import Outcome
    from engine.processing.partition_context import PartitionContext
    from engine.producer import Producer
    from engine.routing.topic import Topic


class DefaultStrategy:
    """At-least-once: on success mark the batch's last message; on failure retry it.

    A strategy talks to the partition's context only; it never calls back into the executor.
    """

    auto_mark = True

    def __init__(self, monitor: Monitor) -> None:
        self._monitor = monitor

    def after_consume(self, context: PartitionContext, outcome: Outcome,
                      messages: Messages) -> None:
        """Apply the outcome of one consume job to its partition.

        A failure is retried even when the partition looks lost (an overdue poll): if it
        was, the seek is refused and the new owner starts from the commit; if it was not,
        nothing is skipped.
        """
        if outcome.error is None:
            if context.is_revoked:
                return  # nothing of it is ours to mark
            last = messages.metadata.last_offset
            context.state.succeed(last)
            if self.auto_mark and not context.state.manual and len(messages):
                context.mark(last)
            context.commit_pending()
            return
        context.commit_pending()  # what the consumer marked before failing is not retried
        if not self.dispatched_to_dead_letter_queue(context, outcome, messages):
            self.retry(context, outcome, messages)

    def retry(self, context: PartitionContext, outcome: Outcome, messages: Messages) -> None:
        """Seek back to the first unmarked offset and pause with back-off (reported)."""
        retry = context.fail(message.offset for message in messages)
        if retry is not None:
            offset, timeout, _ = retry
            self._monitor.instrument(
                "consumer.consuming.retry", outcome.consumer, topic=context.topic,
                partition=context.partition, offset=offset, timeout=timeout,
                attempt=context.attempt,
            )

    def dispatched_to_dead_letter_queue(
        self, context: PartitionContext, outcome: Outcome, messages: Messages
    ) -> bool:
        """Whether the failure was handled by sending a message away (no DLQ here)."""
        return False


class ManualOffsetStrategy(DefaultStrategy):
    """The consumer marks by itself; success never marks, failure still retries."""

    auto_mark = False


class DeadLetterStrategy(DefaultStrategy):
    """After ``max_retries`` retries, send the failing message to the DLQ topic and skip it."""

    def __init__(self, monitor: Monitor, producer: Producer, topic: str, max_retries: int,
                 consumer_group: str, manual: bool) -> None:
        super().__init__(monitor)
        self.auto_mark = not manual
        self._producer = producer
        self._topic = topic
        self._max_retries = max_retries
        self._consumer_group = consumer_group

    def dispatched_to_dead_letter_queue(
        self, context: PartitionContext, outcome: Outcome, messages: Messages
    ) -> bool:
        """Dispatch the first unprocessed message once its retries are used up.

        Only for an ``Exception``: a ``BaseException`` (``SystemExit``, ``KeyboardInterrupt``)
        says the process is going, not that the message is bad; its batch is retried.
        """
        if (context.attempt <= self._max_retries or context.is_revoked
                or not isinstance(outcome.error, Exception)):
            return False
        failing = _first_unmarked(context, messages)
        if failing is None:
            return False
        try:
            self._dispatch(context, failing, outcome.error)
        except Exception as error:  # noqa: BLE001 - reported; the batch is retried instead
            self._monitor.instrument(
                "error.occurred", outcome.consumer, type="dead_letter_queue.dispatch.error",
                error=error, topic=context.topic, partition=context.partition,
                offset=failing.offset, dlq_topic=self._topic,
            )
            return False
        self._monitor.instrument(
            "dead_letter_queue.dispatched", outcome.consumer, topic=context.topic,
            partition=context.partition, offset=failing.offset, dlq_topic=self._topic,
            message=failing, error=outcome.error,
        )
        context.state.succeed()  # settled: the next message is a first attempt
        if context.transactions is not None or context.mark(failing.offset):
            context.pause_at(failing.offset + 1, 0.0, manual=False)  # the rest, at once
        else:
            context.fail([failing.offset])  # not marked: fetch it again, never go past it
        return True

    def _dispatch(self, context: PartitionContext, failing: Message,
                  error: BaseException | None) -> None:
        """Send the copy; on a transactional app with its skip, in one transaction.

        So a crash never leaves the copy without the skip committed, or the reverse.
        """
        transactions = context.transactions
        if transactions is None:
            self._producer.dispatch(failing, self._topic, self._consumer_group, error)
            return
        with transactions.transaction():
            transactions.sender.sender.dispatch(failing, self._topic, self._consumer_group,
                                                error)
            transactions.mark(failing)


def _first_unmarked(context: PartitionContext, messages: Messages) -> Message | None:
    """The first message at or after the first unmarked offset (offsets may have gaps)."""
    first = context.state.first_unmarked
    if first is None:
        return None
    return next((message for message in messages if message.offset >= first), None)


def strategy_for(route: Topic, monitor: Monitor, producer: Producer,
                 consumer_group: str) -> DefaultStrategy:
    """The strategy matching a topic's flags."""
    dlq = route.dead_letter_queue
    if dlq is not None:
        return DeadLetterStrategy(monitor, producer, dlq.topic, dlq.max_retries, consumer_group,
                                  route.manual_offset_management)
    if route.manual_offset_management:
        return ManualOffsetStrategy(monitor)
    return DefaultStrategy(monitor)
