"""Process mode: the runner on the main thread, signals handled, stops bounded by a watchdog."""

from __future__ import annotations

import logging
import threading

from engine import os_signals
from engine.server.server import Server

log = logging.getLogger("engine.server")


class ProcessMode:
    """INT/TERM/QUIT stop (a second INT forces), TSTP quiets, TTIN dumps thread stacks."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._stopper: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self) -> None:
        """Block until the app stops; re-raise what made the runner fail."""
        with os_signals.captured(self.on_signal):
            try:
                self.server.serve()
            except BaseException:
                self._begin_stop()
                self._wait_for_stop()
                raise
            self._wait_for_stop()

    def on_signal(self, name: str) -> None:
        """React to one signal (runs on the signal thread, never in the handler)."""
        self.server.monitor.instrument("process.notice_signal", self.server, signal=name)
        if name in os_signals.STOP_SIGNALS:
            if not self._begin_stop() and name == "SIGINT":
                log.warning("second SIGINT: forcing the stop")
                self._force()
        elif name in os_signals.QUIET_SIGNALS:
            self.server.quiet()
        elif name in os_signals.DUMP_SIGNALS:
            os_signals.dump_stacks()

    def _begin_stop(self) -> bool:
        """Start the graceful stop once; False when one is already under way."""
        with self._lock:
            if self._stopper is not None:
                return False
            self._stopper = threading.Thread(target=self._stop, name="engine.stopper",
                                             daemon=True)
            self._stopper.start()
            return True

    def _stop(self) -> None:
        if self.server.shutdown() is not None:
            self.server.force_exit()

    def _force(self) -> None:
        report = self.server.report()
        self.server.monitor.instrument(
            "error.occurred", self.server, type="app.stopping.error",
            error=RuntimeError("stop forced by a second SIGINT"), **report,
        )
        self.server.force_exit()

    def _wait_for_stop(self) -> None:
        # joined in slices so that signals still reach the main thread meanwhile
        while True:
            with self._lock:
                stopper = self._stopper
            if stopper is None:
                self._begin_stop()
                continue
            stopper.join(0.2)
            if not stopper.is_alive():
                return
