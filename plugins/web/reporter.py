"""The reporter thread: creates the topics if asked, then sends reports and errors."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.config.kafka import common_config
from engine.errors import AdminError, RoutingError
from engine.lifecycle import AppState
from engine.node_ports import node_index
from engine.producer import kafka_producer
from engine.routing.selection import Selection
from engine.web.codec import COMMANDS_TOPIC, ERRORS_TOPIC, HEADERS, REPORTS_TOPIC, encode

from . import report
from .process_info import CpuMeter, snapshot, versions
from .tracker import Tracker

if TYPE_CHECKING:
    from engine.app import App

log = logging.getLogger("engine.web")
MIN_GAP = 0.2
"""Seconds at least between two reports, however many changes wake the reporter."""
TOPICS = (REPORTS_TOPIC, ERRORS_TOPIC, COMMANDS_TOPIC)
_FINAL = (AppState.STOPPED.value, AppState.TERMINATED.value)
_ENDING = (AppState.STOPPING.value, *_FINAL)


@dataclass(frozen=True)
class Settings:
    """The reporter's options (the plugin validated them)."""

    interval: float
    max_partitions: int
    max_jobs: int
    create_topics: bool


MESSAGE_TIMEOUT_MS = 10_000
"""How long a report may wait for the brokers before it is dropped (a newer one follows)."""

FLUSH_TIMEOUT = 2.0
"""Seconds the reporter waits, once the app stopped, for its last reports to leave."""


class Reporter:
    """Wakes every ``interval`` seconds or when woken, then sends what is new.

    ``then`` runs on the reporter's thread once the topics were created (or tried).

    Sends through a producer of its own, never the app's: with the brokers unreachable, the
    app's stop would wait for undelivered reports (up to ``shutdown_timeout``) and report each
    as the app's delivery error. Once the app stopped, it sends its last report (the app
    stopped), waits ``FLUSH_TIMEOUT`` at most for it to leave, and ends.
    """

    def __init__(self, app: App, tracker: Tracker, settings: Settings, process: str,
                 then: Callable[[], None] | None = None) -> None:
        self._then = then
        self._app = app
        self._tracker = tracker
        self._settings = settings
        self._woken = threading.Event()
        self._producer: Any = None  # the reporter's own (``start``)
        self._cpu = CpuMeter()
        self.process_id = process
        self._process = {"id": self.process_id, "host": socket.gethostname(),
                         "pid": os.getpid(), "started_at": time.time(),
                         "client_id": app.settings.client_id, "versions": versions(),
                         "interval": settings.interval, "node": node_index()}

    def start(self) -> None:
        """Start the thread ``engine.web.reporter``."""
        config = {**common_config(self._app.settings.kafka),
                  "client.id": f"{self._app.settings.client_id}-web",
                  "message.timeout.ms": MESSAGE_TIMEOUT_MS, "linger.ms": 50}
        self._producer = kafka_producer(config)
        threading.Thread(target=self._run, name="engine.web.reporter", daemon=True).start()

    def wake(self) -> None:
        """Send a report now (a state changed, an error came)."""
        self._woken.set()

    def _run(self) -> None:
        if self._settings.create_topics:
            self._create_topics()
        # what needs the topics (the commands' reader) starts now, unless the app stops: the
        # topics' creation may have waited out a broker that did not answer meanwhile
        if self._then is not None and self._tracker.app_state not in _ENDING:
            self._then()
        while True:
            try:
                self._send_errors()
                self._send_report()
            except Exception:  # a report must never take the process down
                log.exception("web: a report could not be sent")
            if self._tracker.app_state in _FINAL:
                self._producer.flush(FLUSH_TIMEOUT)  # what is still queued then is dropped
                return
            sent = time.monotonic()
            self._woken.wait(self._settings.interval)
            self._woken.clear()
            # a burst of changes or errors is sent together, at most every MIN_GAP seconds
            time.sleep(max(0.0, sent + MIN_GAP - time.monotonic()))

    def _create_topics(self) -> None:
        from engine import admin  # the admin client only where reporting runs

        try:
            for change in admin.create(self._app, Selection(topics=TOPICS)):
                log.info("web: %s", change)
        except (AdminError, RoutingError) as error:  # the broker may create them on use
            log.warning("web: could not create %s: %s", ", ".join(TOPICS), error)

    def _send_report(self) -> None:
        now = time.time()
        body = report.build(self._tracker, {**self._process, **snapshot(self._cpu)},
                            self._app.statistics(), now,
                            max_partitions=self._settings.max_partitions,
                            max_jobs=self._settings.max_jobs)
        self._send(REPORTS_TOPIC, encode("report", body))

    def _send_errors(self) -> None:
        errors = self._tracker.errors
        while errors:
            record = errors.popleft()
            self._send(ERRORS_TOPIC, encode("error", {"process": self.process_id,
                                                      "host": self._process["host"],
                                                      "pid": self._process["pid"], **record}))

    def _send(self, topic: str, value: bytes) -> None:
        self._producer.produce(topic, value, key=self.process_id, headers=list(HEADERS),
                               on_delivery=_delivered)
        self._producer.poll(0)


def _delivered(error: Any, message: Any) -> None:
    """A report that did not reach the brokers: logged (a newer one follows), never the app's."""
    if error is not None:
        log.debug("web: a report was not delivered: %s", error)
