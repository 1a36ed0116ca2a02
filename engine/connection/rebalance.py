"""Records what librdkafka's rebalance callbacks said during one poll."""

from __future__ import annotations

import threading

from engine.processing.partitions import PartitionKey


class RebalanceTracker:
    """Partitions assigned, revoked and lost since the listener last looked.

    Written by the rebalance callbacks (inside ``consume`` on the listener thread), read by the
    listener after the poll returns; the lock covers a close() that runs the callbacks elsewhere.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.assignment: set[PartitionKey] = set()
        self._assigned: set[PartitionKey] = set()
        self._revoked: set[PartitionKey] = set()
        self._lost: set[PartitionKey] = set()
        self.changed = False

    def assigned(self, partitions: list[PartitionKey]) -> None:
        """Partitions were given to this member."""
        with self._lock:
            self.assignment.update(partitions)
            self._assigned.update(partitions)
            self.changed = True

    def revoked(self, partitions: list[PartitionKey], lost: bool) -> None:
        """Partitions were taken away (``lost``: without a chance to commit)."""
        with self._lock:
            self.assignment.difference_update(partitions)
            (self._lost if lost else self._revoked).update(partitions)
            self.changed = True

    def take(self) -> tuple[set[PartitionKey], set[PartitionKey], set[PartitionKey]]:
        """(assigned, revoked, lost) since the last call, then forget them."""
        with self._lock:
            taken = (self._assigned, self._revoked, self._lost)
            self._assigned, self._revoked, self._lost = set(), set(), set()
            self.changed = False
            return taken
