"""The ``web`` plugin on a real broker: reports and errors land in their topics, readable."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka import Consumer as KafkaConsumer

from engine import App, Consumer, Messages
from engine.web.codec import ERRORS_TOPIC, REPORTS_TOPIC, decode
from engine_plugins.web import WebPlugin
from tests.integration.conftest import make_app, produce, wait_until


class FailsOnce(Consumer):
    """Raises once on a message whose payload is ``"bad"``, then takes it."""

    failed: ClassVar[set[int]] = set()

    def consume(self, messages: Messages) -> None:
        for message in messages:
            if message.raw_payload == b"bad" and message.offset not in self.failed:
                self.failed.add(message.offset)
                raise ValueError("bad order <script>alert(1)</script>")
            self.mark_as_consumed(message)


class Records:
    """Every record of our process in one of the plugin's topics, read from its beginning."""

    def __init__(self, bootstrap: str, topic: str, process: Callable[[], str | None]) -> None:
        self._consumer = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                                        "enable.auto.commit": False})
        # the plugin creates its topics as it starts: read once the topic is there
        wait_until(lambda: topic in self._consumer.list_topics(timeout=10).topics,
                   message=f"{topic} to exist")
        self._consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        self._process = process
        self.found: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        for message in self._consumer.consume(100, 0.2):
            if message.error() is None and message.key() == (self._process() or "").encode():
                self.found.append(decode(message.value()))
        return self.found

    def close(self) -> None:
        self._consumer.close()


@pytest.fixture
def running(bootstrap: str, make_topic: Callable[..., str],
            unique: Callable[[str], str]) -> Iterator[tuple[App, WebPlugin, str]]:
    topic = make_topic(2)
    FailsOnce.failed = set()
    app = make_app(bootstrap, unique("web"), pause_timeout=0.1)
    app.topic(topic, FailsOnce)
    plugin = WebPlugin(interval=0.5)
    app.use(plugin)
    app.start()
    try:
        yield app, plugin, topic
    finally:
        app.stop()


def test_reports_say_what_the_process_consumed(bootstrap: str,
                                               running: tuple[App, WebPlugin, str]) -> None:
    _, plugin, topic = running
    produce(bootstrap, topic, [(str(i).encode(), b"ok") for i in range(30)])
    records = Records(bootstrap, REPORTS_TOPIC, lambda: plugin.process_id)
    try:
        def consumed_all() -> bool:
            return any(r["counters"]["messages"] == 30 for r in records.read())
        wait_until(consumed_all, message="a report counting 30 messages")
        last = [r for r in records.found if r["counters"]["messages"] == 30][-1]
    finally:
        records.close()
    assert last["schema"] == 1 and last["kind"] == "report"
    assert last["process"]["state"] == "running"
    assert last["process"]["pid"] > 0 and last["process"]["threads"] > 1
    rows = {(row["topic"], row["partition"]): row for row in last["partitions"]}
    assert set(rows) == {(topic, 0), (topic, 1)}
    assert sum(row["messages"] for row in rows.values()) == 30
    assert [listener["state"] for listener in last["listeners"]] == ["running"]


def test_an_error_goes_out_with_its_traceback(bootstrap: str,
                                              running: tuple[App, WebPlugin, str]) -> None:
    _, plugin, topic = running
    produce(bootstrap, topic, [(b"k", b"bad")], partition=0)
    records = Records(bootstrap, ERRORS_TOPIC, lambda: plugin.process_id)
    try:
        wait_until(lambda: bool(records.read()), message="an error record")
    finally:
        records.close()
    error = records.found[0]
    assert error["kind"] == "error" and error["type"] == "consumer.consume.error"
    assert error["error_class"] == "ValueError"
    assert error["message"] == "bad order <script>alert(1)</script>"
    assert "in consume" in error["traceback"] and "raise ValueError" in error["traceback"]
    assert error["context"]["topic"] == topic and error["context"]["partition"] == 0


def test_a_state_change_is_reported_without_waiting_for_the_interval(
        bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str]) -> None:
    app = make_app(bootstrap, unique("web"))
    app.topic(make_topic(1), FailsOnce)
    plugin = WebPlugin(interval=3600.0)  # only state changes can send a second report
    app.use(plugin)
    app.start()
    records = Records(bootstrap, REPORTS_TOPIC, lambda: plugin.process_id)
    try:
        wait_until(lambda: any(r["process"]["state"] == "running"
                               and r["listeners"] and r["listeners"][0]["state"] == "running"
                               for r in records.read()),
                   message="a report of the running app and listener")
        stopper = threading.Thread(target=app.stop)
        stopper.start()
        wait_until(lambda: any(r["process"]["state"] == "stopping" for r in records.read()),
                   message="a report of the stopping app")
        stopper.join(60)
    finally:
        records.close()
