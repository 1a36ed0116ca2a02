"""A Quix-style tumbling window: counts per minute of event time, emitted when a window closes.

Messages are bucketed by their own timestamp into one-minute windows; a message of a later
window closes the open one, whose count is emitted, and a message of an already closed window
arrives too late and is dropped. The open window lives in memory. The buggy variant lets the
framework mark each batch as ``consume`` returns, so offsets move past messages whose window
is not emitted yet: after a crash, a rebalance or a restart the window is rebuilt from what
comes after the commit, and its emitted count is short. The correct variant manages offsets
and marks only up to the message that opened the window still open.

Only a user oracle sees it: every message was read, so the harness counts it processed.
``check_at_end`` replays the topic through a reference model of the window and compares the
emitted counts. The machine starts at its own ``epoch`` and draws each message's timestamp
(offsets from the epoch, out of order), and the printed test repeats them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from hypothesis import strategies as st

from engine import App, Consumer, Message, Messages
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import SHRINK_BUDGET, app, caught, passes

WIDTH = 60  # seconds


def window_of(stamp: datetime | None) -> int:
    """The window (its start, Unix seconds) a message's timestamp falls in."""
    assert stamp is not None, "every message has a timestamp"
    return int(stamp.timestamp()) // WIDTH * WIDTH


class Window:
    """The open window: its start and count; ``add`` says what a message did to it."""

    def __init__(self) -> None:
        """No window open."""
        self.start: int | None = None
        self.count = 0

    def add(self, start: int) -> tuple[int, int] | None:
        """Count a message of window ``start``; the (start, count) it closed, if any."""
        if self.start is None or start > self.start:
            closed = None if self.start is None else (self.start, self.count)
            self.start, self.count = start, 1
            return closed
        if start == self.start:
            self.count += 1
        return None  # an earlier window's message: too late, dropped


def expected_counts(stamps: Iterable[datetime | None]) -> dict[int, int]:
    """The reference model: every window the stream closes, with its count."""
    window, closed = Window(), {}
    for stamp in stamps:
        done = window.add(window_of(stamp))
        if done is not None:
            closed[done[0]] = done[1]
    return closed


def window_app(marks_open_window: bool) -> App:
    """Counts per window into ``emitted``; ``marks_open_window`` lets offsets run ahead."""
    emitted: list[tuple[int, int]] = []

    class Tumbling(Consumer):
        def __init__(self) -> None:
            super().__init__()
            self.window = Window()
            self.previous: Message | None = None

        def consume(self, messages: Messages) -> None:
            for message in messages:
                closed = self.window.add(window_of(message.timestamp))
                if closed is not None:
                    emitted.append(closed)
                    if not marks_open_window and self.previous is not None:
                        # replay starts at the message that opened the new window
                        self.mark_as_consumed(self.previous)
                self.previous = message

    built = app("windows", "clicks", Tumbling,
                manual_offset_management=not marks_open_window)
    built.emitted = emitted  # type: ignore[attr-defined]
    return built


def marks_everything() -> App:
    return window_app(marks_open_window=True)


def marks_up_to_the_open_window() -> App:
    return window_app(marks_open_window=False)


class WindowMachine(ConsumerMachine):
    app = marks_up_to_the_open_window
    topic = "clicks"
    values = st.just(1)
    keys = st.none()
    epoch = datetime(2026, 3, 1, tzinfo=timezone.utc)
    timestamps = st.integers(0, 4 * WIDTH - 1)  # seconds after the epoch, out of order

    def check_at_end(self, kafka: Harness) -> None:
        expected = expected_counts(m.timestamp for m in kafka.topic("clicks"))
        emitted: list[Any] = kafka.app.emitted  # type: ignore[attr-defined]
        # a window emitted again after a replay must agree with itself
        wrong = sorted({(start, count) for start, count in emitted
                        if expected.get(start) != count})
        missing = sorted(set(expected) - {start for start, _ in emitted})
        assert not wrong and not missing, (f"windows emitted wrong: {wrong}; never emitted:"
                                           f" {missing}; expected {expected}")


class EagerWindowMachine(WindowMachine):
    app = marks_everything
    shrink_budget = SHRINK_BUDGET


def test_marking_messages_of_a_window_not_yet_emitted_is_seen_by_the_oracle() -> None:
    text = caught(EagerWindowMachine, "windows emitted wrong")
    assert "timestamp=datetime.datetime(2026, 3, 1, " in text, text


def test_marking_only_up_to_the_open_window_passes() -> None:
    passes(WindowMachine)


def test_the_reference_model_closes_windows_and_drops_late_messages() -> None:
    def at(seconds: int) -> datetime:
        return datetime.fromtimestamp(seconds, tz=timezone.utc)

    assert expected_counts([at(0), at(10), at(70), at(20), at(130), at(65)]) == {0: 2, 60: 1}
