"""Plugin servers' ports: one per server of a swarm, never shared; a taken port fails the start."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from engine import App, EngineError, PluginError
from engine.node_ports import node_port
from engine_plugins.health import HealthPlugin
from engine_plugins.prometheus import PrometheusPlugin
from tests.conftest import BOOTSTRAP, NoopConsumer

PROMETHEUS, HEALTH, WEB = 9394, 9395, 9396  # the defaults; the dashboard is one per swarm
NODES = 64


def test_no_two_servers_of_a_64_node_swarm_share_a_default_port(
        monkeypatch: pytest.MonkeyPatch) -> None:
    ports = [WEB]
    for index in range(NODES):
        monkeypatch.setenv("ENGINE_SWARM_NODE", str(index))
        ports += [node_port(PROMETHEUS), node_port(HEALTH)]
    assert ports[1:3] == [PROMETHEUS, HEALTH]  # node 0 keeps the documented defaults
    shared = sorted({port for port in ports if ports.count(port) > 1})
    assert shared == [], f"ports served twice: {shared}"
    assert len(ports) == 2 * NODES + 1


def test_a_free_port_stays_free_and_a_port_past_65535_is_refused() -> None:
    assert node_port(0, 63) == 0  # 0: the system picks one, on every node
    assert node_port(PROMETHEUS, 3) == PROMETHEUS + 30
    with pytest.raises(ValueError, match=r"65530 \+ 10 x node 1 = 65540 is past 65535"):
        node_port(65530, 1)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other process holds (bound and listening) for the test."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def started_app(*plugins: object) -> App:
    app = App(kafka=BOOTSTRAP, client_id="ports")
    app.topic("orders", NoopConsumer)
    for plugin in plugins:
        app.use(plugin)  # type: ignore[arg-type]
    return app


def stop_if_running(app: App) -> None:
    if app.state == "running":  # only when the start wrongly succeeded
        app.stop()


@pytest.mark.parametrize(("plugin_class", "serves"), [
    (PrometheusPlugin, "/metrics"), (HealthPlugin, "/live and /ready")])
def test_a_plugin_whose_port_is_taken_fails_the_start_naming_plugin_and_port(
        plugin_class: type, serves: str, taken_port: int) -> None:
    plugin = plugin_class(port=taken_port, addr="127.0.0.1")
    app = started_app(plugin)
    try:
        with pytest.raises(PluginError) as caught:
            app.start()
    finally:
        stop_if_running(app)
    assert str(caught.value).startswith(
        f"plugin {plugin.name!r} failed to start: cannot serve {serves} on"
        f" 127.0.0.1:{taken_port}: ")
    assert app.state == "terminated"
    with pytest.raises(EngineError, match="already started"):
        app.start()


def test_a_failed_start_closes_the_servers_that_plugins_before_it_opened(
        taken_port: int) -> None:
    health = HealthPlugin(port=0, addr="127.0.0.1")
    app = started_app(health, PrometheusPlugin(port=taken_port, addr="127.0.0.1"))
    try:
        with pytest.raises(PluginError, match=f"plugin 'prometheus' .* 127.0.0.1:{taken_port}"):
            app.start()
    finally:
        stop_if_running(app)
    assert health.port != 0  # it had bound a port of its own ...
    assert "engine.health" not in [thread.name for thread in threading.enumerate()]
    with socket.socket() as again:  # ... and closed it when the start failed
        again.bind(("127.0.0.1", health.port))


def test_a_swarm_nodes_bind_error_names_the_base_port_and_the_node(
        monkeypatch: pytest.MonkeyPatch, taken_port: int) -> None:
    monkeypatch.setenv("ENGINE_SWARM_NODE", "2")
    app = started_app(HealthPlugin(port=taken_port - 20, addr="127.0.0.1"))
    try:
        with pytest.raises(PluginError) as caught:
            app.start()
    finally:
        stop_if_running(app)
    assert (f"plugin 'health' failed to start: cannot serve /live and /ready on"
            f" 127.0.0.1:{taken_port} (port {taken_port - 20} + 10 x swarm node 2): "
            ) in str(caught.value)
