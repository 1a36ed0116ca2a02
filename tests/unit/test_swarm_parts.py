"""Swarm parts without processes: reports, overdue nodes, validation before any fork."""

from __future__ import annotations

import os
import time

import pytest

from engine import App, ConfigError, Consumer, RoutingError
from engine.swarm import Supervisor
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
    with pytest.raises(ValueError, match="nodes must be an integer >= 1"):
        Supervisor(routed_app(), 0)
    with pytest.raises(RoutingError):
        Supervisor(App(kafka=KAFKA), 2)


def test_node_report_timeout_is_a_checked_setting() -> None:
    assert routed_app().settings.node_report_timeout == 60.0
    with pytest.raises(ConfigError, match=r"node_report_timeout must be a number of seconds"):
        App(kafka=KAFKA, node_report_timeout=0)
