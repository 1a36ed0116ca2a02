"""Kubernetes probes: ``/live`` (polling and jobs on time) and ``/ready`` (running), as JSON."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from engine.lifecycle import AppState, ListenerState
from engine.plugin_options import Configurable, Option, port, positive

from .serving import cannot_serve, port_to_serve

if TYPE_CHECKING:
    from engine.app import App

log = logging.getLogger("engine.health")


class HealthPlugin(Configurable):
    """Answers ``GET /live`` and ``GET /ready`` on its own thread (``engine.health``).

    ``/live`` is 200 while every running listener polled within ``polling_ttl`` seconds and no
    job has run longer than ``consuming_ttl``, else 500; ``/ready`` is 200 while the app is
    running and every listener runs and holds partitions (or has waited for them less than the
    app's ``assignment_timeout``), else 503. Bodies name the reasons. Options: ``port``
    (9395; 0 picks a free one, read back from ``plugin.port``), ``addr``, ``polling_ttl`` and
    ``consuming_ttl`` (300 s each). The server binds when the app starts (``start``: a port
    taken fails the start) and stops with the app; a swarm node ``i`` serves on
    ``port + 10 * i`` (``engine.node_ports.node_port``).
    """

    name = "health"
    OPTIONS = (
        Option("port", int, 9395, port, "the TCP port of /live and /ready"),
        Option("addr", str, "0.0.0.0", help="the address the probes listen on"),
        Option("polling_ttl", float, 300.0, positive, "seconds a listener may go without polling"),
        Option("consuming_ttl", float, 300.0, positive, "seconds a job may run"),
    )

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, **options: Any) -> None:
        values = self.configure(options)
        self.port: int = values["port"]
        self.addr: str = values["addr"]
        self._polling_ttl: float = values["polling_ttl"]
        self._consuming_ttl: float = values["consuming_ttl"]
        self._clock = clock
        self._lock = threading.Lock()
        self._app_state = AppState.INITIALIZING.value
        self._listeners: dict[str, dict[str, Any]] = {}
        self._unassigned: dict[str, dict[str, Any]] = {}  # group -> since when, and names
        self._jobs: dict[int, tuple[Any, float]] = {}
        self._server: ThreadingHTTPServer | None = None

    def install(self, app: App) -> None:
        """Follow the app, its listeners and its jobs."""
        monitor = app.monitor
        self._app_state = AppState(app.state).value
        for state in list(AppState)[1:]:  # initializing is never announced
            monitor.subscribe(f"app.{state.value}", self._on_app_state)
        for listener_state in ListenerState:
            monitor.subscribe(f"connection.listener.{listener_state.value}", self._on_listener)
        monitor.subscribe("connection.listener.fetch_loop", self._on_poll)
        monitor.subscribe("connection.listener.unassigned", self._on_unassigned)
        monitor.subscribe("rebalance.partitions_assigned", self._on_assigned)
        monitor.subscribe("worker.process", self._on_job_start)
        monitor.subscribe("worker.completed", self._on_job_end)

    # -- the probes ----------------------------------------------------------------------------

    def live(self) -> tuple[int, dict[str, Any]]:
        """``(status, body)`` of ``/live``."""
        now = self._clock()
        with self._lock:
            problems = [
                {"reason": "listener stopped polling", "subscription_group": subscription_group_id,
                 "seconds": round(now - seen["polled"], 3)}
                for subscription_group_id, seen in list(self._listeners.items())
                if seen["state"] == ListenerState.RUNNING.value
                and now - seen["polled"] > self._polling_ttl
            ] + [
                {"reason": "job overran consuming_ttl", "job": job.kind, "topic": job.topic,
                 "partition": job.partition, "seconds": round(now - started, 3)}
                for job, started in list(self._jobs.values())
                if now - started > self._consuming_ttl
            ]
            state = self._app_state
        return (500 if problems else 200), {"status": "failing" if problems else "ok",
                                            "app": state, "problems": problems}

    def ready(self) -> tuple[int, dict[str, Any]]:
        """``(status, body)`` of ``/ready``."""
        now = self._clock()
        with self._lock:
            state = self._app_state
            problems = [{"reason": "listener not running",
                         "subscription_group": subscription_group_id, "state": seen["state"]}
                        for subscription_group_id, seen in self._listeners.items()
                        if seen["state"] != ListenerState.RUNNING.value]
            problems += [{"reason": "no partitions assigned",
                          "subscription_group": subscription_group_id,
                          "consumer_group": waiting["consumer_group"],
                          "topics": waiting["topics"],
                          "seconds": round(now - waiting["since"], 3)}
                         for subscription_group_id, waiting in self._unassigned.items()]
        if state != AppState.RUNNING.value:
            problems.insert(0, {"reason": "app not running", "state": state})
        return (503 if problems else 200), {"status": "not ready" if problems else "ready",
                                            "app": state, "problems": problems}

    # -- the server ----------------------------------------------------------------------------

    def start(self, app: App) -> None:
        """The app starts: serve the probes now, so a port already taken fails the start."""
        self.start_server()

    def start_server(self) -> None:
        """Serve the probes on thread ``engine.health`` (once).

        Raises a ``PluginError`` naming the address and port when it cannot bind.
        """
        if self._server is not None:
            return
        served = port_to_serve(self.port)
        try:
            server = ThreadingHTTPServer((self.addr, served), _handler(self))
        except OSError as error:
            raise cannot_serve("/live and /ready", self.addr, self.port, served,
                               error) from error
        server.daemon_threads = True
        self._server, self.port = server, int(server.server_address[1])
        threading.Thread(target=server.serve_forever, name="engine.health", daemon=True).start()

    def stop_server(self) -> None:
        """Stop serving (the app stopped)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    # -- receivers -----------------------------------------------------------------------------

    def _on_app_state(self, sender: Any, **event: Any) -> None:
        with self._lock:
            self._app_state = event["state"]
        if event["state"] in (AppState.STOPPED.value, AppState.TERMINATED.value):
            self.stop_server()

    def _on_listener(self, sender: Any, **event: Any) -> None:
        with self._lock:
            self._listeners[event["subscription_group"]] = {"state": event["state"],
                                                            "polled": self._clock()}
            self._unassigned.pop(event["subscription_group"], None)  # a new chapter

    # A group past assignment_timeout without partitions is not ready until some arrive
    # (an empty assignment is no arrival: librdkafka hands one to a member left out).

    def _on_unassigned(self, sender: Any, **event: Any) -> None:
        with self._lock:
            self._unassigned[event["subscription_group"]] = {
                "since": self._clock() - event["waited"], "topics": list(event["topics"]),
                "consumer_group": event["consumer_group"]}

    def _on_assigned(self, sender: Any, **event: Any) -> None:
        # by its topics, not its id: the group's first connection reports it unassigned, and
        # another of its connections (``<group>#2``, ...) may be the one given partitions; a
        # topic is in one subscription group of a consumer group
        topics = {pair[0] for pair in event["partitions"]}
        if topics:
            with self._lock:
                for group_id, waiting in list(self._unassigned.items()):
                    if (waiting["consumer_group"] == event["consumer_group"]
                            and topics.intersection(waiting["topics"])):
                        del self._unassigned[group_id]

    # The three receivers below run per poll and per job: one dict store each, no lock (a
    # single store is atomic; the probes copy the dicts before reading them).

    def _on_poll(self, sender: Any, **event: Any) -> None:
        seen = self._listeners.get(event["subscription_group"])
        if seen is not None:
            seen["polled"] = self._clock()

    def _on_job_start(self, sender: Any, **event: Any) -> None:
        # by the job, not the sender: the event loop runs many jobs at once (async consumers)
        self._jobs[id(event["job"])] = (event["job"], self._clock())

    def _on_job_end(self, sender: Any, **event: Any) -> None:
        self._jobs.pop(id(event["job"]), None)


def _handler(plugin: HealthPlugin) -> type[BaseHTTPRequestHandler]:
    probes = {"/live": plugin.live, "/ready": plugin.ready}

    class Probe(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            probe = probes.get(self.path.split("?", 1)[0])
            status, body = probe() if probe else (404, {"error": "try /live or /ready"})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
            log.debug("%s " + format, self.address_string(), *args)

    return Probe
