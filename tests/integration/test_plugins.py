"""The first-party plugins against a real broker and real clients, over real HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer as KafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from engine import Consumer, DeadLetterQueue, Messages
from engine.broker import create_topics, free_port
from engine_plugins.health import HealthPlugin
from engine_plugins.opentelemetry import OpenTelemetryPlugin
from engine_plugins.prometheus import PrometheusPlugin
from tests.integration.conftest import FAST_GROUP, GROUP_ENV, make_app, produce, wait_until


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET (error statuses included)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``, by name and sorted labels."""
    status, body = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def test_prometheus_counts_every_message_marked_after_a_failure_and_a_dead_letter(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group, count = make_topic(2), unique("g"), 20
    create_topics(bootstrap, {f"{topic}.dlq": 1})
    produce(bootstrap, topic, [b'{"ok": true}'] * count, partition=0)
    # marked one by one: the two before the poison are processed in the batches that fail
    produce(bootstrap, topic, [b'{"ok": true}', b'{"ok": true}', b'{"ok": false}',
                               b'{"ok": true}'], partition=1)
    seen: list[int] = []
    calls = [0]

    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            calls[0] += 1
            for message in messages:
                if not message.payload["ok"]:
                    raise ValueError("poison")
                seen.append(message.offset)
                self.mark_as_consumed(message)

    app = make_app(bootstrap, group, pause_timeout=0.05, pause_max_timeout=0.1)
    app.topic(topic, Orders, dead_letter_queue=DeadLetterQueue(f"{topic}.dlq", max_retries=1))
    plugin = app.use(PrometheusPlugin(port=0, addr="127.0.0.1"))
    assert isinstance(plugin, PrometheusPlugin)
    batch = {"consumer_group": group, "topic": topic}

    def every_batch_reported() -> bool:  # each consume call ends as an ok or a failed batch
        samples = scrape(plugin.port)
        reported = sum(samples.get(("engine_batches_total", tuple(sorted(
            {**batch, "outcome": outcome}.items()))), 0) for outcome in ("ok", "failed"))
        return len(seen) >= count + 3 and reported == calls[0]

    app.start()
    try:
        wait_until(every_batch_reported, message="every batch handled and reported")
        samples = scrape(plugin.port)
    finally:
        app.stop()

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert len(seen) == count + 3  # nothing processed twice: marked messages are not retried
    assert value("engine_messages_consumed_total", **batch) == count + 3
    assert value("engine_dead_letters_total") == 1
    assert value("engine_batches_total", **batch, outcome="failed") == 2
    assert value("engine_errors_total", type="consumer.consume.error") == 2
    assert value("engine_retries_total") == 1
    assert value("engine_app_state", state="running") == 1
    assert value("engine_consumer_lag", **batch, partition="0") == 0
    assert value("engine_batch_processing_seconds_bucket", **batch, le="+Inf") >= 1
    assert not [labels for _, labels in samples if {"offset", "key"} & dict(labels).keys()]


def test_health_live_names_an_overrunning_job_and_ready_follows_the_app(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    release, started = threading.Event(), threading.Event()

    class Slow(Consumer):
        def consume(self, messages: Messages) -> None:
            started.set()
            release.wait(60)

    app = make_app(bootstrap, group)
    app.topic(topic, Slow)
    health = app.use(HealthPlugin(port=0, addr="127.0.0.1", consuming_ttl=0.5))
    assert isinstance(health, HealthPlugin)
    app.start()
    try:
        base = f"http://127.0.0.1:{health.port}"
        wait_until(lambda: get(f"{base}/ready")[0] == 200, message="/ready 200 once running")
        assert get(f"{base}/live")[0] == 200
        produce(bootstrap, topic, [b"{}"])
        wait_until(started.is_set, message="the slow job started")
        assert app.statistics() == {"jobs_queued": 0, "workers_busy": 1, "async_jobs": 0}
        wait_until(lambda: get(f"{base}/live")[0] == 500, message="/live 500 on the overrun")
        body = json.loads(get(f"{base}/live")[1])
        (problem,) = body["problems"]
        assert (problem["reason"], problem["topic"], problem["partition"]) == (
            "job overran consuming_ttl", topic, 0)
        release.set()
        wait_until(lambda: get(f"{base}/live")[0] == 200, message="/live 200 once it finished")
        assert app.quiet()
        status, text = get(f"{base}/ready")
        assert status == 503 and json.loads(text)["app"] == "quiet"
    finally:
        release.set()
        app.stop()
    try:
        get(f"{base}/ready")
        raise AssertionError("the probe server still answers after the stop")
    except urllib.error.URLError:
        pass
    assert "engine.health" not in [t.name for t in threading.enumerate()]


def test_opentelemetry_traces_batches_and_propagates_into_what_consumers_send(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    topic, replies, group = make_topic(1), make_topic(1), unique("g")
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, b'{"n": 1}', headers=[("traceparent", parent.encode())])
    producer.produce(topic, b'{"n": 2}')
    assert producer.flush(30) == 0
    done = threading.Event()

    class Replier(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                self.produce_sync(replies, {"for": message.offset})
                if message.offset == 1:
                    done.set()

    app = make_app(bootstrap, group)
    app.topic(topic, Replier)
    app.use(OpenTelemetryPlugin(tracer_provider=provider))
    app.start()
    try:
        wait_until(done.is_set, message="both messages answered")
    finally:
        app.stop()
    spans = exporter.get_finished_spans()
    assert spans and {span.name for span in spans} == {f"process {topic}"}
    links = {f"{link.context.trace_id:032x}" for span in spans for link in span.links}
    assert links == {"4bf92f3577b34da6a3ce929d0e0e4736"}
    # a short session: Tansu answers a group join after about half of it (45 s by default)
    reader = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": unique("r"),
                            "auto.offset.reset": "earliest", **FAST_GROUP})
    reader.subscribe([replies])
    got: list[Any] = []
    try:
        wait_until(lambda: bool(got.extend(m for m in reader.consume(10, 0.2) if not m.error()))
                   or len(got) >= 2, message="the replies")
    finally:
        reader.close()
    ids = {f"{span.context.trace_id:032x}" for span in spans}
    for reply in got:
        traceparent = dict(reply.headers())["traceparent"].decode()
        assert traceparent.split("-")[1] in ids


def test_the_logger_keeps_an_outage_quiet_and_off_raw_stderr(tmp_path: Any) -> None:
    script = tmp_path / "outage.py"
    script.write_text(textwrap.dedent("""
        import logging, socket, threading
        from engine import App, Consumer
        logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
        probe = socket.socket(); probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]; probe.close()
        app = App(kafka={"bootstrap.servers": f"127.0.0.1:{port}"}, client_id="outage",
                  plugins=["logger"])
        app.topic("orders", type("C", (Consumer,), {"consume": lambda self, m: None}))
        errors = threading.Semaphore(0)
        app.monitor.subscribe("error.occurred", lambda s, **e: errors.release())
        app.start()
        for _ in range(30):   # the outage goes on: 30 errors reported (about 5 s)
            assert errors.acquire(timeout=60)
        app.stop()
    """))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, check=True)
    lines = result.stderr.splitlines()
    assert not [line for line in lines if re.match(r"^%\d\|", line)], lines[:5]
    assert any(line.startswith("engine.librdkafka ") for line in lines)
    assert any("repeated" in line for line in lines), lines
    assert len(lines) < 60, f"{len(lines)} lines:\n" + "\n".join(lines)


