"""``engine demo --web``: the dashboard beside the demo, on the demo's own broker.

The demo's app reports (plugin ``web``) and the dashboard is served from the start, so the run
can be watched live; it stays up after the run, on the broker that holds the reports, until a
stop signal ends the demo.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from engine.broker import port_free
from engine.errors import PluginError
from engine.plugin import installed
from engine.plugin_options import needs

if TYPE_CHECKING:
    from engine.app import App

REPORT_INTERVAL = 1.0
"""Seconds between two reports of the demo's app: a run of a few seconds still draws a chart."""

START_TIMEOUT = 30.0
"""Seconds the dashboard may take to listen."""

PORT_HINT = "hint: choose another port: engine demo --web PORT"


class DemoDashboard:
    """The demo app's plugin ``web`` and ``engine.web.asgi_app`` served on 127.0.0.1:``port``."""

    def __init__(self, app: App, port: int) -> None:
        uvicorn = needs("web", "uvicorn", "web")
        if not port_free("127.0.0.1", port):  # before its feed joins a group for nothing
            raise PluginError(f"plugin 'web': port {port} on 127.0.0.1 is already in use",
                              PORT_HINT)
        from engine.web import asgi_app

        app.use(_web_plugin()(interval=REPORT_INTERVAL))
        self.url = f"http://127.0.0.1:{port}/"
        from engine.cli.web import only_local

        config = uvicorn.Config(only_local(asgi_app(app), "127.0.0.1"), host="127.0.0.1",
                                port=port, log_level="warning")
        self._server: Any = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="engine.demo.web",
                                        daemon=True)

    def start(self) -> None:
        """Serve, and return once it listens (``PluginError`` with a hint if it cannot)."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:  # uvicorn's own flag, set once it listens
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise PluginError(f"plugin 'web': the dashboard could not listen on {self.url}",
                                  PORT_HINT)
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop serving (its feed stops with it)."""
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT)


def _web_plugin() -> Any:
    """The ``web`` plugin's class, by its entry point (the core imports no plugin)."""
    point = installed().get("web")
    if point is None:
        raise PluginError("plugin 'web' is not installed: pip install 'engine[web]'")
    return point.load()
