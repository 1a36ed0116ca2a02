"""A small engine app: JSON orders from a topic, booked once each into a ledger.

``build_app()`` makes a fresh app with its own ledger (the tests in ``examples/tests/`` build
one per example); ``app`` is the one ``engine server examples/orders_app.py`` runs.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from engine import App, Consumer, Messages

log = logging.getLogger("orders")


class Ledger:
    """Amounts booked per order; booking an order again changes nothing (idempotent)."""

    def __init__(self) -> None:
        self.amounts: dict[Any, int] = {}

    def book(self, order_id: Any, amount: int) -> None:
        """Book an order's amount (a redelivered order is booked once)."""
        self.amounts[order_id] = amount

    @property
    def total(self) -> int:
        """The sum of every booked order."""
        return sum(self.amounts.values())


class OrdersConsumer(Consumer):
    """Books each order of a batch; the engine marks the batch as consumed on success."""

    ledger: Ledger

    def consume(self, messages: Messages) -> None:
        """Book every order: by its ``id``, or by its place in the log when it has none."""
        for message in messages:
            order = message.payload
            self.ledger.book(order.get("id", (message.partition, message.offset)),
                             order["amount"])
        log.info("%s/%s: %d orders, ledger total %s", self.topic, self.partition,
                 len(messages), self.ledger.total)


def build_app(bootstrap: str | None = None) -> App:
    """A fresh app and ledger (``app.ledger``)."""
    app = App(
        kafka={
            "bootstrap.servers": bootstrap or os.environ.get("BOOTSTRAP", "127.0.0.1:9092"),
            # the embedded Tansu broker answers a group join after session.timeout.ms / 2:
            # a short session keeps that to 3 s (Apache Kafka needs no such setting)
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        },
        client_id="orders-service",
        concurrency=2,
        plugins=["logger"],
    )
    ledger = Ledger()
    app.ledger = ledger  # type: ignore[attr-defined]
    consumer = type("OrdersConsumer", (OrdersConsumer,), {"ledger": ledger})
    # declared: `engine topics migrate` (or `engine server --migrate`) creates it
    app.topic("orders", consumer, initial_offset="earliest", config={"partitions": 3})
    return app


app = build_app()