def free_ports(*gaps: int) -> int:
    """A base port ``base`` such that ``base + gap`` is free for every gap (now)."""
    for _ in range(50):
        base = free_port()
        with contextlib.ExitStack() as holders:  # each socket opened is closed, taken or not
            try:
                for gap in gaps:
                    holders.enter_context(socket.create_server(("127.0.0.1", base + gap)))
            except OSError:
                continue
        return base
    raise AssertionError("no free run of ports found")


def engine_swarm(tmp: Path, log: Any, bootstrap: str, topic: str, group: str, base: int
                 ) -> subprocess.Popen[str]:
    """``engine swarm --nodes 2`` of the swarm tests' app, with prometheus and health."""
    env = {**os.environ, "BOOTSTRAP": bootstrap, "TOPIC": topic, "GROUP": group,
           "OUT": str(tmp / "processed.txt"), "ENGINE_PROMETHEUS_PORT": str(base),
           "ENGINE_HEALTH_PORT": str(base + 1), "ENGINE_PROMETHEUS_ADDR": "127.0.0.1",
           "ENGINE_HEALTH_ADDR": "127.0.0.1", **GROUP_ENV}
    app = Path(__file__).with_name("swarm_app.py")
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "swarm", str(app), "--nodes", "2", "--plugin",
         "prometheus", "--plugin", "health"],
        env=env, stderr=log, stdout=subprocess.DEVNULL, text=True)


def answers(url: str) -> int:
    """The status of a GET, 0 while nothing listens."""
    try:
        return get(url)[0]
    except urllib.error.URLError:
        return 0


def test_each_swarm_node_serves_its_own_probes_and_metrics(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group = make_topic(2), unique("g")
    base = free_ports(0, 1, 10, 11)
    with (tmp_path / "swarm.log").open("w") as log:
        swarm = engine_swarm(tmp_path, log, bootstrap, topic, group, base)
    try:
        for node in (0, 1):  # node i: port + 10 i, for both plugins
            health = f"http://127.0.0.1:{base + 1 + 10 * node}"
            wait_until(lambda url=health: answers(f"{url}/ready") == 200,  # type: ignore[misc]
                       message=f"node {node}'s /ready")
            assert json.loads(get(f"{health}/live")[1])["status"] == "ok"
            status, metrics = get(f"http://127.0.0.1:{base + 10 * node}/metrics")
            assert status == 200 and "engine_app_state" in metrics
        swarm.send_signal(signal.SIGTERM)
        assert swarm.wait(90) == 0
    finally:
        if swarm.poll() is None:
            swarm.kill()
            swarm.wait(30)
    assert "monitor.subscriber.error" not in (tmp_path / "swarm.log").read_text()


def test_a_swarm_whose_node_cannot_bind_its_port_stops_with_an_error_naming_it(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, group = make_topic(1), unique("g")
    base = free_ports(0, 1, 10, 11)
    with (socket.create_server(("127.0.0.1", base + 11)),  # node 1's health port, held
          (tmp_path / "swarm.log").open("w") as log):
        swarm = engine_swarm(tmp_path, log, bootstrap, topic, group, base)
        try:
            assert swarm.wait(120) == 1  # a restart would meet the same port: the swarm ends
        finally:
            if swarm.poll() is None:
                swarm.kill()
                swarm.wait(30)
    log = (tmp_path / "swarm.log").read_text()
    assert (f"plugin 'health' failed to start: cannot serve /live and /ready on"
            f" 127.0.0.1:{base + 11} (port {base + 1} + 10 x swarm node 1)") in log
