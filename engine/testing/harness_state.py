"""The harness's state (running, stopped, closed) and the moves between: start, stop, die, close."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.processing.death import ProcessDeath
from engine.testing.errors import HarnessError

if TYPE_CHECKING:
    from engine.producer import Producer
    from engine.testing.events import EventRecorder, HistoryFeed
    from engine.testing.history import History
    from engine.testing.members import Members
    from engine.testing.memory_producer import MemoryProducer
    from engine.testing.memory_transactions import MemoryTransactions


class HarnessState:
    """``name`` is ``running``, ``stopped`` or ``closed``; the verbs move it.

    A process that dies comes back at once when it is the only one (or every one dies);
    else the other members take over. A process that dies while stopping stays stopped.
    """

    def __init__(self, members: Members, history: History, producer: Producer,
                 transport: MemoryProducer, feeds: tuple[EventRecorder, HistoryFeed],
                 transactions: MemoryTransactions | None = None) -> None:
        """The ``feeds`` start now and stop at the close; no process runs until ``start``.

        ``transactions`` hears when a death was handled (the live processes' calls count).
        """
        self._transactions = transactions
        self.name = "stopped"
        self._members = members
        self._history = history
        self._producer = producer
        self._transport = transport
        self._feeds = feeds
        for feed in feeds:
            feed.start()

    def check_open(self) -> None:
        """A ``HarnessError`` once closed."""
        if self.name == "closed":
            raise HarnessError("this harness is closed; open a new Harness(app)")

    def check_running(self) -> None:
        """A ``HarnessError`` unless running."""
        self.check_open()
        if self.name != "running":
            raise HarnessError("the harness is stopped: call kafka.start() first")

    def start(self) -> None:
        """Running, one process owning every partition (a ``HarnessError`` if running)."""
        self.check_open()
        if self.name == "running":
            raise HarnessError("the harness is already running")
        self.name = "running"
        self._members.start()

    def stop(self) -> None:
        """The graceful stop (a death in it leaves every process dead, stopped)."""
        self.check_running()
        try:
            self._members.stop()
        except ProcessDeath:
            self.kill()
            return
        self._producer.flush(1.0)
        self.name = "stopped"

    def close(self) -> None:
        """Stop (if running), then stop the feeds; closed for good."""
        if self.name == "closed":
            return
        try:
            if self.name == "running":
                self.stop()
        finally:
            for feed in self._feeds:
                feed.stop()
            self.name = "closed"

    def die(self, number: int | None) -> None:
        """A process dies: the only one (or ``None``: all) comes back; else the rest take over."""
        self._buried()
        if number is not None:
            self._members.check(number)
        if number is None or len(self._members.numbers) == 1:
            self.kill()
            self.start()
            return
        self._history.crashed(self._members.die(number))

    def kill(self) -> None:
        """Every process dies; the harness is stopped."""
        self._buried()
        self._history.crashed()
        self._members.kill()
        self._transport.drop_reports()
        self.name = "stopped"

    def _buried(self) -> None:
        if self._transactions is not None:
            self._transactions.buried()
