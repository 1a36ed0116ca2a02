"""The lifecycle against a model: ordered, one-way, announced once, safe across threads."""

from __future__ import annotations

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


def model_allows(current: AppState, target: AppState) -> bool:
    """The model table: a request is granted only for a strictly later state."""
    return ORDER.index(target) > ORDER.index(current)


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
    lifecycle.request(start)
    seen = announced(monitor)
    granted = lifecycle.request(target)
    assert granted == model_allows(start, target)
    assert lifecycle.state == (target if granted else start)
    assert seen == ([(start.value, target.value)] if granted else [])
    assert lifecycle.is_done == (lifecycle.state in DONE)


@given(
    start=st.sampled_from(list(ListenerState)), target=st.sampled_from(list(ListenerState))
)
def test_listener_states_follow_the_same_rule(
    start: ListenerState, target: ListenerState
) -> None:
    order = list(ListenerState)
    status = ListenerStatus(Monitor(), sender="l", subscription_group="g")
    status.request(start)
    assert status.request(target) == (order.index(target) > order.index(start))


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
        if self.lifecycle.is_done != (AppState(event["state"]) in DONE):
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
    def is_done_is_consistent(self) -> None:
        assert self.done_mismatch == []
        assert self.lifecycle.is_done == (self.lifecycle.state in DONE)


TestConcurrentRequests = ConcurrentRequests.TestCase
TestConcurrentRequests.settings = settings(max_examples=60, stateful_step_count=12,
                                           deadline=None)
