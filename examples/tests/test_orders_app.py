"""Tests of examples/orders_app.py with the testing kit: plain, with faults, and property-based."""

from __future__ import annotations

from hypothesis import strategies as st
from orders_app import build_app

from engine.testing import ConsumerMachine, Harness


def distinct_total(kafka: Harness) -> int:
    """What the ledger must hold: each produced order once (the last amount per id wins)."""
    return sum({m.payload["id"]: m.payload["amount"] for m in kafka.topic("orders")}.values())


def test_orders_are_booked_and_committed(engine_harness) -> None:  # type: ignore[no-untyped-def]
    app = build_app()
    kafka = engine_harness(app, partitions={"orders": 3})
    first = kafka.produce("orders", {"id": 1, "amount": 5}, key="c1")
    kafka.produce("orders", {"id": 2, "amount": 7}, key="c2")
    kafka.run()
    assert app.ledger.total == 12
    assert kafka.consumer_for("orders", first.partition) is not None
    kafka.stop()
    assert kafka.committed("orders", first.partition) is not None
    kafka.history.check()


def test_a_crash_redelivers_but_books_each_order_once() -> None:
    app = build_app()
    with Harness(app, partitions={"orders": 1}) as kafka:
        for order_id in range(4):
            kafka.produce("orders", {"id": order_id, "amount": 10})
        kafka.crash(after=2)       # dies while booking the third order of the batch
        kafka.run()                # back from the last commit: the first two come again
        assert kafka.history.duplicates()
        assert app.ledger.total == 40
        kafka.history.check()


def test_a_rebalance_hands_the_partitions_over_without_loss() -> None:
    app = build_app()
    with Harness(app, partitions={"orders": 3}) as kafka:
        for order_id in range(9):
            kafka.produce("orders", {"id": order_id, "amount": 1}, key=str(order_id))
        kafka.poll(limit=2)
        kafka.rebalance()
        kafka.run()
        assert app.ledger.total == 9
        kafka.history.check()


class OrdersMachine(ConsumerMachine):
    """Any schedule of produce, poll, crash, rebalance, clock and restart keeps the ledger right."""

    app = build_app
    topic = "orders"
    partitions = 3
    values = st.fixed_dictionaries({"id": st.integers(0, 40), "amount": st.integers(1, 9)})

    def key_of(self, value: dict[str, int], key: object) -> str:
        return str(value["id"])  # one order's messages stay in one partition, in order

    def check(self, kafka: Harness) -> None:
        assert kafka.app.ledger.total <= sum(  # type: ignore[attr-defined]
            m.payload["amount"] for m in kafka.topic("orders"))

    def check_at_end(self, kafka: Harness) -> None:
        assert kafka.app.ledger.total == distinct_total(kafka)  # type: ignore[attr-defined]


TestOrders = OrdersMachine.TestCase
