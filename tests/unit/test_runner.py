from __future__ import annotations

import threading
from typing import Any

import pytest

from engine import App, ConfigError
from engine.processing.workers_pool import WorkersPool
from engine.runner import Runner
from engine.server import Server
from tests.conftest import BOOTSTRAP, NoopConsumer


def runner_for(app: App, build: Any) -> tuple[Runner, WorkersPool]:
    """The runner of a server for ``app`` (the server moves the app's state)."""
    server = Server(app.lifecycle, app.monitor, app.settings, app.producer,
                    app.subscription_groups(), build_listeners=build)
    return server.runner, server.runner.workers


def test_a_listener_that_cannot_be_built_fails_the_runner_cleanly(app: App) -> None:
    app.topic("orders", NoopConsumer)
    errors: list[dict[str, Any]] = []
    app.monitor.subscribe("error.occurred",
                          lambda sender, **e: errors.append({**e, "sender": sender}))
    boom = RuntimeError("cannot build a listener")

    def build(*args: Any) -> Any:
        raise boom

    before = set(threading.enumerate())
    runner, workers = runner_for(app, build)
    with pytest.raises(RuntimeError, match="cannot build a listener"):
        runner.call()
    assert errors == [{"type": "runner.call.error", "error": boom, "sender": runner}]
    assert app.state == "stopping"
    assert workers.alive() == []
    assert set(threading.enumerate()) - before == set()  # no worker thread left


def test_a_failure_after_listeners_started_stops_them_and_joins_workers(app: App) -> None:
    app.topic("orders", NoopConsumer)
    started: list[str] = []

    class Listener:
        id = "fake"

        def start(self) -> None:
            started.append("start")

        def quiet(self) -> None:
            started.append("quiet")

        def stop(self) -> None:
            started.append("stop")

        def join(self, timeout: float) -> bool:
            return True

    runner, workers = runner_for(app, lambda *args: [Listener()])
    # the server's main loop breaks once the listeners started and the workers run
    runner.server.main_loop = (  # type: ignore[method-assign]
        lambda: (_ for _ in ()).throw(KeyError("manager broke")))
    with pytest.raises(KeyError, match="manager broke"):
        runner.call()
    assert started == ["start", "quiet", "stop"]
    assert workers.alive() == []


def test_librdkafka_refusing_a_setting_is_a_config_error_at_start() -> None:
    app = App(kafka={**BOOTSTRAP, "fetch.wait.max.msec": 5})
    app.topic("orders", NoopConsumer)
    with pytest.raises(ConfigError, match=r"No such configuration property: .fetch\.wait\.max"):
        app.start()
    assert app.state == "stopping"


def test_the_config_probe_never_dials_the_broker() -> None:
    import socket

    from engine.connection.client import Client

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.5)
    app = App(kafka={"bootstrap.servers": f"127.0.0.1:{server.getsockname()[1]}"})
    app.topic("orders", NoopConsumer)
    (group,) = app.subscription_groups()
    for _ in range(40):  # a probe with the broker's address dials now and then: one in ten
        Client(group, app.monitor).check_config()
    with pytest.raises(socket.timeout):
        server.accept()  # nobody connected
    server.close()
