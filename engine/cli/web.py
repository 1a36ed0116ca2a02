"""``engine web``: serve the dashboard of the processes reporting on an app's cluster."""

from __future__ import annotations

import logging
from typing import Any

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
    uvicorn.run(only_local(asgi_app(app, token=token, browse_messages=browse), host),
                host=host, port=port, log_level="warning")
    return 0


LOOPBACK = ("127.0.0.1", "localhost")
"""The names of this machine a browser may use for a dashboard bound to it."""


def only_local(asgi: Any, host: str) -> Any:
    """``asgi``, refusing (400) a request whose Host is not this machine when bound to it.

    Another site a browser visits can point its own name at 127.0.0.1 (DNS rebinding) and
    then read the pages, messages included; its requests still name that site in Host.
    """
    if host not in LOOPBACK:  # bound for other machines: their names are the operator's
        return asgi
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    return TrustedHostMiddleware(asgi, allowed_hosts=list(LOOPBACK))
