"""``engine web``: serve the dashboard of the processes reporting on an app's cluster."""

from __future__ import annotations

import logging

from engine.app import App
from engine.cli.server import configure_logging
from engine.plugin_options import needs

log = logging.getLogger("engine.web")


def run_web(app: App, host: str, port: int, token: str | None, browse: bool = True) -> int:
    """Serve ``engine.web.asgi_app(app)`` with uvicorn until interrupted; the exit code.

    With a ``token`` the pages can quiet or stop a process (the token must come with each
    command); without one the dashboard is read only. ``browse`` False hides every message.
    """
    uvicorn = needs("web", "uvicorn", "web")
    from engine.web import asgi_app

    configure_logging()
    log.info("web: dashboard on http://%s:%d/ (%s)", host, port,
             "commands need the token" if token else "read only")
    uvicorn.run(asgi_app(app, token=token, browse_messages=browse), host=host, port=port,
                log_level="warning")
    return 0
