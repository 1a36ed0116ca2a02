"""Testing a plugin: install it on an app, drive the app on the harness, assert what it saw."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from engine import App, Consumer, Messages
from engine.testing import Harness
from engine_plugins.logger import LoggerPlugin

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


class FlakyOrders(Consumer):
    """Fails the first try of every batch."""

    def consume(self, messages: Messages) -> None:
        if self.attempt == 1:
            raise ValueError("database away")


class BatchCounter:
    """A tiny plugin of one's own: counts consumed batches and retries per topic."""

    name = "batch-counter"

    def __init__(self) -> None:
        self.consumed: dict[str, int] = {}
        self.retries: dict[str, int] = {}

    def install(self, app: App) -> None:
        app.monitor.subscribe("consumer.consumed", self.on_consumed)
        app.monitor.subscribe("consumer.consuming.retry", self.on_retry)

    def on_consumed(self, sender: Any, **event: Any) -> None:
        self.consumed[event["topic"]] = self.consumed.get(event["topic"], 0) + 1

    def on_retry(self, sender: Any, **event: Any) -> None:
        self.retries[event["topic"]] = self.retries.get(event["topic"], 0) + 1


def flaky_app() -> App:
    app = App(kafka=KAFKA, client_id="orders-service")
    app.topic("orders", FlakyOrders)
    return app


def test_a_plugin_of_ones_own_counts_what_the_engine_did() -> None:
    app = flaky_app()
    counter = BatchCounter()
    app.use(counter)
    with Harness(app) as kafka:
        kafka.produce("orders", {"id": 1})
        kafka.run()
    assert counter.consumed == {"orders": 1}
    assert counter.retries == {"orders": 1}


def test_the_logger_plugin_logs_the_failure_and_the_rebalance(
        caplog: pytest.LogCaptureFixture) -> None:
    app = flaky_app()
    app.use(LoggerPlugin(logging.getLogger("engine.test")))
    caplog.set_level(logging.INFO, logger="engine.test")
    with Harness(app) as kafka:
        kafka.produce("orders", {"id": 1})
        kafka.run()
        kafka.rebalance()
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("consumer.consume.error: ValueError('database away')")
               for m in messages), messages
    assert "orders-service/default: partitions revoked [('orders', 0)]" in messages
