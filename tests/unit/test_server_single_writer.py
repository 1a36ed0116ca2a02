"""The server is the only writer of the app's state (issue 18, section 3).

Two checks that fail when someone adds a second writer: one reads the source (any call of the
app lifecycle's writing methods outside ``engine/server/``), one runs the app (every move's
caller, through a start, a quiet, a stop and a failed start).
"""

from __future__ import annotations

import ast
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from engine import App
from engine.connection.listener import Listener
from engine.lifecycle.lifecycle import Lifecycle
from engine.server import Server
from tests.conftest import BOOTSTRAP, NoopConsumer
from tests.fakes_client import FakeClient

ROOT = Path(__file__).resolve().parents[2]
WRITING = {"request", "start_as_node"}
"""The app lifecycle's methods that move its state (the rest of its API reads)."""
OTHER_WRITERS = {"engine/swarm/supervisor.py"}
"""A swarm's supervising process runs no server: its supervisor moves that app's state."""
SERVER_MODULES = {"engine.server.server", "engine.server.first_state"}


def _writes_app_state(call: ast.Call) -> bool:
    """``<...lifecycle>.request(...)`` / ``.start_as_node()``, or any ``.request(AppState.X)``."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in WRITING:
        return False
    receiver = ast.unparse(func.value)
    names_app_state = any("AppState" in ast.unparse(argument) for argument in call.args)
    return receiver.endswith("lifecycle") or names_app_state


def writers(root: Path) -> set[str]:
    """The files under ``engine`` and ``plugins`` that write the app's state."""
    found = set()
    for path in [*root.glob("engine/**/*.py"), *root.glob("plugins/**/*.py")]:
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(isinstance(node, ast.Call) and _writes_app_state(node) for node in ast.walk(tree)):
            found.add(path.relative_to(root).as_posix())
    return found


def test_only_the_server_package_writes_the_apps_state_in_the_source() -> None:
    found = writers(ROOT)
    outside = {path for path in found - OTHER_WRITERS if not path.startswith("engine/server/")}
    assert outside == set()
    assert "engine/server/server.py" in found  # the check sees the writer it allows


def test_the_source_check_sees_a_second_writer(tmp_path: Path) -> None:
    (tmp_path / "engine").mkdir()
    (tmp_path / "engine" / "runner.py").write_text(
        "def call(self):\n    self.lifecycle.request(AppState.RUNNING)\n")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "p.py").write_text("def f(app):\n    app.x.request(AppState.QUIET)\n")
    assert writers(tmp_path) == {"engine/runner.py", "plugins/p.py"}


@pytest.fixture
def callers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The module of every caller of the app lifecycle's ``request``, as the app runs."""
    seen: list[str] = []
    request = Lifecycle.request

    def recorded(self: Lifecycle, target: Any) -> bool:
        seen.append(sys._getframe(1).f_globals["__name__"])
        return request(self, target)

    monkeypatch.setattr(Lifecycle, "request", recorded)
    monkeypatch.setattr("engine.connection.listeners_batch.Listener",
                        partial(Listener, client_factory=FakeClient))
    return seen


def test_a_run_quiet_and_stop_move_the_state_only_through_the_server(callers: list[str]) -> None:
    app = App(kafka=BOOTSTRAP)
    app.topic("orders", NoopConsumer)
    app.start()
    assert app.quiet() is True
    app.stop()
    assert app.state == "terminated"
    assert set(callers) == SERVER_MODULES


def test_a_failed_run_moves_the_state_only_through_the_server(callers: list[str]) -> None:
    app = App(kafka=BOOTSTRAP)
    app.topic("orders", NoopConsumer)

    def cannot_build(*args: Any) -> Any:
        raise RuntimeError("cannot build a listener")

    server = Server(app.lifecycle, app.monitor, app.settings, app.producer,
                    app.subscription_groups(), build_listeners=cannot_build)
    with pytest.raises(RuntimeError, match="cannot build"):
        server.serve()
    assert app.state == "stopping"
    assert set(callers) == SERVER_MODULES
