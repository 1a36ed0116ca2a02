"""A partition's transactions as its consumer sees them: the open one, and pending marks.

On an app with ``transactional_id`` no offset is ever stored in the consumer: a mark inside
``transaction()`` joins that transaction; any other mark (the consumer's, or the strategy's
automatic one) waits as pending until the batch is settled, then moves through one
offsets-only transaction (``commit_pending``).

A partition no longer this member's (revoked, or its producer fenced: another member
initialised the partition's id, so it owns the partition now) begins no transaction: a new
producer would fence that rightful owner in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.errors import TransactionError
from engine.transactions.block import TransactionBlock
from engine.transactions.transaction import Transaction

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Message
    from engine.processing.partition_state import PartitionState
    from engine.transactions.producers import PartitionProducer, TransactionalProducers


class PartitionTransactions:
    """The transactions of one partition (used by its context, on the job's worker)."""

    def __init__(self, producers: TransactionalProducers, state: PartitionState,
                 monitor: Monitor, group_metadata: Callable[[], Any],
                 source: Callable[[], Any]) -> None:
        self._producers = producers
        self._state = state
        self._key = (state.topic, state.partition)
        self._monitor = monitor
        self._group_metadata = group_metadata
        self._source = source
        self._open: Transaction | None = None
        self._marked: int | None = None  # the last offset marked inside the open transaction
        self._pending: int | None = None  # the last offset marked outside any transaction

    @property
    def is_open(self) -> bool:
        """Whether a transaction is open now."""
        return self._open is not None

    @property
    def sender(self) -> PartitionProducer:
        """The open transaction's producer."""
        if self._open is None:
            raise TransactionError("no transaction is open")
        return self._open.producer

    @property
    def marked_inside(self) -> int | None:
        """The last offset marked inside the open transaction (None: nothing marked)."""
        return self._marked

    def transaction(self) -> TransactionBlock:
        """A transaction of this partition, for ``with`` (threads) or ``async with`` (loop)."""
        return TransactionBlock(self)

    def begin(self) -> None:
        """Open a transaction (blocking: the producer may be built and initialised first)."""
        if self._open is not None:
            raise TransactionError(
                f"a transaction of {self._key[0]}/{self._key[1]} is already open: transactions"
                " do not nest (do all the work in one 'with self.transaction():')")
        self._refuse_if_gone()
        opened = self._new()
        self._fenced_if(opened, opened.begin)
        self._open, self._marked = opened, None

    def end(self, succeeded: bool) -> None:
        """Commit produced messages and marked offsets, or abort (blocking either way)."""
        opened, marked = self._open, self._marked
        if opened is None:
            raise TransactionError("no transaction is open")
        try:
            if not succeeded:
                opened.abort()
                return
            self._fenced_if(opened, lambda: opened.commit(None if marked is None else marked + 1))
            if marked is not None:
                self._state.marked(marked)
        finally:
            self._open = self._marked = None

    def abandon(self) -> None:
        """Forget the open transaction without ending it (the process is dying)."""
        self._open = self._marked = None

    def mark(self, message: Message) -> None:
        """Record a mark: in the open transaction, or pending until the batch settles."""
        if self._open is None:
            self.mark_offset(message.offset)
            return
        if (message.topic, message.partition) != self._key:
            raise TransactionError(
                f"mark_as_consumed of {message.topic}/{message.partition}@{message.offset}"
                f" inside a transaction of {self._key[0]}/{self._key[1]}: a transaction"
                " commits its own partition's offsets only")
        self._marked = message.offset

    def mark_offset(self, offset: int) -> None:
        """Record a mark made outside any transaction (committed by ``commit_pending``).

        An offset a transaction already committed (the strategy's automatic mark after a
        consumer marked inside ``transaction()``) costs no second transaction.
        """
        first = self._state.first_unmarked
        if first is not None and offset < first and self._pending is None:
            return
        self._pending = offset

    def refuse_commit(self) -> None:
        """``commit_offsets`` inside a transaction: its offsets commit with it."""
        if self._open is not None:
            raise TransactionError(
                "commit_offsets inside transaction(): the marked offsets commit with the"
                " transaction when its block ends (drop the commit_offsets call)")

    def commit_pending(self) -> None:
        """Commit the pending mark through an offsets-only transaction, then tell the state."""
        pending, self._pending = self._pending, None
        if pending is None or self._state.is_revoked:
            return
        opened = self._new()
        self._fenced_if(opened, opened.begin)
        self._fenced_if(opened, lambda: opened.commit(pending + 1))
        self._state.marked(pending)

    def close(self) -> None:
        """The partition is gone: close its producer (its flush bounded)."""
        self._producers.close([self._key])

    def _refuse_if_gone(self) -> None:
        if self._state.is_revoked:
            raise TransactionError(
                f"{self._key[0]}/{self._key[1]} is no longer this member's (revoked, or its"
                " producer fenced by a new owner): no transaction begins for it")

    def _fenced_if(self, opened: Transaction, step: Callable[[], None]) -> None:
        """Make ``step``; a fence on the way means the partition is lost.

        Nothing more of it is then marked or committed here.
        """
        try:
            step()
        except TransactionError:
            if opened.fenced:
                self._state.taken_over()
            raise

    def _new(self) -> Transaction:
        return Transaction(self._producers, self._key, self._monitor, self._group_metadata,
                           self._source)
