"""The ``web`` plugin: every process reports itself to Kafka for the dashboard (``engine web``).

Reports go to ``engine_reports`` every ``interval`` seconds and on each state change; errors go
to ``engine_errors`` with their tracebacks; commands come from ``engine_commands``. The topics
are declared on the app (so ``engine
topics migrate`` and ``--migrate`` create them) and created at the first start when missing.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from engine.errors import RoutingError
from engine.plugin_options import Configurable, Option, positive
from engine.web.codec import (
    COMMANDS_CONFIG,
    COMMANDS_TOPIC,
    ERRORS_CONFIG,
    ERRORS_TOPIC,
    REPORTS_CONFIG,
    REPORTS_TOPIC,
)

from .commands import Commands
from .process_info import process_id
from .reporter import Reporter, Settings
from .tracker import Tracker

if TYPE_CHECKING:
    from engine.app import App

__all__ = ["WebPlugin"]


def _at_least_one(value: Any) -> str | None:
    return None if value >= 1 else "an integer >= 1"


class WebPlugin(Configurable):
    """Publishes this process's state and errors for the web dashboard (``engine.web``).

    Options: ``interval`` (5 s between reports), ``max_partitions`` (200 partition rows per
    report, the most lagging first; the rest summarised), ``max_jobs`` (50 running jobs, the
    oldest first), ``error_backlog`` (100 errors waiting to be sent; older ones are dropped and
    counted), ``traceback_limit`` (16000 characters of each traceback, its end kept),
    ``create_topics`` (true: create the three topics at the first start when missing) and
    ``commands`` (true: quiet, stop, or pause or resume a partition, when the dashboard sends
    ``engine_commands`` a command for this process; the dashboard needs its token to send one).
    The hot path pays a few dict stores per batch and per poll; the reports are built and sent
    on the plugin's own thread (``engine.web.reporter``), which also reads ``app.statistics()``.
    """

    name = "web"
    OPTIONS = (
        Option("interval", float, 5.0, positive, "seconds between two reports"),
        Option("max_partitions", int, 200, _at_least_one, "partition rows per report"),
        Option("max_jobs", int, 50, _at_least_one, "running-job rows per report"),
        Option("error_backlog", int, 100, _at_least_one, "errors waiting to be sent"),
        Option("traceback_limit", int, 16000, _at_least_one, "characters of a traceback"),
        Option("create_topics", bool, True, help="create the report topics at the first start"),
        Option("commands", bool, True,
               help="obey the dashboard's commands (quiet, stop, pause, resume)"),
    )

    def __init__(self, **options: Any) -> None:
        values = self.configure(options)
        self._settings = Settings(
            interval=values["interval"], max_partitions=values["max_partitions"],
            max_jobs=values["max_jobs"], create_topics=values["create_topics"])
        self._commands = bool(values["commands"])
        self._reporter: Reporter | None = None
        self.tracker = Tracker(self._changed, error_backlog=values["error_backlog"],
                               traceback_limit=values["traceback_limit"],
                               ignore_topics=frozenset({REPORTS_TOPIC, ERRORS_TOPIC}))

    def install(self, app: App) -> None:
        """Declare the three topics and follow the app's events."""
        for topic, config in ((REPORTS_TOPIC, REPORTS_CONFIG), (ERRORS_TOPIC, ERRORS_CONFIG),
                              (COMMANDS_TOPIC, COMMANDS_CONFIG)):
            with contextlib.suppress(RoutingError):  # the app declared it: its config wins
                app.declare_topic(topic, config=config)
        self.tracker.install(app.monitor)

    def start(self, app: App) -> None:
        """The app (or a swarm node) starts: report from now on, on the plugin's thread."""
        if self._reporter is not None:
            return
        process = process_id()
        commands = Commands(app, process, lambda: str(self.tracker.app_state))
        self._reporter = Reporter(app, self.tracker, self._settings, process,
                                  then=commands.start if self._commands else None)
        self._reporter.start()

    @property
    def process_id(self) -> str | None:
        """This process's id in the reports (None before the start)."""
        return None if self._reporter is None else self._reporter.process_id

    def _changed(self) -> None:
        reporter = self._reporter
        if reporter is not None:
            reporter.wake()
