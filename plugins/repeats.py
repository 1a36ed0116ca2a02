"""Telling a repeat from a new message: the first is logged, the rest counted per window."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

Key = tuple[object, ...]
"""What makes two lines the same (e.g. level and text)."""

_NUMBERS = re.compile(r"\d+")


def same_text(text: str) -> str:
    """``text`` with its numbers masked: lines that differ only in timings are the same."""
    return _NUMBERS.sub("#", text)


class Repeats:
    """Counts repeats of a key within a window of ``window`` seconds.

    ``admit(key)`` is True for the first occurrence in a window (log it) and False for the
    repeats (count them); it also returns how many repeats the previous window held, for the
    summary logged with the first line of the next one.
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._windows: dict[Key, _Window] = {}

    def admit(self, key: Key, text: str = "") -> tuple[bool, int]:
        """``(log it, repeats in the window that just ended)``; ``text``: the line as seen."""
        now = self._clock()
        current = self._windows.get(key)
        if current is not None and now - current.start < self.window:
            current.repeats += 1
            current.text = text
            return False, 0
        self._windows[key] = _Window(now, text)
        return True, current.repeats if current is not None else 0

    def drain(self) -> list[tuple[Key, int, str]]:
        """Every key with repeats not yet summarised, how many, and the last one's text.

        Forgets all.
        """
        pending = [(key, window.repeats, window.text)
                   for key, window in self._windows.items() if window.repeats]
        self._windows.clear()
        return pending

    def summary(self, repeats: int) -> str:
        """The words added to a line that had repeats."""
        times = "time" if repeats == 1 else "times"
        return f"... repeated {repeats} {times} in {self.window:g} s"


class _Window:
    """One key's current window: when it began, repeats held back, the last one's text."""

    __slots__ = ("repeats", "start", "text")

    def __init__(self, start: float, text: str) -> None:
        self.start, self.repeats, self.text = start, 0, text


class RepeatFilter(logging.Filter):
    """Lets the first of a run of identical log lines through, holding back the rest.

    The next window's first line carries how many were held back. Lines that differ only in
    numbers count as identical (librdkafka puts timings in its lines).
    """

    def __init__(self, window: float) -> None:
        super().__init__()
        self.repeats = Repeats(window)

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to emit ``record`` (its message extended with a summary when due)."""
        text = record.getMessage()
        admitted, held = self.repeats.admit((record.levelno, same_text(text)))
        if admitted and held:
            record.msg, record.args = f"{text} {self.repeats.summary(held)}", None
        return admitted
