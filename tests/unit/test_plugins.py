from __future__ import annotations

import logging
import sys
import types
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from engine import App, PluginError
from engine import plugin as plugin_module
from engine_plugins.logger import LoggerPlugin
from tests.conftest import BOOTSTRAP


class Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def install(self, app: App) -> None:
        app.monitor.subscribe("app.initialized", lambda s, **e: self.events.append(("init", e)))


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Entry points served from a dict name -> 'module:attr' instead of installed packages."""
    module = types.ModuleType("fake_engine_plugins")
    module.Recorder = Recorder  # type: ignore[attr-defined]
    module.instance = Recorder()  # type: ignore[attr-defined]
    module.NotAPlugin = object  # type: ignore[attr-defined]

    class Explodes:
        def __init__(self) -> None:
            raise RuntimeError("constructor failed")

    module.Explodes = Explodes  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_engine_plugins", module)
    table: dict[str, str] = {}

    def entry_points(group: str) -> list[EntryPoint]:
        assert group == "engine.plugins"
        return [EntryPoint(name, value, group) for name, value in table.items()]

    monkeypatch.setattr(plugin_module, "entry_points", entry_points)
    return table


def test_a_plugin_loaded_by_name_sees_app_initialized(fake_entry_points: dict[str, str]) -> None:
    fake_entry_points["recorder"] = "fake_engine_plugins:Recorder"
    app = App(kafka=BOOTSTRAP, plugins=["recorder"])
    recorder = app.plugins["recorder"]
    assert isinstance(recorder, Recorder)
    assert recorder.events == [("init", {"state": "initialized", "previous": "initializing"})]


def test_an_entry_point_may_name_an_instance(fake_entry_points: dict[str, str]) -> None:
    fake_entry_points["recorder"] = "fake_engine_plugins:instance"
    app = App(kafka=BOOTSTRAP, plugins=["recorder"])
    assert app.plugins["recorder"] is sys.modules["fake_engine_plugins"].instance


def test_unknown_plugin_lists_the_installed_ones(fake_entry_points: dict[str, str]) -> None:
    fake_entry_points["recorder"] = "fake_engine_plugins:Recorder"
    fake_entry_points["logger"] = "engine_plugins.logger:LoggerPlugin"
    with pytest.raises(PluginError) as caught:
        App(kafka=BOOTSTRAP, plugins=["metrics"])
    assert str(caught.value).startswith(
        "unknown plugin 'metrics' (installed plugins: logger, recorder)"
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module:Plugin", "plugin 'broken' (no_such_module:Plugin) failed to load:"),
        ("fake_engine_plugins:Explodes", "plugin 'broken' (fake_engine_plugins:Explodes) failed"),
        ("fake_engine_plugins:NotAPlugin", "is not a plugin: it needs a non-empty string 'name'"),
    ],
)
def test_a_broken_plugin_gets_a_clear_error(
    fake_entry_points: dict[str, str], target: str, message: str
) -> None:
    fake_entry_points["broken"] = target
    with pytest.raises(PluginError, match=message.replace("(", r"\(").replace(")", r"\)")):
        App(kafka=BOOTSTRAP, plugins=["broken"])


def test_installing_the_same_plugin_twice_is_an_error(app: App) -> None:
    app.use(Recorder())
    with pytest.raises(PluginError, match="plugin 'recorder' is already installed on this app"):
        app.use(Recorder())


def test_a_plugin_whose_install_raises_is_reported_and_not_registered(app: App) -> None:
    class Faulty:
        name = "faulty"

        def install(self, app: App) -> None:
            raise KeyError("missing")

    with pytest.raises(PluginError, match="plugin 'faulty' failed to install: KeyError"):
        app.use(Faulty())
    assert "faulty" not in app.plugins


def test_a_plugin_without_install_is_refused(app: App) -> None:
    class NoInstall:
        name = "lazy"

    with pytest.raises(PluginError, match="plugin 'lazy' is broken: it has no callable install"):
        app.use(NoInstall())  # type: ignore[arg-type]


def test_the_logger_plugin_is_registered_by_the_package() -> None:
    assert plugin_module.installed()["logger"].value == "engine_plugins.logger:LoggerPlugin"
    assert isinstance(App(kafka=BOOTSTRAP, plugins=["logger"]).plugins["logger"], LoggerPlugin)


def test_the_distribution_puts_no_top_level_plugins_package_on_the_path(tmp_path: Any) -> None:
    import subprocess
    from importlib.metadata import distribution, entry_points

    top_level = distribution("engine").read_text("top_level.txt") or ""
    assert sorted(top_level.split()) == ["engine", "engine_plugins"]
    targets = [entry.value for entry in entry_points(group="engine.plugins")]
    assert targets and all(target.startswith("engine_plugins.") for target in targets)
    # Outside the repository (its plugins/ folder is on the path only from its root).
    code = "import importlib.util, engine_plugins; print(importlib.util.find_spec('plugins'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout
    assert out.split() == ["None"]


def test_logger_plugin_logs_states_errors_with_tracebacks_and_batches(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        raise ValueError("bad batch")
    except ValueError as error:
        failure = error
    with caplog.at_level(logging.DEBUG, logger="engine"):
        app.use(LoggerPlugin())
        app.monitor.instrument("app.running", state="running", previous="initialized")
        app.monitor.instrument(
            "connection.listener.running", subscription_group="g/default",
            state="running", previous="starting",
        )
        app.monitor.instrument(
            "error.occurred", type="consumer.consume.error", error=failure, topic="t",
        )
        app.monitor.instrument(
            "consumer.consumed", topic="t", partition=2, messages=[1, 2, 3], attempt=1, time=0.5,
        )
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0] == "app running (was initialized)"
    assert messages[1] == "listener g/default running"
    assert messages[2] == "consumer.consume.error: ValueError('bad batch') {'topic': 't'}"
    assert caplog.records[2].exc_info is not None
    assert "Traceback" in caplog.text and "bad batch" in caplog.text
    assert messages[3] == "consumed 3 message(s) of t/2 in 0.500 s (attempt 1)"
    assert caplog.records[3].levelno == logging.DEBUG


def test_the_logger_leaves_per_batch_events_unheard_unless_debug_at_install(app: App) -> None:
    quiet = logging.getLogger("engine.test.quiet")
    quiet.setLevel(logging.INFO)
    app.use(LoggerPlugin(quiet))
    assert not app.monitor.listening("consumer.consumed")  # the hot path's shortcut holds
    assert app.monitor.listening("error.occurred")
