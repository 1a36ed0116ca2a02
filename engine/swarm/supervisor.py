"""The swarm supervisor: forks N nodes, watches their reports, restarts, stops them all.

Fork after import, deliberately: the app is imported and validated once, here, and each node
starts from that copy (no second import, pages shared until written). That is safe only
because the supervisor holds no thread, lock or Kafka client when it forks: it is one
single-threaded loop over the nodes' pipes, signals reach it through a wake-up pipe, and
every client is created inside the nodes. (Spawn would re-import the user's module in each
node and double the memory; fork needs a POSIX system.)

Over 250 lines on purpose: the supervisor is one single-threaded loop, and its steps share that
loop's state; split, they would pass it around.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, EngineError
from engine.instrumentation.monitor import Monitor
from engine.lifecycle.app_state import AppState
from engine.processing.backoff import Backoff
from engine.swarm.events import SWARM_EVENTS
from engine.swarm.logs import tag_records
from engine.swarm.node import BAD_SETUP, Node, run_node

if TYPE_CHECKING:
    from engine.app import App
    from engine.routing.selection import Selection

log = logging.getLogger("engine.swarm")
TICK = 0.25  # seconds the loop waits for a report, an exit or a signal
STOP_GRACE = 5.0  # seconds past shutdown_timeout before a stopping node is killed
MAX_BACKOFF = 30.0  # seconds: the longest wait before a restart
# 1 s, 2 s, 4 s ... 30 s: defined for any number of failures (never overflows)
RESTART_BACKOFF = Backoff(1.0, MAX_BACKOFF)
_FORWARDED = {"SIGTSTP", "SIGTTIN"}
_STOPS = {"SIGINT", "SIGTERM", "SIGQUIT"}


class Supervisor:
    """Runs ``nodes`` copies of ``app`` (each as ``engine server`` runs it) until stopped.

    ``run()`` returns the exit code: 0 when every node stopped gracefully, 2 when any had to
    be forced, 1 when a node found the app cannot run as configured. ``monitor`` sends the
    ``swarm.node.*`` events and ``error.occurred`` (type ``swarm.node.error``). The app is
    ``supervising`` while the nodes run, then ``stopping``, ``stopped`` and ``terminated``;
    each node's copy starts ``initialized`` and runs as ``engine server`` runs it.
    """

    def __init__(self, app: App, nodes: int, selection: Selection | None = None) -> None:
        if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
            raise ConfigError([f"nodes must be an integer >= 1 (got {nodes!r})"])
        app.subscription_groups(selection)  # a RoutingError now, before any node starts
        _check_forkable(app)
        self.app, self.selection = app, selection
        self.monitor = Monitor(owner=self, events=SWARM_EVENTS)
        self.nodes = [Node(index) for index in range(nodes)]
        self._timeout = app.settings.node_report_timeout
        self._signals: list[str] = []
        self._stop_deadline: float | None = None
        self._forced = self._bad_setup = False

    def run(self) -> int:
        """Start every node and supervise them until they all stopped; the exit code."""
        wake_reader, wake_writer = os.pipe()
        os.set_blocking(wake_reader, False)
        os.set_blocking(wake_writer, False)
        previous = self._install_signals(wake_writer)
        self.app.lifecycle.request(AppState.SUPERVISING)
        try:
            for node in self.nodes:
                self._start(node, wake_reader)
            while not self._done():
                self._wait(wake_reader)
                self._handle_signals()
                self._reap()
                self._check(wake_reader)
        finally:
            self._restore_signals(previous)
            os.close(wake_reader)
            os.close(wake_writer)
            for state in (AppState.STOPPING, AppState.STOPPED, AppState.TERMINATED):
                self.app.lifecycle.request(state)
        if self._bad_setup:
            return 1
        return 2 if self._forced else 0

    # -- nodes ---------------------------------------------------------------------------------

    def _start(self, node: Node, wake_reader: int) -> None:
        reader, writer = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the node
            os.close(reader)
            self._become_node(node, writer, wake_reader)
        os.close(writer)
        os.set_blocking(reader, False)
        node.started(pid, reader)
        self._announce("swarm.node.started", node=node.index, pid=pid)

    def _become_node(self, node: Node, writer: int, wake_reader: int) -> None:
        code = 1
        try:
            tag_records(node.index)  # first: every line this process logs names the node
            self.app.lifecycle.start_as_node()
            signal.set_wakeup_fd(-1)
            for name in (*_STOPS, *_FORWARDED, "SIGCHLD"):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
            for other in self.nodes:
                if other.reader is not None:
                    os.close(other.reader)
            os.close(wake_reader)
            os.environ["ENGINE_SWARM_NODE"] = str(node.index)
            code = run_node(self.app, self.selection, writer, os.getppid())
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            log.exception("node %d failed", node.index)
        finally:
            logging.shutdown()
            os._exit(code)

    def _reap(self) -> None:
        while any(node.alive for node in self.nodes):
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            node = next((n for n in self.nodes if n.pid == pid), None)
            if node is not None:
                self._exited(node, os.waitstatus_to_exitcode(status))

    def _exited(self, node: Node, code: int) -> None:
        pid, reason = node.pid, node.killed_for
        node.exited()
        graceful = code == 0 and self._stop_deadline is not None
        self._announce("swarm.node.stopped", node=node.index, pid=pid, exit_code=code,
                       graceful=graceful)
        if self._stop_deadline is not None:
            self._forced |= code != 0
            return
        if code == BAD_SETUP:
            self._report(node, pid, "the app cannot run as configured (see the node's log);"
                         " stopping the swarm", code)
            self._bad_setup = True
            self._stop()
            return
        if reason is None:
            self._report(node, pid, f"exited unexpectedly with code {code}", code)
        delay = RESTART_BACKOFF.after(node.failures + 1)
        node.failures += 1
        node.restart_at = time.monotonic() + delay
        self._announce("swarm.node.restarting", node=node.index, delay=delay)

    def _check(self, wake_reader: int) -> None:
        now = time.monotonic()
        for node in self.nodes:
            if node.alive and self._stop_deadline is None and node.killed_for is None:
                reason = node.overdue(self._timeout)
                if reason is not None:
                    node.killed_for = reason
                    self._report(node, node.pid, f"{reason}: killed", None)
                    self._kill(node)
            elif node.restart_at is not None and now >= node.restart_at \
                    and self._stop_deadline is None:
                self._start(node, wake_reader)
        if self._stop_deadline is not None and now > self._stop_deadline:
            for node in self.nodes:
                if node.alive:
                    log.error("node %d (pid %s) outlasted shutdown_timeout: killed",
                              node.index, node.pid)
                    self._forced = True
                    self._kill(node)

    @staticmethod
    def _kill(node: Node) -> None:
        if node.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGKILL)

    # -- the loop ------------------------------------------------------------------------------

    def _done(self) -> bool:
        return self._stop_deadline is not None and not any(n.alive for n in self.nodes)

    def _wait(self, wake_reader: int) -> None:
        readers = [node.reader for node in self.nodes if node.reader is not None]
        try:
            ready, _, _ = select.select([wake_reader, *readers], [], [], TICK)
        except InterruptedError:
            return
        for node in self.nodes:
            if node.reader is not None and node.reader in ready:
                node.read_reports()
        if wake_reader in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_reader, 4096)

    def _handle_signals(self) -> None:
        signals, self._signals = self._signals, []
        for name in signals:
            if name in _STOPS:
                if self._stop_deadline is not None and name == "SIGINT":
                    log.warning("second SIGINT: killing every node")
                    self._forced = True
                    for node in self.nodes:
                        self._kill(node)
                self._stop()
            elif name in _FORWARDED:
                self._forward(getattr(signal, name))

    def _stop(self) -> None:
        if self._stop_deadline is not None:
            return
        log.info("stopping %d node(s)", sum(node.alive for node in self.nodes))
        self.app.lifecycle.request(AppState.STOPPING)
        self._stop_deadline = time.monotonic() + self.app.settings.shutdown_timeout + STOP_GRACE
        for node in self.nodes:
            node.restart_at = None
        self._forward(signal.SIGTERM)

    def _forward(self, number: int) -> None:
        for node in self.nodes:
            if node.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.pid, number)

    def _install_signals(self, wake_writer: int) -> dict[int, Any]:
        def handler(number: int, frame: Any) -> None:
            if number != signal.SIGCHLD:
                self._signals.append(signal.Signals(number).name)

        previous = {}
        for name in (*_STOPS, *_FORWARDED, "SIGCHLD"):
            number = getattr(signal, name)
            previous[number] = signal.signal(number, handler)
        previous[-1] = signal.set_wakeup_fd(wake_writer)
        return previous

    @staticmethod
    def _restore_signals(previous: dict[int, Any]) -> None:
        signal.set_wakeup_fd(previous.pop(-1))
        for number, old in previous.items():
            signal.signal(number, old)

    # -- reporting -----------------------------------------------------------------------------

    def _announce(self, event: str, **payload: Any) -> None:
        log.info("%s %s", event, " ".join(f"{key}={value}" for key, value in payload.items()))
        self.monitor.instrument(event, self, **payload)

    def _report(self, node: Node, pid: int | None, reason: str, code: int | None) -> None:
        error = RuntimeError(f"node {node.index} (pid {pid}): {reason}")
        log.error("swarm.node.error node=%d pid=%s exit_code=%s: %s", node.index, pid, code,
                  reason)
        self.monitor.instrument("error.occurred", self, type="swarm.node.error", error=error,
                                node=node.index, pid=pid, exit_code=code, reason=reason)


def _check_forkable(app: App) -> None:
    """Refuse an app whose fork would copy a live client or a running engine into the nodes."""
    if app.state is not AppState.INITIALIZED:
        raise EngineError(f"a swarm runs an app that never ran (this one is {app.state.value})")
    if app.producer.has_client:
        raise EngineError("this app produced before its swarm started: the producer's client"
                          " would be copied into every node (produce in the nodes instead)")
