"""A small engine app: JSON orders from a topic, totals logged per batch."""

from __future__ import annotations

import logging
import os

from engine import App, Consumer, Messages

log = logging.getLogger("orders")

app = App(
    kafka={
        "bootstrap.servers": os.environ.get("BOOTSTRAP", "127.0.0.1:9092"),
        # the embedded Tansu broker answers a group join after session.timeout.ms / 2:
        # a short session keeps that to 3 s (Apache Kafka needs no such setting)
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
    },
    client_id="orders-service",
    concurrency=2,
    plugins=["logger"],
)


class OrdersConsumer(Consumer):
    """Sums the amounts of each batch of orders."""

    def consume(self, messages: Messages) -> None:
        """Log the batch total; the engine marks the batch as consumed on success."""
        total = sum(message.payload["amount"] for message in messages)
        log.info("%s/%s: %d orders, total %s", self.topic, self.partition, len(messages), total)


app.topic("orders", OrdersConsumer, initial_offset="earliest")
