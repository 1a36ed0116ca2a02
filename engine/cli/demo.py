"""``engine demo``: a sample app on the embedded broker, end to end, then exit."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

from confluent_kafka import Producer

from engine import admin
from engine.app import App
from engine.broker import EmbeddedBroker
from engine.cli.stopping import Stopped, StopSignals
from engine.config.kafka import logged
from engine.consumer import Consumer
from engine.messages import Messages

TOPIC = "demo-orders"
DEADLINE = 120.0  # seconds the sample app has to process everything


class DemoOrders(Consumer):
    """Adds up order amounts per partition."""

    totals: dict[int, int]
    processed: list[int]
    first_at: list[float]
    lock = threading.Lock()

    def consume(self, messages: Messages) -> None:
        """Sum one batch."""
        total = sum(message.payload["amount"] for message in messages)
        with self.lock:
            if not self.first_at:
                self.first_at.append(time.monotonic())
            self.totals[self.partition] = self.totals.get(self.partition, 0) + total
            self.processed[0] += len(messages)


def run_demo(messages: int, partitions: int, concurrency: int, web_port: int | None = None
             ) -> int:
    """Broker, app, its declared topic, workload, graceful stop, timeline, summary.

    0 if all were processed. SIGINT, SIGTERM or SIGHUP outside the app's run stops the broker
    and ends the demo with 1 (while the app runs, its own handlers stop it gracefully). With
    ``web_port`` the dashboard serves the run there and stays up after it until such a
    signal, which then ends the demo as the run did.
    """
    try:
        with StopSignals() as signals:
            return _run(messages, partitions, concurrency, signals, web_port)
    except Stopped as stop:
        sys.stderr.write(f"engine: demo {stop}, broker stopped\n")
        return 1


def _run(messages: int, partitions: int, concurrency: int, signals: StopSignals,
         web_port: int | None) -> int:
    with EmbeddedBroker() as broker:
        sys.stdout.write(f"embedded broker on {broker.bootstrap}\n")
        app, consumer, timeline = _sample_app(broker.bootstrap, concurrency, partitions)
        dashboard = None if web_port is None else _dashboard(app, web_port)
        for change in admin.migrate(app):  # the topics as the app declares them
            sys.stdout.write(f"topics: {change}\n")
        _produce(broker.bootstrap, messages)
        sys.stdout.write(f"produced {messages} orders to {TOPIC} ({partitions} partitions)\n")
        started = time.monotonic()
        watcher = threading.Thread(target=_stop_when_done, daemon=True, name="demo.watch",
                                   args=(consumer, messages, started))
        watcher.start()
        with signals.released():
            app.run()
        elapsed = time.monotonic() - started
        code = _summary(consumer, messages, timeline, started, elapsed)
        if dashboard is not None:
            _serve_until_stopped(dashboard)
    return code


def _dashboard(app: App, port: int) -> Any:
    """The dashboard of the run, listening (``engine.cli.demo_web``)."""
    from engine.cli.demo_web import DemoDashboard

    dashboard = DemoDashboard(app, port)
    dashboard.start()
    sys.stdout.write(f"dashboard on {dashboard.url}\n")
    return dashboard


def _serve_until_stopped(dashboard: Any) -> None:
    """Keep the dashboard (and the broker under it) up until a stop signal."""
    sys.stdout.write(f"the dashboard stays up on {dashboard.url}: Ctrl-C ends the demo\n")
    sys.stdout.flush()
    try:
        while True:
            signal.pause()  # the handler raises Stopped
    except Stopped:
        pass
    finally:
        dashboard.stop()


def _summary(consumer: type[DemoOrders], messages: int, timeline: list[Any], started: float,
             elapsed: float) -> int:
    """Print the timeline and the figures; 0 when every message was processed."""
    done = consumer.processed[0]
    _print_timeline(timeline, started)
    if consumer.first_at:
        joined = consumer.first_at[0] - started
        sys.stdout.write(f"first message after {joined:.2f} s (joining the consumer group),"
                         f" then {done / max(elapsed - joined, 1e-9):.0f} msg/s\n")
    rate = done / elapsed if elapsed else 0.0
    sys.stdout.write(
        f"processed {done}/{messages} messages in {elapsed:.2f} s ({rate:.0f} msg/s)\n"
    )
    return 0 if done == messages else 1


def _produce(bootstrap: str, count: int) -> None:
    producer = Producer(logged({"bootstrap.servers": bootstrap, "linger.ms": 5}))
    for index in range(count):
        value = b'{"order": %d, "amount": %d}' % (index, index % 100)
        producer.produce(TOPIC, value=value, key=str(index % 97).encode())
        if index % 10_000 == 0:
            producer.poll(0)
    producer.flush(60)


def _sample_app(
    bootstrap: str, concurrency: int, partitions: int
) -> tuple[App, type[DemoOrders], list[Any]]:
    consumer = type("DemoOrders", (DemoOrders,),
                    {"totals": {}, "processed": [0], "first_at": []})
    app = App(kafka={"bootstrap.servers": bootstrap, "session.timeout.ms": 6000,
                     "heartbeat.interval.ms": 1000},
              client_id="engine-demo", concurrency=concurrency, shutdown_timeout=30)
    app.topic(TOPIC, consumer, config={"partitions": partitions})
    timeline: list[Any] = []
    for name in app.monitor.events:
        if name.startswith(("app.", "connection.listener.")) and "fetch_loop" not in name:
            app.monitor.subscribe(name, lambda sender, _n=name, **e: timeline.append(
                (time.monotonic(), _n, e.get("subscription_group"))))
    return app, consumer, timeline


def _stop_when_done(consumer: type[DemoOrders], expected: int, started: float) -> None:
    while consumer.processed[0] < expected and time.monotonic() - started < DEADLINE:
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)  # the same graceful path as an operator's stop


def _print_timeline(timeline: list[Any], started: float) -> None:
    sys.stdout.write("lifecycle timeline:\n")
    for moment, name, subscription_group_id in timeline:
        where = f" ({subscription_group_id})" if subscription_group_id else ""
        sys.stdout.write(f"  {moment - started:+8.3f} s  {name}{where}\n")
