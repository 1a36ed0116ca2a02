"""Stop signals for commands that own a child process: raise in the main thread, once."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class Stopped(Exception):  # noqa: N818 - a stop request, not an error
    """A stop signal arrived; ``signal`` names it."""

    def __init__(self, name: str) -> None:
        super().__init__(f"stopped by {name}")
        self.signal = name


class StopSignals:
    """Inside, SIGINT, SIGTERM and SIGHUP raise ``Stopped`` in the main thread.

    Without it SIGTERM and SIGHUP end Python at once, skipping the ``finally`` and ``with``
    blocks that stop a child. After the first signal the others are ignored, so that a second
    Ctrl-C cannot cut the clean-up short. The previous handlers come back on exit.
    """

    def __init__(self) -> None:
        self.numbers = [getattr(signal, name) for name in STOP_SIGNALS if hasattr(signal, name)]
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        """Install the handlers."""
        self._previous = {number: signal.signal(number, self._raise) for number in self.numbers}
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Restore the previous handlers."""
        for number, old in self._previous.items():
            signal.signal(number, old)

    @contextmanager
    def released(self) -> Iterator[None]:
        """The previous handlers meanwhile (for code that installs its own, like ``app.run``)."""
        self.__exit__(None, None, None)
        try:
            yield
        finally:
            self.__enter__()

    def _raise(self, number: int, frame: FrameType | None) -> None:
        for each in self.numbers:
            signal.signal(each, signal.SIG_IGN)
        raise Stopped(signal.Signals(number).name)
