"""What became of a client's commits: failures reported, and a refusal for a lost assignment.

A synchronous commit fails by raising; asynchronous and automatic ones fail only through
librdkafka's ``on_commit`` callback (run inside a poll). Both are reported the same way:
``error.occurred`` type ``connection.client.commit.error`` with ``sync`` and, where librdkafka
names them, the ``partitions`` (``(topic, partition)`` pairs).
"""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from engine.instrumentation.monitor import Monitor

# A commit refused with one of these means this member's assignment is gone.
OWNERSHIP_LOST = frozenset(
    getattr(KafkaError, name) for name in (
        "_ASSIGNMENT_LOST", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "FENCED_INSTANCE_ID",
        "STALE_MEMBER_EPOCH", "FENCED_MEMBER_EPOCH",
    ) if hasattr(KafkaError, name)
)


class Commits:
    """Reports one client's failed commits; remembers a refusal for a lost assignment."""

    def __init__(self, monitor: Monitor, sender: Any, subscription_group: str) -> None:
        self.monitor = monitor
        self.sender = sender
        self.subscription_group = subscription_group
        # Set by whichever thread sees the refusal (a worker's synchronous commit, or the
        # listener's poll running on_commit), cleared by the listener on a new assignment and
        # read by workers: an Event, so no write needs a lock of ours.
        self._assignment_lost = threading.Event()

    @property
    def assignment_lost(self) -> bool:
        """Whether a commit was refused because this member's assignment is gone."""
        return self._assignment_lost.is_set()

    def assigned(self) -> None:
        """A new assignment: ownership is decided afresh."""
        self._assignment_lost.clear()

    def failed(self, error: KafkaException, sync: bool) -> bool:
        """A commit raised; False (report it) unless there was nothing to commit."""
        code = error.args[0].code()
        if code == KafkaError._NO_OFFSET:
            return True
        self._report(error, code, sync)
        return False

    def on_commit(self, error: KafkaError | None, partitions: list[Any]) -> None:
        """librdkafka's ``on_commit``: an asynchronous or automatic commit's outcome."""
        if error is not None and error.code() != KafkaError._NO_OFFSET:
            named = [(tp.topic, tp.partition) for tp in partitions or ()]
            self._report(KafkaException(error), error.code(), sync=False, partitions=named)

    def _report(self, error: KafkaException, code: int, sync: bool,
                partitions: list[tuple[str, int]] | None = None) -> None:
        if code in OWNERSHIP_LOST:
            self._assignment_lost.set()
        context: dict[str, Any] = {} if partitions is None else {"partitions": partitions}
        self.monitor.instrument(
            "error.occurred", self.sender, type="connection.client.commit.error", error=error,
            subscription_group=self.subscription_group, sync=sync, **context)
