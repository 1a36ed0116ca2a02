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
    assert lifecycle.request(AppState.RUNNING) is False  # not a move out of initializing
    assert lifecycle.request(AppState.INITIALIZED) is True
    assert lifecycle.request(AppState.RUNNING) is True
    assert lifecycle.request(AppState.RUNNING) is False
    assert lifecycle.request(AppState.INITIALIZED) is False
    assert lifecycle.request(AppState.STOPPING) is True
    assert lifecycle.request(AppState.QUIET) is False
    assert seen == [
        ("app.initialized", {"state": "initialized", "previous": "initializing"}),
        ("app.running", {"state": "running", "previous": "initialized"}),
        ("app.stopping", {"state": "stopping", "previous": "running"}),
    ]


def test_predicates_follow_the_state() -> None:
    lifecycle = Lifecycle(Monitor(), sender="app")
    lifecycle.request(AppState.INITIALIZED)
    lifecycle.request(AppState.RUNNING)
    down = lambda: (lifecycle.is_running, lifecycle.is_winding_down, lifecycle.is_stopping)  # noqa: E731
    assert down() == (True, False, False)
    lifecycle.request(AppState.QUIETING)
    assert down() == (False, True, False)
    lifecycle.request(AppState.STOPPING)
    lifecycle.request(AppState.STOPPED)
    assert (lifecycle.is_winding_down, lifecycle.is_stopping, lifecycle.is_stopped) == (
        True, True, True)
    assert not lifecycle.is_terminated


def test_watchers_are_called_after_each_change() -> None:
    lifecycle = Lifecycle(Monitor(), sender="app")
    woken: list[AppState] = []
    lifecycle.watch(lambda: woken.append(lifecycle.state))
    lifecycle.request(AppState.INITIALIZED)
    lifecycle.request(AppState.TERMINATED)  # not a move out of initialized: ignored
    lifecycle.request(AppState.STOPPING)
    assert woken == [AppState.INITIALIZED, AppState.STOPPING]


def test_listener_states_are_announced_with_the_subscription_group() -> None:
    monitor = Monitor()
    seen = recorder(monitor, "connection.listener.")
    status = ListenerStatus(monitor, sender="listener", subscription_group="g/default")
    status.request(ListenerState.STARTING)
    status.request(ListenerState.RUNNING)
    assert status.is_active
    status.stop()
    assert [name for name, _ in seen] == [
        "connection.listener.pending", "connection.listener.starting",
        "connection.listener.running", "connection.listener.stopping",
    ]
    assert seen[0][1] == {"subscription_group": "g/default", "state": "pending", "previous": None}
    assert seen[1][1] == {
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
        "connection.listener.pending", "connection.listener.stopping",
        "connection.listener.stopped",
    ]
    assert status.stop() is False


def test_lifecycle_diagram_is_the_machines_mermaid_with_every_move(app: App) -> None:
    diagram = app.lifecycle_diagram()
    assert "stateDiagram-v2" in diagram.splitlines()[:4]
    for state in AppState:
        assert f'state "{state.value}" as {state.value}' in diagram
    assert "  running --> stopping: stop" in diagram.splitlines()
    assert "  [*] --> initializing" in diagram.splitlines()
    drawn = [line for line in diagram.splitlines() if "-->" in line and "[*]" not in line]
    from engine.lifecycle import APP_TRANSITIONS

    assert len(drawn) == sum(len(targets) for targets in APP_TRANSITIONS.values())


def test_the_listener_diagram_draws_its_verbs() -> None:
    diagram = ListenerStatus.diagram()
    assert "  pending --> stopping: stop" in diagram.splitlines()
    assert "  quieting --> quiet: settle" in diagram.splitlines()
    assert all(line == line.rstrip() for line in diagram.splitlines())


def test_importing_the_engine_leaves_the_transitions_logger_alone() -> None:
    import subprocess
    import sys

    code = ("import logging; import engine, engine_plugins.logger; "
            "print(logging.getLogger('transitions').level, "
            "logging.getLogger('transitions.core').level)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["0", "0"]


def test_a_transition_logs_nothing_through_transitions(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    lifecycle = Lifecycle(Monitor(), sender="app")
    lifecycle.request(AppState.INITIALIZED)
    lifecycle.request(AppState.RUNNING)
    assert lifecycle.request(AppState.INITIALIZED) is False  # refused: no warning either
    ListenerStatus(Monitor(), sender="listener", subscription_group="g").stop()
    assert [r for r in caplog.records if r.name.startswith("transitions")] == []


def test_an_apps_own_transitions_machine_still_logs(caplog: pytest.LogCaptureFixture) -> None:
    from transitions import Machine

    caplog.set_level("INFO")
    Lifecycle(Monitor(), sender="app").request(AppState.INITIALIZED)
    model = Machine(states=["a", "b"], initial="a", transitions=[["go", "a", "b"]],
                    name="mine", after_state_change=lambda: None)
    model.go()
    own = [r for r in caplog.records if r.name.startswith("transitions")]
    assert own and all(r.getMessage().startswith("mine: ") for r in own)


def test_a_verb_that_moves_backwards_is_refused() -> None:
    from engine.lifecycle.verb import Verb, checked

    with pytest.raises(ValueError, match="running -> initialized does not move forward"):
        checked(list(AppState), [Verb("back", (AppState.RUNNING,), AppState.INITIALIZED)])


def test_two_verbs_entering_one_state_are_refused() -> None:
    from engine.lifecycle.verb import Verb, checked

    verbs = [Verb("run", (AppState.INITIALIZED,), AppState.RUNNING),
             Verb("go", (AppState.INITIALIZING,), AppState.RUNNING)]
    with pytest.raises(ValueError, match="more than one verb enters running"):
        checked(list(AppState), verbs)


@pytest.mark.parametrize("state", list(AppState))
def test_the_app_state_compares_equal_to_its_name(state: AppState) -> None:
    assert state == state.value


def test_a_receiver_may_stop_the_listener_that_announced_on_its_thread() -> None:
    import threading

    monitor = Monitor()
    seen = recorder(monitor, "connection.listener.")
    status = ListenerStatus(monitor, sender="listener", subscription_group="g")
    monitor.subscribe("connection.listener.starting", lambda sender, **e: status.stop())
    thread = threading.Thread(target=status.request, args=(ListenerState.STARTING,), daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the stop inside the announcement deadlocked"
    assert [name for name, _ in seen] == [
        "connection.listener.pending", "connection.listener.starting",
        "connection.listener.stopping"]
