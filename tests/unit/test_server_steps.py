"""The server's private steps: each listener hears each verb once; wake-ups collapse."""

from __future__ import annotations

from typing import Any

from engine.server.listener_steps import ListenerSteps
from engine.server.wake_ups import WakeUps


class Heard:
    """A listener that only records the verbs it hears."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def __getattr__(self, verb: str) -> Any:
        return lambda: self.log.append(f"{verb} {self.name}")


def test_each_listener_hears_start_quiet_and_stop_once_in_order() -> None:
    log: list[str] = []
    steps = ListenerSteps()
    steps.start([Heard("a", log), Heard("b", log)])  # type: ignore[list-item]
    for _ in range(2):  # the main loop looks after every wake-up: asking again is a no-op
        steps.quiet_all()
        steps.stop_all()
    assert log == ["start a", "start b", "quiet a", "quiet b", "stop a", "stop b"]


def test_wake_ups_queued_before_a_wait_end_it_and_are_absorbed() -> None:
    wake_ups = WakeUps()
    for _ in range(3):
        wake_ups.wake()
    wake_ups.wait(30)  # returns at once: woken
    assert wake_ups._wake_ups.empty()  # the other two were absorbed with it
