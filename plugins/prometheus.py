"""Prometheus metrics from the engine's events, served at ``/metrics`` or into a registry.

Labels are topics, consumer groups, subscription groups, partitions, states and error types:
never offsets or keys (they would grow without bound).
"""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING, Any

from engine.lifecycle import AppState, ListenerState
from engine.plugin_options import Configurable, Option, needs, port

from .batch_tally import BatchTally
from .serving import cannot_serve, port_to_serve

if TYPE_CHECKING:
    from engine.app import App

_FAILED_BATCH = ("consumer.consume.error", "consumer.deserialize.error")
LAG_EVERY = 1.0  # seconds between two reads of one partition's lag after a batch


class PrometheusPlugin(Configurable):
    """The metric families of docs/operations/metrics.md (API.md section 9).

    Options: ``port`` (9394; 0 picks a free one, read back from ``plugin.port``), ``addr``
    (``0.0.0.0``). With ``registry=`` (a ``prometheus_client.CollectorRegistry``) the metrics go
    there and no server is started. The server binds when the app starts (``start``: a port
    taken fails the start) and stops with the app; a swarm node ``i`` serves on
    ``port + 10 * i`` (``engine.node_ports.node_port``).
    """

    name = "prometheus"
    OPTIONS = (
        Option("port", int, 9394, port, "the TCP port of /metrics"),
        Option("addr", str, "0.0.0.0", help="the address /metrics listens on"),
    )

    def __init__(self, *, registry: Any = None, **options: Any) -> None:
        values = self.configure(options)
        client = needs(self.name, "prometheus_client", "prometheus")
        self.port: int = values["port"]
        self.addr: str = values["addr"]
        self._serve = registry is None
        self.registry = registry if registry is not None else client.CollectorRegistry()
        self.metrics = _Metrics(client, self.registry)
        self._server: Any = None

    def install(self, app: App) -> None:
        """Subscribe the receivers; the server follows the app's lifecycle."""
        monitor, receivers = app.monitor, _Receivers(self.metrics)
        self.metrics.follow(app)
        for event, receiver in receivers.table().items():
            monitor.subscribe(event, receiver)
        for state in list(AppState)[1:]:  # initializing is never announced
            monitor.subscribe(f"app.{state.value}", self._on_app_state)
        self.metrics.app_state(AppState(app.state))

    def start(self, app: App) -> None:
        """The app starts: serve ``/metrics`` now, so a port already taken fails the start."""
        self.start_server()

    def _on_app_state(self, sender: Any, **event: Any) -> None:
        state = AppState(event["state"])
        self.metrics.app_state(state)
        if state in (AppState.STOPPED, AppState.TERMINATED):
            self.stop_server()

    def start_server(self) -> None:
        """Serve ``/metrics`` (once; nothing when a registry was given).

        Raises a ``PluginError`` naming the address and port when it cannot bind.
        """
        if not self._serve or self._server is not None:
            return
        from prometheus_client import start_http_server

        served = port_to_serve(self.port)
        try:
            self._server, thread = start_http_server(served, self.addr, self.registry)
        except OSError as error:
            raise cannot_serve("/metrics", self.addr, self.port, served, error) from error
        thread.name = "engine.prometheus"
        self.port = int(self._server.server_port)

    def stop_server(self) -> None:
        """Stop serving."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


def _before(messages: Any, offset: int | None) -> int:
    """How many of a batch's messages lie before ``offset`` (0 without either)."""
    if messages is None or offset is None:
        return 0
    return sum(1 for raw in messages.raw if raw.offset() < offset)


