"""The server: one run of an app, and the only writer of the app's state.

Read in this order: ``server.py`` (``Server.serve -> startup -> main_loop``, and ``shutdown``
from another thread), the runner it drives (``engine/runner.py``), then its private steps:
``listener_steps.py`` (quiet every listener, then stop them all), ``wake_ups.py`` (what wakes
the main loop), ``overdue.py`` (what still runs past the timeout, the forced exit) and
``first_state.py`` (a new app's first state, before any server exists).
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
