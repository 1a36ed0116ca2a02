"""The server: one run of an app, and the only writer of the app's state.

Read in this order:

- ``server.py``: ``Server.serve`` (the run's thread) calls the runner (``engine/runner.py``,
  Karafka's ``Runner#call``), which calls back ``Server.startup`` and ``Server.main_loop``;
  ``Server.shutdown`` (another thread) asks for the stop and waits for it, bounded.
- ``process_mode.py``: ``engine server``'s way: serve on the main thread, signals, a watchdog.
- the server's private steps: ``listener_steps.py`` (quiet every listener, then stop them
  all), ``wake_ups.py`` (what wakes the main loop), ``overdue.py`` (what still runs past the
  timeout, the forced exit) and ``first_state.py`` (a new app's state, before any server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.server.server import Server

__all__ = ["Server"]


def __getattr__(name: str) -> Any:
    """``Server`` on first use: building an App imports no Kafka client (the runner does)."""
    if name == "Server":
        from engine.server.server import Server

        return Server
    raise AttributeError(f"module 'engine.server' has no attribute {name!r}")
