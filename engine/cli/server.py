"""``engine server``: run an app in this process until a signal stops it."""

from __future__ import annotations

import argparse
import logging
import sys

from engine.app import App
from engine.connection.preflight import check_broker
from engine.routing.selection import Selection
from engine.swarm.logs import NodeFormatter

log = logging.getLogger("engine.admin")
EXIT_BAD_SETUP = 1  # the supervisor's exit code for a setup no restart can fix


def serve(app: App, args: argparse.Namespace, selection: Selection) -> int:
    """Install the requested plugins, check the broker, run; the exit code."""
    prepare(app, args.plugins)
    check_broker(dict(app.settings.kafka))
    if args.migrate:
        migrate(app, selection)
    app.run(selection)
    return 0


def migrate(app: App, selection: Selection) -> None:
    """``engine topics migrate`` before a start: what it changed goes to the log."""
    from engine import admin

    for change in admin.migrate(app, selection):
        log.info("topics: %s", change)


def swarm(app: App, args: argparse.Namespace, selection: Selection) -> int:
    """Install the plugins, then supervise ``--nodes`` nodes (each checks the broker itself)."""
    from engine.swarm import Supervisor

    prepare(app, args.plugins)
    if args.migrate:  # once, in the supervisor; its admin client is gone before any fork
        check_broker(dict(app.settings.kafka))
        migrate(app, selection)
    code = Supervisor(app, args.nodes, selection).run()
    if code == EXIT_BAD_SETUP:  # the node's own error is in its log lines, above
        sys.stderr.write(
            "engine: a swarm node found that the app cannot run as configured (its error is in"
            " the node's log above); the swarm stopped\nhint: run 'engine server' on the same"
            " TARGET to see the error alone\n")
    return code


def prepare(app: App, plugins: list[str]) -> None:
    """Logging to stderr (unless configured), the requested plugins and the logger plugin."""
    configure_logging()
    for name in [*plugins, "logger"]:
        if name not in app.plugins:
            app.use(name)


def configure_logging() -> None:
    """Log to stderr at INFO unless the app configured logging itself.

    A swarm node's lines start with ``node=N pid=P`` (``engine.swarm.logs``).
    """
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            NodeFormatter("%(asctime)s %(levelname)s %(threadName)s %(message)s"))
        logging.basicConfig(level=logging.INFO, handlers=[handler])
