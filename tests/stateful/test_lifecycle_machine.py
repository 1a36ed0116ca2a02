"""The lifecycle against a model: ordered, one-way, announced once, safe across threads."""

from __future__ import annotations

import sys
import threading
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from engine import AppState, ListenerState
from engine.instrumentation.monitor import Monitor
from engine.lifecycle import Lifecycle, ListenerStatus

ORDER = list(AppState)
DONE = {AppState.QUIETING, AppState.QUIET, AppState.STOPPING, AppState.STOPPED,
        AppState.TERMINATED}


# The moves the design draws (ARCHITECTURE, API section 5), restated here independently of
# the engine's table: a request is granted exactly for these.
APP_MOVES = {
    ("initializing", "initialized"), ("initialized", "supervising"),
    ("initialized", "running"), ("initialized", "stopping"), ("supervising", "quieting"),
    ("supervising", "stopping"),
    ("running", "quieting"), ("running", "stopping"), ("quieting", "quiet"),
    ("quieting", "stopping"), ("quiet", "stopping"), ("stopping", "stopped"),
    ("stopped", "terminated"),
}
LISTENER_MOVES = {
    ("pending", "starting"), ("pending", "stopping"), ("starting", "running"),
    ("starting", "quieting"), ("starting", "stopping"), ("running", "quieting"),
    ("running", "stopping"), ("quieting", "quiet"), ("quieting", "stopping"),
    ("quiet", "stopping"), ("stopping", "stopped"),
}


def model_allows(current: Any, target: Any) -> bool:
    """The model table."""
    moves = APP_MOVES if isinstance(current, AppState) else LISTENER_MOVES
    return (current.value, target.value) in moves


def path_to(target: Any, moves: set[tuple[str, str]], first: str) -> list[str]:
    """The states to request, in order, to walk from ``first`` to ``target`` (shortest)."""
    paths = {first: [first]}
    frontier = [first]
    while frontier:
        here = frontier.pop(0)
        for source, dest in sorted(moves):
            if source == here and dest not in paths:
                paths[dest] = [*paths[here], dest]
                frontier.append(dest)
    return paths[target.value][1:]


def announced(monitor: Monitor) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    for name in monitor.events:
        if name.startswith("app."):
            monitor.subscribe(name, lambda sender, **e: seen.append((e["previous"], e["state"])))
    return seen


@given(start=st.sampled_from(ORDER), target=st.sampled_from(ORDER))
def test_every_state_times_every_request_matches_the_model(
    start: AppState, target: AppState
) -> None:
    monitor = Monitor()
    lifecycle = Lifecycle(monitor, sender="app")
    for step in path_to(start, APP_MOVES, "initializing"):
        assert lifecycle.request(AppState(step))
    seen = announced(monitor)
    granted = lifecycle.request(target)
    assert granted == model_allows(start, target)
    assert lifecycle.state == (target if granted else start)
    assert seen == ([(start.value, target.value)] if granted else [])
    assert lifecycle.is_winding_down == (lifecycle.state in DONE)


@given(
    start=st.sampled_from(list(ListenerState)), target=st.sampled_from(list(ListenerState))
)
def test_listener_states_follow_the_same_rule(
    start: ListenerState, target: ListenerState
) -> None:
    status = ListenerStatus(Monitor(), sender="l", subscription_group="g")
    for step in path_to(start, LISTENER_MOVES, "pending"):
        assert status.request(ListenerState(step))
    assert status.request(target) == model_allows(start, target)
    assert status.state == (target if model_allows(start, target) else start)


def test_the_tables_are_exactly_the_designed_moves() -> None:
    from engine.lifecycle import APP_TRANSITIONS, LISTENER_TRANSITIONS

    for table, moves in ((APP_TRANSITIONS, APP_MOVES), (LISTENER_TRANSITIONS, LISTENER_MOVES)):
        drawn = {(s.value, t.value) for s, targets in table.items() for t in targets}
        assert drawn == moves


