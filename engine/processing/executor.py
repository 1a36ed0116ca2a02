"""One executor per (topic, partition): builds the user's consumer and runs its hooks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.consumer import Consumer
from engine.errors import DeserializationError
from engine.messages import Messages, RawMessage
from engine.messages.deserializers import Deserializers, json_payload, utf8_key
from engine.processing.coordinator import Coordinator
from engine.processing.pause_tracker import PauseTracker
from engine.processing.runtime import Runtime
from engine.processing.strategies import strategy_for

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.connection.client import Client
    from engine.instrumentation.monitor import Monitor
    from engine.producer import Producer
    from engine.routing.topic import Topic


_HOOK_ERRORS = {
    "revoked": "consumer.revoked.error",
    "shutdown": "consumer.shutdown.error",
    "eofed": "consumer.eofed.error",
}


class Executor:
    """Runs the hooks of one partition's consumer instance, reporting every outcome."""

    def __init__(
        self, route: Topic, partition: int, group_id: str, client: Client,
        monitor: Monitor, settings: Settings, producer: Producer,
    ) -> None:
        self.route = route
        self.topic = route.name
        self.partition = partition
        self.group_id = group_id
        self.client = client
        self.monitor = monitor
        self.producer = producer
        self.coordinator = Coordinator(route.name, partition, PauseTracker(
            settings.pause_timeout, settings.pause_max_timeout,
            settings.pause_with_exponential_backoff,
        ))
        self.runtime = Runtime(self)
        self.strategy = strategy_for(
            route.manual_offset_management, route.dead_letter_queue is not None
        )
        self.consumer: Consumer | None = None
        self._deserializers = Deserializers(
            route.deserializer or json_payload, route.key_deserializer or utf8_key
        )
        self._consume_signal = monitor.signal("consumer.consume")
        self._consumed_signal = monitor.signal("consumer.consumed")

    def batch(self, raws: Sequence[RawMessage], polled_at: float) -> Messages:
        """Wrap polled messages of this partition as one batch (listener thread)."""
        messages = Messages(raws, self.topic, self.partition, polled_at, self._deserializers)
        self.coordinator.start(messages.metadata.first_offset)
        return messages

    def consume(self, messages: Messages) -> None:
        """Run ``consume`` on one batch, then let the strategy mark or retry (worker thread)."""
        consumer = self.consumer or self._build()
        coordinator = self.coordinator
        coordinator.pause_tracker.attempt += 1
        consumer.messages = messages
        messages.metadata.processed_at = time.monotonic()
        self._run("consume", consumer, lambda: self._consume(consumer, messages))
        self.strategy.after_consume(self, messages)

    def _consume(self, consumer: Consumer, messages: Messages) -> None:
        attempt = self.coordinator.pause_tracker.attempt
        if self._consume_signal.receivers:
            self.monitor.instrument("consumer.consume", consumer, topic=self.topic,
                                    partition=self.partition, messages=messages, attempt=attempt)
        started = time.perf_counter()
        consumer.consume(messages)
        if self._consumed_signal.receivers:
            self.monitor.instrument(
                "consumer.consumed", consumer, topic=self.topic, partition=self.partition,
                messages=messages, attempt=attempt, time=time.perf_counter() - started,
            )

    def revoked(self) -> None:
        """Run the ``revoked`` hook (the partition is already marked revoked)."""
        self.coordinator.pause_tracker.resume()
        if self.consumer is not None:
            consumer = self.consumer
            self._run("revoked", consumer, lambda: self._measured(
                consumer, "consumer.revoke", "consumer.revoked", consumer.revoked))

    def shutdown(self) -> None:
        """Run the ``shutdown`` hook."""
        if self.consumer is not None:
            consumer = self.consumer
            self._run("shutdown", consumer, lambda: self._measured(
                consumer, "consumer.shutting_down", "consumer.shutdown", consumer.shutdown))

    def eofed(self) -> None:
        """Run the ``eofed`` hook."""
        consumer = self.consumer or self._build()
        self._run("eofed", consumer, lambda: self._measured(
            consumer, "consumer.eof", "consumer.eofed", consumer.eofed))

    def retry_after_pause(self) -> None:
        """Seek back to the first unmarked offset and pause with back-off."""
        coordinator = self.coordinator
        tracker = coordinator.pause_tracker
        offset, timeout = coordinator.seek_offset, tracker.backoff()
        if offset is None:
            return
        self._pause_at(offset, timeout)
        self.monitor.instrument(
            "consumer.consuming.retry", self.consumer, topic=self.topic,
            partition=self.partition, offset=offset, timeout=timeout, attempt=tracker.attempt,
        )

    def pause(self, offset: int | None, timeout: float | None, manual: bool) -> None:
        """Pause the partition until ``timeout`` (default: back-off), resuming at ``offset``."""
        tracker = self.coordinator.pause_tracker
        timeout = tracker.backoff() if timeout is None else timeout
        self.coordinator.manual_pause = manual
        if offset is not None:
            self._pause_at(offset, timeout)
        self.monitor.instrument(
            "consumer.consuming.pause", self.consumer, topic=self.topic, partition=self.partition,
            offset=offset, timeout=timeout, attempt=tracker.attempt, manual=manual,
        )

    def _pause_at(self, offset: int, timeout: float) -> None:
        self.client.pause(self.topic, self.partition, offset=offset, timeout=timeout)
        self.client.seek(self.topic, self.partition, offset)
        self.coordinator.seek_offset = offset
        self.coordinator.pause_tracker.pause(timeout)

    def resume(self) -> None:
        """Resume the partition now (the listener resumes it before its next poll)."""
        self.coordinator.pause_tracker.paused_until = time.monotonic()

    def seek(self, target: int | datetime | str) -> None:
        """Move the fetch position; the current batch is no longer auto-marked."""
        offset = self.client.seek_target(self.topic, self.partition, target)
        self.coordinator.manual_seek = True
        if isinstance(target, int):
            self.coordinator.seek_offset = target
        self.monitor.instrument("consumer.consuming.seek", self.consumer, topic=self.topic,
                                partition=self.partition, offset=offset)

    def dispatch_to_dead_letter_queue(self, messages: Messages, dlq_topic: str) -> bool:
        """Send the first unprocessed message to ``dlq_topic``, mark it, and retry the rest."""
        failing = next((m for m in messages if m.offset == self.coordinator.seek_offset), None)
        if failing is None:
            return False
        try:
            self.producer.dispatch(failing, dlq_topic, self.group_id)
        except Exception as error:  # noqa: BLE001 - reported; the batch is retried instead
            self.monitor.instrument("error.occurred", self.consumer,
                                    type="dead_letter_queue.dispatch.error", error=error,
                                    topic=self.topic, partition=self.partition,
                                    offset=failing.offset, dlq_topic=dlq_topic)
            return False
        self.monitor.instrument("dead_letter_queue.dispatched", self.consumer, topic=self.topic,
                                partition=self.partition, offset=failing.offset,
                                dlq_topic=dlq_topic, message=failing)
        self.coordinator.pause_tracker.reset()
        self.runtime.mark_offset(failing.offset, sync=False)
        self._pause_at(failing.offset + 1, 0.0)
        return True

    def _build(self) -> Consumer:
        consumer = self.route.consumer_class()
        consumer.topic, consumer.partition = self.topic, self.partition
        consumer._runtime = self.runtime
        self.consumer = consumer
        started = time.perf_counter()
        try:
            consumer.initialized()
        except Exception as error:  # noqa: BLE001 - user hook; reported, the consumer still runs
            self._report("consumer.initialized.error", consumer, error)
        else:
            self.monitor.instrument("consumer.initialized", consumer, topic=self.topic,
                                    partition=self.partition, time=time.perf_counter() - started)
        return consumer

    def _measured(
        self, consumer: Consumer, before: str, after: str, hook: Callable[[], None]
    ) -> None:
        self.monitor.instrument(before, consumer, topic=self.topic, partition=self.partition)
        started = time.perf_counter()
        hook()
        self.monitor.instrument(after, consumer, topic=self.topic, partition=self.partition,
                                time=time.perf_counter() - started)

    def _run(self, action: str, consumer: Consumer, call: Callable[[], None]) -> None:
        """Run a hook inside the consumer's ``wrap``; hook and wrap errors are told apart."""
        if type(consumer).wrap is Consumer.wrap:
            self._guarded(action, consumer, call)
            return
        try:
            with consumer.wrap(action):
                self._guarded(action, consumer, call)
        except Exception as error:  # noqa: BLE001 - user hook; reported, never fatal
            self._report("consumer.wrap.error", consumer, error, action=action)
            if action == "consume" and self.coordinator.failure is None:
                self.coordinator.failure = error

    def _guarded(self, action: str, consumer: Consumer, call: Callable[[], None]) -> None:
        try:
            call()
        except Exception as error:  # noqa: BLE001 - user code; reported, never fatal
            if action != "consume":
                self._report(_HOOK_ERRORS[action], consumer, error)
                return
            self.coordinator.failure = error
            kind = (
                "consumer.deserialize.error" if isinstance(error, DeserializationError)
                else "consumer.consume.error"
            )
            self._report(kind, consumer, error, offset=self.coordinator.seek_offset)

    def _report(self, kind: str, consumer: Any, error: Exception, **context: Any) -> None:
        self.monitor.instrument("error.occurred", consumer, type=kind, error=error,
                                topic=self.topic, partition=self.partition, **context)
