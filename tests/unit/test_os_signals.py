"""Signal capture: handlers restored, and a stop signal handed back to the embedding program."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

from engine import os_signals


def capture_one(number: int) -> list[str]:
    """Enter capture, receive ``number`` from the process itself, wait until it is served."""
    served: list[str] = []
    done = threading.Event()

    def on_signal(name: str) -> None:
        served.append(name)
        done.set()

    with os_signals.captured(on_signal):
        os.kill(os.getpid(), number)
        assert done.wait(30), "the signal thread never served the signal"
    return served


def test_a_captured_stop_signal_reaches_the_embedding_programs_handler_after_the_capture() -> None:
    heard: list[int] = []

    def own(number: int, frame: FrameType | None) -> None:
        heard.append(number)

    before = signal.signal(signal.SIGTERM, own)
    try:
        assert capture_one(signal.SIGTERM) == ["SIGTERM"]
        assert heard == [signal.SIGTERM]  # once, after the capture ended
        assert signal.getsignal(signal.SIGTERM) is own  # and the handler is back
    finally:
        signal.signal(signal.SIGTERM, before)


def test_pythons_default_sigint_handler_gets_nothing_back() -> None:
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # re-delivering would raise KeyboardInterrupt here and overrule the CLI's exit code
        assert capture_one(signal.SIGINT) == ["SIGINT"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_signal_that_does_not_stop_is_not_delivered_again() -> None:
    heard: list[int] = []

    def own(number: int, frame: FrameType | None) -> None:
        heard.append(number)

    before = signal.signal(signal.SIGTTIN, own)
    try:
        assert capture_one(signal.SIGTTIN) == ["SIGTTIN"]
        assert heard == []
    finally:
        signal.signal(signal.SIGTTIN, before)