class ConcurrentRequests(RuleBasedStateMachine):
    """Several threads request transitions at once; the log must still read as one story."""

    def __init__(self) -> None:
        super().__init__()
        self.monitor = Monitor()
        self.log: list[tuple[str, str]] = []
        self.done_mismatch: list[Any] = []
        self.lifecycle = Lifecycle(self.monitor, sender="app")
        for name in self.monitor.events:
            if name.startswith("app."):
                self.monitor.subscribe(name, self._record)

    def _record(self, sender: Any, **event: Any) -> None:
        self.log.append((event["previous"], event["state"]))
        # receivers run under the machine lock: the state they see is the one announced
        if self.lifecycle.is_winding_down != (AppState(event["state"]) in DONE):
            self.done_mismatch.append(event)

    @rule(requested=st.lists(st.sampled_from(ORDER), min_size=1, max_size=6))
    def request_from_threads(self, requested: list[AppState]) -> None:
        barrier = threading.Barrier(len(requested))

        def request(target: AppState) -> None:
            barrier.wait(timeout=30)
            self.lifecycle.request(target)

        threads = [threading.Thread(target=request, args=(t,)) for t in requested]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
            assert not thread.is_alive()

    @invariant()
    def never_backwards_each_state_once_in_order(self) -> None:
        states = [ORDER.index(AppState(state)) for _, state in self.log]
        assert states == sorted(set(states))
        for (_, before), (after_previous, _) in pairwise(self.log):
            assert before == after_previous  # each announcement continues the previous one

    @invariant()
    def current_state_is_the_last_announced(self) -> None:
        expected = self.log[-1][1] if self.log else AppState.INITIALIZING.value
        assert self.lifecycle.state.value == expected

    @invariant()
    def is_winding_down_is_consistent(self) -> None:
        assert self.done_mismatch == []
        assert self.lifecycle.is_winding_down == (self.lifecycle.state in DONE)


TestConcurrentRequests = ConcurrentRequests.TestCase
TestConcurrentRequests.settings = settings(
    max_examples=3 * settings.default.max_examples // 5, stateful_step_count=12, deadline=None)


LISTENER_ORDER = list(ListenerState)
STOP = "stop()"


class ConcurrentListenerRequests(RuleBasedStateMachine):
    """Threads race a listener's requests against ``stop()``: stop reads and moves atomically.

    Only ``stop()`` enters ``stopping`` here and nobody requests ``stopped``, so it can only
    follow a stop of a listener that never started; a ``stop()`` that saw ``pending`` while
    another thread started it would end a started listener ``stopped``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.monitor = Monitor()
        self.log: list[tuple[str, str]] = []
        self.status = ListenerStatus(self.monitor, sender="l", subscription_group="g")
        for name in self.monitor.events:
            if name.startswith("connection.listener.") and name.count(".") == 2:
                self.monitor.subscribe(
                    name, lambda sender, **e: self.log.append((e["previous"], e["state"])))

    @rule(requested=st.lists(st.sampled_from([*LISTENER_ORDER[:-2], STOP]), min_size=1,
                             max_size=6))
    def request_from_threads(self, requested: list[Any]) -> None:
        barrier = threading.Barrier(len(requested))

        def request(target: Any) -> None:
            barrier.wait(timeout=30)
            if target == STOP:
                self.status.stop()
            else:
                self.status.request(target)

        threads = [threading.Thread(target=request, args=(t,)) for t in requested]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads often: races show up, not only in theory
        try:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
                assert not thread.is_alive()
        finally:
            sys.setswitchinterval(interval)

    @invariant()
    def each_state_once_in_order(self) -> None:
        states = [LISTENER_ORDER.index(ListenerState(state)) for _, state in self.log]
        assert states == sorted(set(states))
        for (_, before), (after_previous, _) in pairwise(self.log):
            assert before == after_previous

    @invariant()
    def stopped_only_after_a_stop_that_found_it_pending(self) -> None:
        stopped = ("stopping", "stopped") in self.log
        assert stopped == (("pending", "stopping") in self.log)
        assert self.status.state.value == (self.log[-1][1] if self.log else "pending")


TestConcurrentListenerRequests = ConcurrentListenerRequests.TestCase
TestConcurrentListenerRequests.settings = settings(
    max_examples=3 * settings.default.max_examples // 5, stateful_step_count=12, deadline=None)
