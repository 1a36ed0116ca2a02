"""Every documented lifecycle state is entered, each at most once, on a run's real paths.

The app runs its real server, runner, manager and listener threads; only the Kafka client is
the ``FakeClient`` (no broker needed).
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import pytest

from engine import App, ListenerState
from engine.connection.listener import Listener
from engine.lifecycle import ListenerStatus
from tests.conftest import BOOTSTRAP, NoopConsumer
from tests.fakes_client import FakeClient

LISTENER_EVENTS = {f"connection.listener.{state.value}" for state in ListenerState}
SWARM_ONLY = {"app.supervising"}
"""A swarm supervisor's state: ``tests/integration/test_swarm.py`` checks it is entered."""
LISTENER_PATH = ["connection.listener.pending", "connection.listener.starting",
                 "connection.listener.running", "connection.listener.quieting",
                 "connection.listener.quiet",
                 "connection.listener.stopping", "connection.listener.stopped"]


class StateEvents:
    """The app's and listeners' state events, in the order sent, with their senders."""

    def __init__(self, app: App) -> None:
        self.seen: list[tuple[Any, str]] = []
        self._lock = threading.Lock()
        for name in app.monitor.events:
            if name in LISTENER_EVENTS or (name.startswith("app.") and name.count(".") == 1):
                app.monitor.subscribe(name, partial(self._record, name))

    def _record(self, name: str, sender: Any, **event: Any) -> None:
        with self._lock:
            self.seen.append((sender, name))

    def app(self) -> list[str]:
        return [name for _, name in self.seen if name.startswith("app.")]

    def listeners(self) -> dict[Any, list[str]]:
        paths: dict[Any, list[str]] = {}
        for sender, name in self.seen:
            if name in LISTENER_EVENTS:
                paths.setdefault(sender, []).append(name)
        return paths

    def names(self) -> list[str]:
        return [name for _, name in self.seen]


def started_app(monkeypatch: pytest.MonkeyPatch) -> tuple[App, StateEvents]:
    """A running app of two subscription groups whose listeners run on ``FakeClient``."""
    monkeypatch.setattr("engine.connection.listeners_batch.Listener",
                        partial(Listener, client_factory=FakeClient))
    app = App(kafka=BOOTSTRAP)
    app.topic("orders", NoopConsumer)
    app.subscription_group("audit").topic("audit", NoopConsumer)
    events = StateEvents(app)
    running: list[Any] = []
    both_running = threading.Event()

    def on_running(sender: Any, **event: Any) -> None:
        running.append(sender)
        if len(running) == 2:
            both_running.set()

    app.monitor.subscribe("connection.listener.running", on_running)
    app.start()
    assert both_running.wait(30), "both listeners running within 30 s"
    return app, events


def test_a_stop_enters_every_state_of_its_path_once_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, events = started_app(monkeypatch)
    app.stop()
    assert events.app() == ["app.running", "app.stopping", "app.stopped", "app.terminated"]
    assert list(events.listeners().values()) == [LISTENER_PATH, LISTENER_PATH]
    names = events.names()
    assert names.index("app.stopping") < names.index("connection.listener.quieting")
    assert names.index("app.stopped") > max(
        i for i, name in enumerate(names) if name == "connection.listener.stopped")


def test_a_quiet_then_a_stop_enter_every_state_of_a_run_once_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, events = started_app(monkeypatch)
    assert app.quiet() is True
    app.stop()
    assert events.app() == ["app.running", "app.quieting", "app.quiet", "app.stopping",
                            "app.stopped", "app.terminated"]
    assert list(events.listeners().values()) == [LISTENER_PATH, LISTENER_PATH]


def test_waiting_for_quiet_again_and_again_leaves_no_watcher_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, _ = started_app(monkeypatch)
    watchers = app.lifecycle._watchers
    before = len(watchers)
    for _ in range(3):
        assert app.quiet() is True
    assert len(watchers) == before
    app.stop()


def test_every_documented_state_is_entered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, events = started_app(monkeypatch)
    app.quiet()
    app.stop()
    never_started = ListenerStatus(app.monitor, sender="listener", subscription_group="x")
    never_started.stop()  # pending -> stopping -> stopped
    assert events.listeners()["listener"] == ["connection.listener.pending",
                                              "connection.listener.stopping",
                                              "connection.listener.stopped"]
    entered = {"app.initialized", *events.names()}  # a new App is initialized: before we listen
    documented = {name for name in app.monitor.events
                  if name in LISTENER_EVENTS or (name.startswith("app.") and name.count(".") == 1)}
    assert documented - entered == SWARM_ONLY