class _Metrics:
    """The metric objects, registered in one registry."""

    def __init__(self, client: Any, registry: Any) -> None:
        counter = partial(client.Counter, registry=registry)
        gauge = partial(client.Gauge, registry=registry)
        batch = ("consumer_group", "topic")
        self.tally = BatchTally()  # the per-batch families, summed at scrape time
        registry.register(self.tally)
        self.lag = gauge("engine_consumer_lag", "Messages behind the partition's end",
                         (*batch, "partition"))
        self.errors = counter("engine_errors", "error.occurred events by type", ("type",))
        self.retries = counter("engine_retries", "Batches retried after a failure")
        self.dead_letters = counter("engine_dead_letters", "Messages sent to a dead-letter queue")
        self.rebalances = counter("engine_rebalances", "Partition changes by kind", ("kind",))
        self.app = gauge("engine_app_state", "1 for the app's current state", ("state",))
        self.listener = gauge("engine_listener_state", "1 for each listener's current state",
                              ("subscription_group", "state"))
        self.busy = gauge("engine_workers_busy", "Workers running a job")
        self.queued = gauge("engine_jobs_queued", "Jobs waiting for a worker")
        self.on_loop = gauge("engine_async_jobs", "Async consumers' jobs on the event loop")

    def follow(self, app: App) -> None:
        """Read the busy workers and queued jobs from the app at each scrape."""
        self.busy.set_function(lambda: app.statistics()["workers_busy"])
        self.queued.set_function(lambda: app.statistics()["jobs_queued"])
        self.on_loop.set_function(lambda: app.statistics()["async_jobs"])

    def app_state(self, current: AppState) -> None:
        """Set the app-state gauge to ``current``."""
        for state in AppState:
            self.app.labels(state.value).set(1 if state is current else 0)

    def listener_state(self, subscription_group_id: str, current: str) -> None:
        """Set one listener's state gauge."""
        for state in ListenerState:
            gauge = self.listener.labels(subscription_group_id, state.value)
            gauge.set(1 if state.value == current else 0)


class _Receivers:
    """One receiver per event, each a few label lookups and an update."""

    def __init__(self, metrics: _Metrics) -> None:
        self.m = metrics
        self._lag_read: dict[tuple[str, str, int], float] = {}

    def table(self) -> dict[str, Any]:
        """Event name -> receiver."""
        table: dict[str, Any] = {
            "consumer.consumed": self.consumed, "error.occurred": self.error,
            "consumer.consuming.retry": self.retry,
            "dead_letter_queue.dispatched": self.dead_letter,
            "statistics.emitted": self.statistics,
        }
        for kind in ("assigned", "revoked", "lost"):
            table[f"rebalance.partitions_{kind}"] = partial(self.rebalance, kind)
        for state in ListenerState:
            table[f"connection.listener.{state.value}"] = self.listener
        return table

    def consumed(self, sender: Any, **event: Any) -> None:
        """A batch was consumed: messages marked, outcome, time; the lag, once a second.

        ``marked`` is missing only from an event sent by hand: then the batch counts whole.
        """
        consumer_group, topic = getattr(sender, "consumer_group", ""), event["topic"]
        marked = event.get("marked")
        self.m.tally.consumed(consumer_group, topic,
                              len(event["messages"]) if marked is None else marked, event["time"])
        key, now = (consumer_group, topic, event["partition"]), time.monotonic()
        if now - self._lag_read.get(key, -LAG_EVERY) >= LAG_EVERY:
            self._lag_read[key] = now
            lag = getattr(sender, "lag", None)
            if lag is not None:
                self.m.lag.labels(consumer_group, topic, str(event["partition"])).set(lag)

    def error(self, sender: Any, **event: Any) -> None:
        """An error: counted by type; a failed consume also as a failed batch.

        A failed consume's ``offset`` is where its retry restarts: the batch's messages before
        it were marked as consumed by the consumer before it failed, and are not seen again.
        """
        kind = str(event.get("type"))
        self.m.errors.labels(kind).inc()
        if kind in _FAILED_BATCH:
            marked = _before(getattr(sender, "messages", None), event.get("offset"))
            self.m.tally.failed(getattr(sender, "consumer_group", ""), event.get("topic", ""),
                                marked)

    def retry(self, sender: Any, **event: Any) -> None:
        """A retry was scheduled."""
        self.m.retries.inc()

    def dead_letter(self, sender: Any, **event: Any) -> None:
        """A message went to a dead-letter queue."""
        self.m.dead_letters.inc()

    def rebalance(self, kind: str, sender: Any, **event: Any) -> None:
        """Partitions assigned, revoked or lost."""
        self.m.rebalances.labels(kind).inc()

    def listener(self, sender: Any, **event: Any) -> None:
        """A listener changed state."""
        self.m.listener_state(event["subscription_group"], event["state"])

    def statistics(self, sender: Any, **event: Any) -> None:
        """librdkafka's statistics: the stored-offset lag of every partition it reports."""
        consumer_group = event["consumer_group"]
        for topic, data in event["statistics"].get("topics", {}).items():
            for number, partition_stats in data.get("partitions", {}).items():
                lag = partition_stats.get("consumer_lag_stored",
                                          partition_stats.get("consumer_lag", -1))
                if number != "-1" and lag is not None and lag >= 0:
                    self.m.lag.labels(consumer_group, topic, number).set(lag)
