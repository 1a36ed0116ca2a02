"""Swarm parts without processes: reports, overdue nodes, validation before any fork."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from engine import App, ConfigError, Consumer, EngineError, RoutingError
from engine.lifecycle import AppState
from engine.swarm import Supervisor
from engine.swarm.logs import NodeFormatter, tag_records
from engine.swarm.node import Node
from engine.swarm.reporter import NodeReporter

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


def routed_app(**options: object) -> App:
    app = App(kafka=KAFKA, client_id="swarm", **options)
    app.topic("orders", type("C", (Consumer,), {"consume": lambda self, ms: None}))
    return app


def test_a_node_takes_the_last_report_from_its_pipe() -> None:
    reader, writer = os.pipe()
    os.set_blocking(reader, False)
    node = Node(0)
    node.started(12345, reader)
    os.write(writer, b"0.100\n2.500\n7.2")  # the last line is not complete yet
    node.read_reports()
    assert node.age == 2.5
    os.write(writer, b"50\n")
    node.read_reports()
    assert node.age == 7.25  # "7.2" and "50" are one report: 7.250
    assert node.overdue(60.0) is None
    assert node.overdue(5.0) == "a listener made no progress for 7.2 s"
    node.last_report = time.monotonic() - 61
    assert (node.overdue(60.0) or "").startswith("no report for 61")
    os.close(writer)
    node.exited()
    assert not node.alive


def test_the_reporter_tracks_the_slowest_running_listener() -> None:
    app = routed_app()
    now = [100.0]
    reporter = NodeReporter(app, writer=-1, supervisor=os.getppid(), clock=lambda: now[0])
    monitor = app.monitor
    monitor.instrument("connection.listener.running", None, subscription_group="a",
                       state="running", previous="starting")
    monitor.instrument("connection.listener.running", None, subscription_group="b",
                       state="running", previous="starting")
    now[0] = 107.0
    monitor.instrument("connection.listener.fetch_loop", None, subscription_group="a")
    assert reporter.age() == 7.0  # b has not turned since it started
    monitor.instrument("connection.listener.quieting", None, subscription_group="b",
                       state="quieting", previous="running")
    assert reporter.age() == 0.0  # a quiet listener is not stuck


def test_a_bad_route_or_node_count_fails_before_any_node_starts() -> None:
    with pytest.raises(ConfigError, match="nodes must be an integer >= 1"):
        Supervisor(routed_app(), 0)
    with pytest.raises(RoutingError):
        Supervisor(App(kafka=KAFKA), 2)


def test_node_report_timeout_is_a_checked_setting() -> None:
    assert routed_app().settings.node_report_timeout == 60.0
    with pytest.raises(ConfigError, match=r"node_report_timeout must be a number of seconds"):
        App(kafka=KAFKA, node_report_timeout=0)


@pytest.fixture
def record_factory() -> Iterator[None]:
    original = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(original)  # a node's factory must not outlive the test


def test_a_nodes_records_name_the_node_and_its_pid(record_factory: None) -> None:
    formatter = NodeFormatter("%(levelname)s %(message)s")
    plain = logging.getLogger("engine.librdkafka").makeRecord(
        "engine.librdkafka", logging.INFO, __file__, 1, "FAIL %s", ("broker down",), None)
    assert formatter.format(plain) == "INFO FAIL broker down"  # outside a node: unchanged
    tag_records(3)
    for name in ("engine.librdkafka", "engine.signals", "users.own"):  # every logger's records
        record = logging.getLogger(name).makeRecord(
            name, logging.INFO, __file__, 1, "received %s", ("SIGTERM",), None)
        assert (record.swarm_node, record.swarm_tag) == (3, f"node=3 pid={os.getpid()}")
        assert formatter.format(record) == f"node=3 pid={os.getpid()} INFO received SIGTERM"
        assert record.getMessage() == "received SIGTERM"  # the message itself is untouched


def test_a_nodes_app_starts_initialized_from_the_supervisors_copy() -> None:
    app = routed_app()
    announced: list[str] = []
    app.monitor.subscribe("app.initialized", lambda sender, **event: announced.append("init"))
    app.lifecycle.request(AppState.SUPERVISING)  # what the supervisor forks from
    app.lifecycle.start_as_node()
    assert app.state == "initialized" and announced == []  # a fresh start, not announced again
    assert app.lifecycle.request(AppState.RUNNING)


def test_a_swarm_refuses_an_app_that_ran_or_produced() -> None:
    app = routed_app()
    app.lifecycle.request(AppState.RUNNING)
    with pytest.raises(EngineError, match="a swarm runs an app that never ran"):
        Supervisor(app, 2)
    app = routed_app()
    app.producer._producer = object()  # a client built by a send before the fork
    with pytest.raises(EngineError, match="produced before its swarm started"):
        Supervisor(app, 2)


@pytest.mark.parametrize("code", [1, 2])
def test_run_swarm_raises_a_swarm_error_instead_of_exiting(
    app: App, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    class Ended:
        def __init__(self, *args: Any) -> None:
            pass

        def run(self) -> int:
            return code

    monkeypatch.setattr("engine.swarm.Supervisor", Ended)
    with pytest.raises(EngineError) as caught:  # SystemExit is not one: it would escape
        app.run_swarm(nodes=2)
    from engine import SwarmError

    assert isinstance(caught.value, SwarmError)
    assert caught.value.exit_code == code
    assert str(caught.value).startswith("the swarm stopped: a node ")


def test_run_swarm_returns_when_every_node_stopped_gracefully(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("engine.swarm.Supervisor",
                        lambda *args: type("Graceful", (), {"run": lambda self: 0})())
    assert app.run_swarm(nodes=2) is None
