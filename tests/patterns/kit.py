"""What every bug-pattern module shares: settings, the two verdicts, a flaky store, a slow pool.

A pattern's buggy machine must fail with a ``ScheduleError`` naming the check that saw it, and
the test it prints must fail the same way when run as a user pasting it would; its correct
machine must pass. Settings are modest: the suite runs on a busy two-core machine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from engine import App
from engine.testing import ConsumerMachine, ScheduleError
from tests.unit.test_consumer_machine import pasted

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}
# derandomized: the buggy variant is found, and shrunk, the same way on every run
HUNT = settings(max_examples=200, deadline=None, database=None, derandomize=True)
PROVE = settings(max_examples=50, deadline=None, database=None, derandomize=True)
SHRINK_BUDGET = 40

LOST = "  lost: "  # as HistoryError lists each check's violations
BEYOND = "  committed_beyond_processed: "

log = logging.getLogger("tests.patterns")


def caught(machine: type[ConsumerMachine], *seen: str) -> str:
    """Run ``machine``: it must fail, its text naming one of ``seen``; the printed test too.

    Returns the failure's text (the schedule, for the pattern's own asserts).
    """
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(machine, settings=HUNT)
    text = str(failure.value)
    assert any(what in text.split("\n\n", 1)[0] for what in seen), text
    replay = pasted(failure.value, **{machine.__name__: machine})
    with pytest.raises(Exception) as again:  # checked below, as the machine was
        replay()
    assert any(what in str(again.value) for what in seen), f"{again.value}\n\n{text}"
    return text


def passes(machine: type[ConsumerMachine]) -> None:
    """Run ``machine`` for ``PROVE``'s examples: every check must hold."""
    run_state_machine_as_test(machine, settings=PROVE)


def app(client_id: str, topic: str, consumer: type, **route: Any) -> App:
    """An app with one routed topic (batches of at most five: schedules move boundaries)."""
    built = App(kafka=KAFKA, client_id=client_id, max_messages=5)
    built.topic(topic, consumer, **route)
    return built


class UnavailableError(ConnectionError):
    """A downstream write failed; trying again later succeeds."""


class FlakyStore:
    """Rows by key; a value flagged ``flaky`` fails its first write, as an outage would."""

    def __init__(self) -> None:
        """Empty."""
        self.rows: dict[Any, Any] = {}
        self._failed: set[Any] = set()

    def write(self, key: Any, value: Any) -> None:
        """Store ``value`` at ``key``; ``UnavailableError`` on the first write of a flaky value."""
        if isinstance(value, dict) and value.get("flaky") and key not in self._failed:
            self._failed.add(key)
            raise UnavailableError(f"store unavailable writing {key!r}")
        self.rows[key] = value


class LaterPool:
    """A thread pool's queue, made deterministic: a job runs when the pool gets to it.

    ``submit`` queues; ``run_pending`` runs what is queued (the workers catching up). Real
    threads would make each schedule's outcome depend on timing, which hypothesis calls flaky.
    """

    def __init__(self) -> None:
        """No job queued."""
        self.pending: list[Callable[[], None]] = []

    def submit(self, job: Callable[..., None], *args: Any) -> None:
        """Queue ``job(*args)``."""
        self.pending.append(lambda: job(*args))

    def run_pending(self) -> None:
        """Run every queued job, oldest first."""
        jobs, self.pending = self.pending, []
        for job in jobs:
            job()
