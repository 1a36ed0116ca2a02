"""The first-party plugins on the harness: options, metrics, probes, spans, quiet logs."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from engine import App, Consumer, DeadLetterQueue, Messages, PluginError
from engine.plugin_options import Option, from_environment, unknown_variables
from engine.testing import Harness
from engine_plugins.health import HealthPlugin
from engine_plugins.logger import LoggerPlugin
from engine_plugins.opentelemetry import OpenTelemetryPlugin
from engine_plugins.prometheus import PrometheusPlugin
from engine_plugins.repeats import RepeatFilter, Repeats

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


class Orders(Consumer):
    """Fails the first try of a batch holding a "poison" order; the DLQ takes it later."""

    def consume(self, messages: Messages) -> None:
        for message in messages:
            if message.payload.get("poison"):
                raise ValueError("poison")
            if message.payload.get("reply"):
                self.produce("replies", {"for": message.offset})
            self.mark_as_consumed(message)


def shop(**options: Any) -> App:
    app = App(kafka=KAFKA, client_id="shop", **options)
    app.topic("orders", Orders, dead_letter_queue=DeadLetterQueue("orders.dlq", max_retries=1))
    return app


# -- options ---------------------------------------------------------------------------------

def test_options_come_from_the_environment_when_loaded_by_name(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_HEALTH_PORT", "9500")
    monkeypatch.setenv("ENGINE_HEALTH_CONSUMING_TTL", "2.5")
    app = App(kafka=KAFKA, plugins=["health"])
    health = app.plugins["health"]
    assert isinstance(health, HealthPlugin)
    assert (health.port, health.options["consuming_ttl"]) == (9500, 2.5)


def test_every_bad_option_is_listed_in_one_plugin_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_PROMETHEUS_PORT", "nine")
    with pytest.raises(PluginError, match=r"prometheus: port must be an integer \(got 'nine'"
                                          r" from ENGINE_PROMETHEUS_PORT\)"):
        App(kafka=KAFKA, plugins=["prometheus"])
    with pytest.raises(PluginError) as error:
        HealthPlugin(port=70000, polling_ttl=0, colour="blue")
    text = str(error.value)
    assert "unknown option 'colour'" in text
    assert "port must be a port 0..65535 (got 70000)" in text
    assert "polling_ttl must be a number > 0 (got 0)" in text


def test_a_misspelt_variable_of_a_plugin_loaded_by_name_is_an_error_with_a_hint(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINE_PROMETHEUS_PROT", "9400")
    monkeypatch.setenv("ENGINE_PROMETHEUS_ADDR", "127.0.0.1")  # a right one is no problem
    monkeypatch.setenv("ENGINE_PROMETHEUS_XYZZY", "1")
    monkeypatch.setenv("ENGINE_HEALTH_PORT", "nine")
    with pytest.raises(PluginError) as caught:
        App(kafka=KAFKA, plugins=["prometheus"])
    problems = str(caught.value).split("; ")
    assert problems == [
        "prometheus: ENGINE_PROMETHEUS_PROT names no option"
        " (did you mean ENGINE_PROMETHEUS_PORT?)",
        "prometheus: ENGINE_PROMETHEUS_XYZZY names no option"
        " (its variables: ENGINE_PROMETHEUS_PORT, ENGINE_PROMETHEUS_ADDR)",
    ]  # ENGINE_HEALTH_PORT is health's business: health is not loaded
    monkeypatch.setenv("ENGINE_HEALTH_CONSUMING_TTLL", "60")
    with pytest.raises(PluginError) as caught:
        App(kafka=KAFKA, plugins=["health"])
    assert str(caught.value).split("; ") == [  # every problem of the plugin, in one error
        "health: port must be an integer (got 'nine' from ENGINE_HEALTH_PORT)",
        "health: ENGINE_HEALTH_CONSUMING_TTLL names no option"
        " (did you mean ENGINE_HEALTH_CONSUMING_TTL?)"]


def test_a_variable_that_may_belong_to_a_plugin_with_a_longer_name_is_left_to_it() -> None:
    options = (Option("port", int, 1),)
    environ = {"ENGINE_OPEN_PROT": "2", "ENGINE_OPENTELEMETRY_TRACER_NAME": "x",
               "ENGINE_OPEN_PORT": "3", "ENGINE_OPENER": "not ours: no underscore after OPEN"}
    others = ["open", "opentelemetry", "op"]
    assert unknown_variables("open", options, environ, others) == [
        "open: ENGINE_OPEN_PROT names no option (did you mean ENGINE_OPEN_PORT?)"]
    # a shorter name's prefix does not excuse a variable of the longer name
    assert unknown_variables("opentelemetry", (), {"ENGINE_OPENTELEMETRY_X": "1"}, others) == [
        "opentelemetry: ENGINE_OPENTELEMETRY_X names no option (its variables: none)"]
    with pytest.raises(PluginError, match="ENGINE_OPEN_PROT names no option"):
        from_environment("open", options, environ, others)
    assert from_environment("open", options, {"ENGINE_OPEN_PORT": "3"}, others) == {"port": 3}


@pytest.mark.parametrize(("plugin", "module", "extra"), [
    ("prometheus", "prometheus_client", "prometheus"),
    ("opentelemetry", "opentelemetry.trace", "opentelemetry"),
])
def test_a_missing_extra_is_a_plugin_error_naming_it(plugin: str, module: str,
                                                     extra: str) -> None:
    top = module.split(".", maxsplit=1)[0]
    script = (f"import sys; sys.modules[{top!r}] = None\n"
              "from engine import App, PluginError\n"
              "try:\n"
              f"    App(kafka={{'bootstrap.servers': 'x:1'}}, plugins=[{plugin!r}])\n"
              "except PluginError as error:\n"
              "    print(error)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert f"plugin {plugin!r} needs {module}: pip install 'engine[{extra}]'" in result.stdout


# -- prometheus ------------------------------------------------------------------------------

def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_prometheus_counts_batches_failures_dead_letters_and_states() -> None:
    registry = CollectorRegistry()
    app = shop()
    app.use(PrometheusPlugin(registry=registry))
    with Harness(app) as kafka:
        kafka.produce("orders", {"id": 1})
        kafka.produce("orders", {"id": 2, "poison": True})
        kafka.produce("orders", {"id": 3})
        kafka.run()
        labels = {"consumer_group": "shop", "topic": "orders"}
        assert sample(registry, "engine_batches_total", **labels, outcome="failed") == 2
        # 1 was marked in the batch that failed at 2, 2 went to the DLQ, 3 was marked
        assert sample(registry, "engine_messages_consumed_total", **labels) == 2
        assert sample(registry, "engine_batches_total", **labels, outcome="ok") == 1
        assert sample(registry, "engine_batch_processing_seconds_count", **labels) == 1
        assert sample(registry, "engine_errors_total", type="consumer.consume.error") == 2
        assert sample(registry, "engine_retries_total") == 1
        assert sample(registry, "engine_dead_letters_total") == 1
        assert sample(registry, "engine_consumer_lag", **labels, partition="0") == 0
        assert sample(registry, "engine_rebalances_total", kind="assigned") == 1
        assert sample(registry, "engine_listener_state", subscription_group="shop/default",
                      state="running") == 1
        assert sample(registry, "engine_workers_busy") == 0
        assert sample(registry, "engine_app_state", state="initialized") == 1
        kafka.stop()
        assert sample(registry, "engine_listener_state", subscription_group="shop/default",
                      state="stopped") == 1


def test_prometheus_counts_the_messages_marked_as_consumed_not_the_batches_returned() -> None:
    class Picky(Consumer):
        """Marks what it was told to; fails (once per batch) at a message that says so."""

        def consume(self, messages: Messages) -> None:
            for message in messages:
                if message.payload.get("fail") and self.attempt == 1:
                    raise ValueError("flaky")
                if message.payload.get("mark"):
                    self.mark_as_consumed(message)

    registry = CollectorRegistry()
    app = App(kafka=KAFKA, client_id="shop")
    app.topic("auto", Picky, dead_letter_queue=DeadLetterQueue("auto.dlq", max_retries=0))
    app.topic("manual", Picky, manual_offset_management=True)
    app.use(PrometheusPlugin(registry=registry))
    with Harness(app) as kafka:
        for payload in ({"mark": True}, {"mark": True}, {"fail": True}, {}):
            kafka.produce("auto", payload)  # 2 marked, then the DLQ takes "fail", then 1 more
        for payload in ({"mark": True}, {"mark": True}, {"fail": True}, {"mark": True}, {}):
            kafka.produce("manual", payload)  # 2 marked, a retry, 1 marked, the last one not
        kafka.run()
        assert [len(kafka.topic(name)) for name in ("auto.dlq", "manual")] == [1, 5]

    def consumed(topic: str) -> float:
        return sample(registry, "engine_messages_consumed_total", consumer_group="shop",
                      topic=topic)

    assert consumed("auto") == 3
    assert sample(registry, "engine_dead_letters_total") == 1
    assert consumed("manual") == 4  # the retry restarts at "fail"; the last is never marked


def test_prometheus_reads_the_lag_from_statistics() -> None:
    registry = CollectorRegistry()
    app = shop()
    app.use(PrometheusPlugin(registry=registry))
    statistics = {"topics": {"orders": {"partitions": {
        "0": {"consumer_lag_stored": 12}, "-1": {"consumer_lag_stored": -1}}}}}
    app.monitor.instrument("statistics.emitted", None, subscription_group="shop/default",
                           consumer_group="shop", statistics=statistics)
    assert sample(registry, "engine_consumer_lag", consumer_group="shop", topic="orders",
                  partition="0") == 12


# -- health ----------------------------------------------------------------------------------

def test_health_names_the_job_that_overran_and_recovers() -> None:
    now = [0.0]
    health = HealthPlugin(consuming_ttl=5.0, polling_ttl=60.0, clock=lambda: now[0])

    class Slow(Consumer):
        def consume(self, messages: Messages) -> None:
            now[0] += 10.0  # the job takes 10 s of the probe's clock
            status, body = health.live()
            assert status == 500, body
            (problem,) = body["problems"]
            assert problem["reason"] == "job overran consuming_ttl"
            assert (problem["topic"], problem["partition"]) == ("orders", 0)

    app = App(kafka=KAFKA, client_id="shop")
    app.topic("orders", Slow)
    app.use(health)
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        assert kafka.events.named("error.occurred") == []  # the asserts inside held
        assert health.live()[0] == 200
        status, body = health.ready()
        assert status == 503 and body["problems"][0] == {"reason": "app not running",
                                                         "state": "initialized"}
        now[0] += 100.0  # no poll for longer than polling_ttl
        status, body = health.live()
        assert status == 500 and body["problems"][0]["reason"] == "listener stopped polling"


def test_health_tells_apart_jobs_one_sender_runs_at_once() -> None:
    # the event loop sends worker.* for every async consumer's job at once
    from engine.processing.jobs import JobInfo

    now = [0.0]
    health = HealthPlugin(consuming_ttl=5.0, polling_ttl=60.0, clock=lambda: now[0])
    app = App(kafka=KAFKA, client_id="shop")
    app.topic("orders", Orders)
    app.use(health)
    loop, first, second = object(), JobInfo("consume", "orders", 0), JobInfo("consume", "orders", 1)
    app.monitor.instrument("worker.process", loop, job=first)
    app.monitor.instrument("worker.process", loop, job=second)
    app.monitor.instrument("worker.completed", loop, job=first)
    now[0] += 10.0
    status, body = health.live()
    assert status == 500
    assert [(p["topic"], p["partition"]) for p in body["problems"]] == [("orders", 1)]


# -- opentelemetry ---------------------------------------------------------------------------

def tracing() -> tuple[Any, Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_opentelemetry_spans_a_batch_links_its_parents_and_injects_into_sends() -> None:
    from opentelemetry.trace import SpanKind, StatusCode

    provider, exporter = tracing()
    app = shop()
    app.use(OpenTelemetryPlugin(tracer_provider=provider))
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with Harness(app, partitions={"replies": 1}) as kafka:
        kafka.produce("orders", {"id": 1, "reply": True}, headers={"traceparent": parent})
        kafka.run()
        (reply,) = kafka.topic("replies")
    (span,) = exporter.get_finished_spans()
    assert span.name == "process orders" and span.kind is SpanKind.CONSUMER
    assert dict(span.attributes) == {
        "messaging.system": "kafka", "messaging.operation.type": "process",
        "messaging.operation.name": "process", "messaging.destination.name": "orders",
        "messaging.destination.partition.id": "0", "messaging.consumer.group.name": "shop",
        "messaging.batch.message_count": 1}
    assert [f"{link.context.trace_id:032x}" for link in span.links] == [
        "0af7651916cd43dd8448eb211c80319c"]
    injected = reply.headers["traceparent"].decode()  # type: ignore[union-attr]
    assert injected.split("-")[1:3] == [f"{span.context.trace_id:032x}",
                                        f"{span.context.span_id:016x}"]
    assert span.status.status_code is StatusCode.UNSET


def test_opentelemetry_records_a_failure_with_status_error() -> None:
    from opentelemetry.trace import StatusCode

    provider, exporter = tracing()
    app = shop()
    app.use(OpenTelemetryPlugin(tracer_provider=provider))
    with Harness(app) as kafka:
        kafka.produce("orders", {"id": 2, "poison": True})
        kafka.run()
        (dead,) = kafka.topic("orders.dlq")
    failed = [s for s in exporter.get_finished_spans() if s.status.status_code is StatusCode.ERROR]
    assert len(failed) == 2  # the first try and the retry; then the DLQ took it
    assert failed[0].events[0].name == "exception"
    assert "traceparent" not in dead.headers  # dispatched outside any span: nothing invented


# -- logger ----------------------------------------------------------------------------------

def test_repeats_are_counted_and_summarised_with_the_next_window() -> None:
    now = [0.0]
    repeats = Repeats(10.0, clock=lambda: now[0])
    assert repeats.admit(("x",)) == (True, 0)
    assert [repeats.admit(("x",)) for _ in range(3)] == [(False, 0)] * 3
    assert repeats.admit(("y",)) == (True, 0)
    now[0] = 10.0
    assert repeats.admit(("x",)) == (True, 3)
    assert repeats.summary(3) == "... repeated 3 times in 10 s"
    assert repeats.summary(1) == "... repeated 1 time in 10 s"


def test_the_librdkafka_filter_holds_back_lines_differing_only_in_numbers() -> None:
    log_filter = RepeatFilter(10.0)

    def record(text: str) -> logging.LogRecord:
        return logging.LogRecord("engine.librdkafka", logging.ERROR, "", 0, text, None, None)

    assert log_filter.filter(record("Connect failed (after 0ms in state CONNECT)"))
    assert not log_filter.filter(record("Connect failed (after 12ms in state CONNECT)"))
    assert log_filter.filter(record("another line"))


def test_the_logger_summarises_a_repeated_error(caplog: pytest.LogCaptureFixture) -> None:
    app = App(kafka=KAFKA, client_id="shop")
    app.use(LoggerPlugin(logging.getLogger("engine.test.repeats")))
    caplog.set_level(logging.ERROR, logger="engine.test.repeats")
    for seconds in range(5):
        app.monitor.instrument("error.occurred", None, type="librdkafka.error",
                               error=RuntimeError(f"1/1 brokers are down for {seconds} s"))
    app.monitor.instrument("app.stopped", None, state="stopped", previous="stopping")
    lines = [r.getMessage() for r in caplog.records if r.name == "engine.test.repeats"]
    assert len(lines) == 2
    # the summary shows the last repeat as it was, not its numbers masked
    assert lines[1] == ("librdkafka.error: RuntimeError('1/1 brokers are down for 4 s')"
                        " ... repeated 4 times in 10 s")


def test_the_logger_says_a_cancelled_batch_in_one_line_without_a_traceback(
        caplog: pytest.LogCaptureFixture) -> None:
    app = App(kafka=KAFKA, client_id="shop")
    app.use(LoggerPlugin(logging.getLogger("engine.test.cancelled")))
    caplog.set_level(logging.WARNING, logger="engine.test.cancelled")
    try:
        raise asyncio.CancelledError
    except asyncio.CancelledError as cancelled:
        app.monitor.instrument("error.occurred", None, type="consumer.consume.error",
                               error=cancelled, topic="orders", partition=3)
    (record,) = [r for r in caplog.records if r.name == "engine.test.cancelled"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == (
        "consumer.consume.error: cancelled (a stop past shutdown_timeout, or its partition"
        " taken away); what it did not mark is consumed again {'topic': 'orders', 'partition': 3}")


def test_the_logger_names_a_dead_lettered_message_and_the_error_that_sent_it(
        caplog: pytest.LogCaptureFixture) -> None:
    app = shop()
    app.use(LoggerPlugin(logging.getLogger("engine.test.dlq")))
    caplog.set_level(logging.INFO, logger="engine.test.dlq")
    with Harness(app) as kafka:
        kafka.produce("orders", {"id": 1})
        kafka.produce("orders", {"id": 2, "poison": True})
        kafka.run()
        assert len(kafka.topic("orders.dlq")) == 1
    (line,) = [r for r in caplog.records if r.getMessage().startswith("dead-lettered")]
    assert line.levelno == logging.WARNING
    assert line.getMessage() == ("dead-lettered orders/0 offset 1 to orders.dlq"
                                 " (consumer group shop): ValueError('poison')")


def test_the_logger_takes_a_dead_letters_error_from_the_event_when_it_carries_one(
        caplog: pytest.LogCaptureFixture) -> None:
    app = App(kafka=KAFKA, client_id="shop")
    app.use(LoggerPlugin(logging.getLogger("engine.test.dlq_error")))
    caplog.set_level(logging.INFO, logger="engine.test.dlq_error")
    where = {"topic": "orders", "partition": 3, "offset": 7, "dlq_topic": "orders.dlq"}
    app.monitor.instrument("dead_letter_queue.dispatched", None, **where, message=None,
                           error="KeyError: 'sku'")
    app.monitor.instrument("dead_letter_queue.dispatched", None, **where, message=None)
    assert [r.getMessage() for r in caplog.records] == [
        "dead-lettered orders/3 offset 7 to orders.dlq (consumer group ?): KeyError: 'sku'",
        "dead-lettered orders/3 offset 7 to orders.dlq (consumer group ?): error unknown"]


def test_every_client_the_engine_creates_logs_through_stdlib_logging(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import confluent_kafka
    import confluent_kafka.admin

    from engine.broker import create_topics
    from engine.config.kafka import LIBRDKAFKA_LOGGER
    from engine.connection.preflight import check_broker

    configs: list[dict[str, Any]] = []

    class Refuses:
        def __init__(self, config: dict[str, Any]) -> None:
            configs.append(config)
            raise RuntimeError("no broker in this test")

    monkeypatch.setattr(confluent_kafka, "Producer", Refuses)
    monkeypatch.setattr(confluent_kafka.admin, "AdminClient", Refuses)
    app = App(kafka=KAFKA, client_id="shop")
    for attempt in (lambda: app.producer.produce("t", b"1"), lambda: check_broker(dict(KAFKA)),
                    lambda: create_topics("127.0.0.1:1", {"t": 1})):
        with pytest.raises(Exception):  # noqa: B017 - each refuses after recording its config
            attempt()
    assert len(configs) == 3
    assert all(config["logger"].name == LIBRDKAFKA_LOGGER for config in configs)


def test_the_batch_tally_adds_up_every_threads_rows_at_scrape_time() -> None:
    import threading

    from engine_plugins.batch_tally import BatchTally

    tally = BatchTally()

    def work() -> None:
        for _ in range(1000):
            tally.consumed("g", "t", 3, 0.02)
        tally.failed("g", "t")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    registry = CollectorRegistry()
    registry.register(tally)
    labels = {"consumer_group": "g", "topic": "t"}
    assert sample(registry, "engine_messages_consumed_total", **labels) == 12000
    assert sample(registry, "engine_batches_total", **labels, outcome="ok") == 4000
    assert sample(registry, "engine_batches_total", **labels, outcome="failed") == 4
    assert sample(registry, "engine_batch_processing_seconds_bucket", **labels, le="0.01") == 0
    assert sample(registry, "engine_batch_processing_seconds_bucket", **labels,
                  le="0.025") == 4000
    assert sample(registry, "engine_batch_processing_seconds_sum", **labels) == pytest.approx(80)
