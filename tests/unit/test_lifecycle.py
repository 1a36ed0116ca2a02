from __future__ import annotations

from typing import Any

import pytest

from engine import App, AppState, ListenerState
from engine.instrumentation.monitor import Monitor
from engine.lifecycle import Lifecycle, ListenerStatus


def recorder(monitor: Monitor, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    for name in monitor.events:
        if name.startswith(prefix) and name.count(".") == prefix.count("."):
            monitor.subscribe(name, lambda sender, _n=name, **e: seen.append((_n, e)))
    return seen


def test_a_new_app_is_initialized(app: App) -> None:
    assert app.state == "initialized"
    assert app.state is AppState.INITIALIZED
    assert app.lifecycle.request(AppState.INITIALIZED) is False


def test_moves_only_forward_and_announces_state_and_previous() -> None:
    monitor = Monitor()
    seen = recorder(monitor, "app.")
    lifecycle = Lifecycle(monitor, sender="app")
    assert lifecycle.request(AppState.RUNNING) is True
    assert lifecycle.request(AppState.RUNNING) is False
    assert lifecycle.request(AppState.INITIALIZED) is False
    assert lifecycle.request(AppState.STOPPING) is True
    assert lifecycle.request(AppState.QUIET) is False
    assert seen == [
        ("app.running", {"state": "running", "previous": "initializing"}),
        ("app.stopping", {"state": "stopping", "previous": "running"}),
    ]


def test_predicates_follow_the_state() -> None:
    lifecycle = Lifecycle(Monitor(), sender="app")
    lifecycle.request(AppState.RUNNING)
    assert (lifecycle.is_running, lifecycle.is_done, lifecycle.is_stopping) == (True, False, False)
    lifecycle.request(AppState.QUIETING)
    assert (lifecycle.is_running, lifecycle.is_done, lifecycle.is_stopping) == (False, True, False)
    lifecycle.request(AppState.STOPPED)
    assert (lifecycle.is_done, lifecycle.is_stopping, lifecycle.is_stopped) == (True, True, True)
    assert not lifecycle.is_terminated


def test_watchers_are_called_after_each_change() -> None:
    lifecycle = Lifecycle(Monitor(), sender="app")
    woken: list[AppState] = []
    lifecycle.watch(lambda: woken.append(lifecycle.state))
    lifecycle.request(AppState.RUNNING)
    lifecycle.request(AppState.INITIALIZED)
    lifecycle.request(AppState.TERMINATED)
    assert woken == [AppState.RUNNING, AppState.TERMINATED]


def test_listener_states_are_announced_with_the_subscription_group() -> None:
    monitor = Monitor()
    seen = recorder(monitor, "connection.listener.")
    status = ListenerStatus(monitor, sender="listener", subscription_group="g/default")
    status.request(ListenerState.STARTING)
    status.request(ListenerState.RUNNING)
    assert status.is_active
    status.stop()
    assert [name for name, _ in seen] == [
        "connection.listener.starting", "connection.listener.running",
        "connection.listener.stopping",
    ]
    assert seen[0][1] == {
        "subscription_group": "g/default", "state": "starting", "previous": "pending",
    }


def test_stopping_a_listener_that_never_started_goes_on_to_stopped() -> None:
    monitor = Monitor()
    seen = recorder(monitor, "connection.listener.")
    status = ListenerStatus(monitor, sender="listener", subscription_group="g")
    assert status.stop() is True
    assert status.state is ListenerState.STOPPED
    assert not status.is_active
    assert [name for name, _ in seen] == [
        "connection.listener.stopping", "connection.listener.stopped",
    ]
    assert status.stop() is False


def test_lifecycle_diagram_is_mermaid_with_every_state(app: App) -> None:
    diagram = app.lifecycle_diagram()
    assert diagram.splitlines()[0] == "stateDiagram-v2"
    for state in AppState:
        assert f"{state.value} -->" in diagram or f"--> {state.value}" in diagram
    assert "    running --> stopping" in diagram


@pytest.mark.parametrize("state", list(AppState))
def test_the_app_state_compares_equal_to_its_name(state: AppState) -> None:
    assert state == state.value
