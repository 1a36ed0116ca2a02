"""``Consumer.transaction()``'s block: ``with`` on a worker thread, ``async with`` on the loop.

Beginning and ending a transaction wait for the broker (bounded calls, seconds when it is
slow). A sync consumer makes them on its worker thread; an async one awaits them made off the
loop, so the loop's other jobs run on meanwhile. A plain ``with`` on the loop is refused: it
would stall every async consumer.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING

from engine.aio.guards import refuse_on_loop
from engine.aio.off_loop import off_loop
from engine.processing.death import ProcessDeath

if TYPE_CHECKING:
    from engine.transactions.partition import PartitionTransactions


class TransactionBlock:
    """One transaction of a partition: begun on entry, committed on leaving, or aborted.

    An exception inside aborts it and goes on up (the batch fails as usual).
    """

    __slots__ = ("_transactions",)

    def __init__(self, transactions: PartitionTransactions) -> None:
        self._transactions = transactions

    def __enter__(self) -> None:
        """Begin, on a worker thread (refused on an event loop)."""
        refuse_on_loop("'with self.transaction():'", "'async with self.transaction():'")
        self._transactions.begin()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        """Commit when the block ran through, else abort (a killed process aborts nothing)."""
        if isinstance(error, ProcessDeath):  # the testing kit's SIGKILL: left open, as Kafka
            self._transactions.abandon()     # would (the next owner's init aborts it)
            return
        self._transactions.end(error is None)

    async def __aenter__(self) -> None:
        """Begin, made off the loop and awaited.

        A cancellation while it begins comes once the transaction is open, and no
        ``__aexit__`` would end it: it is aborted here, or the partition's next block would
        find it still open.
        """
        transactions = self._transactions
        try:
            await off_loop(transactions.begin)
        except asyncio.CancelledError:
            if transactions.is_open:
                await off_loop(transactions.end, False)
            raise

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        """Commit (or abort), made off the loop and awaited."""
        await off_loop(self._transactions.end, error is None)
