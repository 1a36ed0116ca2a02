"""ConsumerMachine: hypothesis finds a non-idempotent consumer by itself, with a crash."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness, ScheduleError

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}
BUDGET = settings(max_examples=100, deadline=None, database=None)  # hypothesis' default budget
APPS: list[App] = []


def ledger_app(idempotent: bool) -> App:
    """Orders with amounts; the ledger keys by message position when idempotent."""
    ledger: dict[Any, int] = {}

    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                amount = message.payload["amount"]
                if idempotent:
                    ledger[(message.partition, message.offset)] = amount
                else:
                    ledger["total"] = ledger.get("total", 0) + amount

    app = App(kafka=KAFKA, client_id="orders", max_messages=5)
    app.topic("orders", Orders)
    app.ledger = ledger  # type: ignore[attr-defined]
    APPS.append(app)
    return app


def careless_app() -> App:
    return ledger_app(idempotent=False)


def careful_app() -> App:
    return ledger_app(idempotent=True)


class LedgerMachine(ConsumerMachine):
    app = careful_app
    topic = "orders"
    partitions = 3
    values = st.fixed_dictionaries({"amount": st.integers(1, 9)})
    keys = st.sampled_from(["a", "b", "c"])

    def check_at_end(self, kafka: Harness) -> None:
        ledger = kafka.app.ledger  # type: ignore[attr-defined]
        total = ledger.get("total", 0) if "total" in ledger else sum(ledger.values())
        produced = sum(message.payload["amount"] for message in kafka.topic("orders"))
        assert total == produced, f"ledger {total} != produced {produced}"


class CarelessMachine(LedgerMachine):
    app = careless_app


class Replaying(Harness):
    """A harness that remembers the amounts produced through it."""

    amounts: ClassVar[list[int]] = []

    def produce(self, topic: str, value: Any, **options: Any) -> Any:
        Replaying.amounts.append(value["amount"])
        return super().produce(topic, value, **options)


def test_a_non_idempotent_consumer_is_caught_with_a_crash_and_the_schedule_replays() -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(CarelessMachine, settings=BUDGET)
    text = str(failure.value)
    assert "ledger" in text and "!= produced" in text
    assert "kafka.crash(" in text, text
    assert "def test_replay():" in text and "Harness(careless_app()" in text
    # the printed test runs as it is, and does the same again
    source = text.split("as a test to paste:\n\n", 1)[1]
    namespace: dict[str, Any] = {"Harness": Replaying, "careless_app": careless_app}
    exec(source, namespace)  # the point: the printed test runs as it is
    APPS.clear()
    Replaying.amounts = []
    namespace["test_replay"]()
    (app,) = APPS
    assert app.ledger["total"] > sum(Replaying.amounts)  # type: ignore[attr-defined]


def test_an_idempotent_consumer_passes_the_default_budget() -> None:
    run_state_machine_as_test(LedgerMachine, settings=BUDGET)


def test_an_app_instance_works_as_well_as_a_factory() -> None:
    shared = App(kafka=KAFKA, client_id="orders")
    shared.topic("orders", type("Quiet", (Consumer,), {"consume": lambda self, ms: None}))

    class SharedMachine(ConsumerMachine):
        app = shared
        topic = "orders"

    run_state_machine_as_test(SharedMachine, settings=settings(BUDGET, max_examples=10))


def test_a_machine_without_app_or_topic_fails_at_class_creation() -> None:
    with pytest.raises(TypeError, match=r"NoApp needs: app = build_app .*; topic = \"orders\""):
        type("NoApp", (ConsumerMachine,), {})
    with pytest.raises(TypeError, match=r"NoTopic needs: topic = "):
        type("NoTopic", (ConsumerMachine,), {"app": careful_app})


def test_the_machine_reports_the_users_own_check_with_the_schedule() -> None:
    class Strict(LedgerMachine):
        def check(self, kafka: Harness) -> None:
            assert len(kafka.topic("orders")) < 2, "two orders"

    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(Strict, settings=BUDGET)
    text = str(failure.value)
    assert "two orders" in text and text.count("kafka.produce(") == 2


def test_without_hypothesis_the_harness_works_and_the_machine_names_the_extra() -> None:
    script = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "from engine.testing import Harness\n"
        "try:\n"
        "    from engine.testing import ConsumerMachine\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert "needs hypothesis: pip install 'engine[testing]'" in result.stdout
