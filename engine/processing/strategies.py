"""Strategies: what happens after ``consume`` — mark and go on, or retry after a pause."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.messages import Messages
    from engine.processing.executor import Executor


class DefaultStrategy:
    """At-least-once: on success mark the batch's last message; on failure retry it."""

    auto_mark = True

    def after_consume(self, executor: Executor, messages: Messages) -> None:
        """Apply the outcome of one consume job."""
        coordinator = executor.coordinator
        if coordinator.revoked:
            return
        if coordinator.failure is None:
            coordinator.pause_tracker.reset()
            if self.auto_mark and not coordinator.manual and len(messages):
                executor.runtime.mark_offset(messages.metadata.last_offset, sync=False)
            return
        if not self.dispatched_to_dead_letter_queue(executor, messages):
            executor.retry_after_pause()

    def dispatched_to_dead_letter_queue(self, executor: Executor, messages: Messages) -> bool:
        """Whether the failure was handled by sending a message away (no DLQ here)."""
        return False


class ManualOffsetStrategy(DefaultStrategy):
    """The consumer marks by itself; success never marks, failure still retries."""

    auto_mark = False


class DeadLetterStrategy(DefaultStrategy):
    """After ``max_retries`` retries, send the failing message to the DLQ topic and skip it."""

    def __init__(self, manual: bool) -> None:
        self.auto_mark = not manual

    def dispatched_to_dead_letter_queue(self, executor: Executor, messages: Messages) -> bool:
        """Dispatch the first unprocessed message once its retries are used up."""
        dlq = executor.route.dead_letter_queue
        tracker = executor.coordinator.pause_tracker
        if dlq is None or tracker.attempt <= dlq.max_retries:
            return False
        return executor.dispatch_to_dead_letter_queue(messages, dlq.topic)


def strategy_for(manual_offset_management: bool, dead_letter_queue: bool) -> DefaultStrategy:
    """The strategy matching a topic's flags."""
    if dead_letter_queue:
        return DeadLetterStrategy(manual_offset_management)
    return ManualOffsetStrategy() if manual_offset_management else DefaultStrategy()
