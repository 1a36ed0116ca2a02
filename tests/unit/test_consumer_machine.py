"""ConsumerMachine: hypothesis finds a non-idempotent consumer by itself, with a crash."""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule, run_state_machine_as_test

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness, ScheduleError

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}
# hypothesis' default budget; derandomized, so CI sees the same examples on every run
BUDGET = settings(max_examples=100, deadline=None, database=None, derandomize=True)
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


def pasted(failure: ScheduleError, **names: Any) -> Callable[[], None]:
    """The test a failure prints, defined as a user pasting it next to ``names`` would."""
    source = str(failure).split("as a test to paste:\n\n", 1)[1]
    namespace: dict[str, Any] = dict(names)
    exec(source, namespace)  # the point: the printed test runs as it is
    test: Callable[[], None] = namespace["test_replay"]
    return test


def test_a_non_idempotent_consumer_is_caught_with_a_crash_and_the_schedule_replays() -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(CarelessMachine, settings=BUDGET)
    text = str(failure.value)
    assert "ledger" in text and "!= produced" in text
    assert "kafka.crash(" in text, text
    assert "def test_replay():" in text and "machine = CarelessMachine()" in text
    assert text.rstrip().endswith("machine.check_at_end(kafka)")
    # pasted, the test does the same again and fails the same way
    with pytest.raises(AssertionError, match="!= produced"):
        pasted(failure.value, CarelessMachine=CarelessMachine)()


def test_an_idempotent_consumer_passes_the_default_budget() -> None:
    run_state_machine_as_test(LedgerMachine, settings=BUDGET)


def test_an_app_instance_works_as_well_as_a_factory() -> None:
    shared = App(kafka=KAFKA, client_id="orders")
    # reads its batches: a consumer that reads nothing loses every message
    shared.topic("orders", type("Reader", (Consumer,), {"consume": lambda self, ms: list(ms)}))

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
    assert text.rstrip().endswith("machine.check(kafka)")


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


# -- issue 17, item 7: one failure, one ScheduleError, one story -------------------------------


class BothChecks(LedgerMachine):
    """One bug (a ledger that books twice) seen by the step check and by the final check."""

    app = careless_app

    def check(self, kafka: Harness) -> None:
        ledger = kafka.app.ledger  # type: ignore[attr-defined]
        produced = sum(message.payload["amount"] for message in kafka.topic("orders"))
        assert ledger.get("total", 0) <= produced, "booked more than produced"


def test_one_bug_seen_by_check_and_check_at_end_is_one_schedule_error() -> None:
    # report_multiple_bugs is on (hypothesis' default): both checks must still be one failure
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(BothChecks, settings=settings(BUDGET, report_multiple_bugs=True))
    text = str(failure.value)
    assert text.count("as a test to paste") == 1
    assert "booked more than produced" in text or "!= produced" in text


def test_the_machine_test_case_reports_one_bug_by_default() -> None:
    assert BothChecks.TestCase.settings.report_multiple_bugs is False


class KeyedMachine(LedgerMachine):
    app = careless_app

    def key_of(self, value: Any, key: Any) -> Any:
        return f"c{value['amount']}"


def test_the_printed_steps_show_the_key_the_replay_uses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(KeyedMachine, settings=BUDGET)
    printed = capsys.readouterr().out + "\n".join(getattr(failure.value, "__notes__", []))
    replayed = re.findall(r"key='(c\d)'", str(failure.value))
    assert replayed, str(failure.value)
    shown = re.findall(r"Draw \d+ \(key\): '?(\w+)'?", printed)
    assert shown == replayed, printed


# -- issue 17, item 10: shrinking that finishes, the schedule at the first failure --------------


class Budgeted(CarelessMachine):
    """Counts the examples that ran (on a harness) after the run's first failure."""

    shrink_budget = 5
    failed: ClassVar[bool] = False
    ran_after_failure: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        Budgeted.ran_after_failure += Budgeted.failed

    def check_at_end(self, kafka: Harness) -> None:
        try:
            super().check_at_end(kafka)
        except AssertionError:
            Budgeted.failed = True
            raise


def test_shrinking_runs_at_most_the_budget_of_examples_after_the_first_failure(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(Budgeted, settings=BUDGET)
    # the budget, then hypothesis' final replay of the failure it reports
    assert 1 <= Budgeted.ran_after_failure <= Budgeted.shrink_budget + 1
    assert "!= produced" in str(failure.value)
    # the first failure was shown before shrinking started, with its schedule
    shown = capsys.readouterr().err
    assert shown.startswith("Budgeted: first failure, shrinking it (at most 5 examples):")
    assert shown.count("as a test to paste") == 1


def test_the_default_budget_is_documented_and_a_subclass_overrides_it() -> None:
    assert ConsumerMachine.shrink_budget == 200 and Budgeted.shrink_budget == 5
    assert "shrink_budget" in (ConsumerMachine.__doc__ or "")


def test_a_restart_or_rebalance_of_fresh_consumers_is_left_out_as_a_no_op() -> None:
    machine = LedgerMachine()  # outside hypothesis: every step runs
    try:
        machine.restart()        # nothing polled yet
        machine.rebalance()
        machine.run()
        machine.restart()
        machine.restart()        # straight after a restart
        machine.advance(1.0)
        machine.rebalance()      # only the clock moved since
        machine.run()
        machine.rebalance()
        machine.restart()        # straight after a rebalance
    finally:
        machine.kafka.close()
    assert [str(each) for each in machine.schedule] == [
        "kafka.run()", "kafka.stop(); kafka.start()", "kafka.clock.advance(1.0)", "kafka.run()",
        "kafka.rebalance()"]


# -- issue 17, item 1: the user's own steps and checks in the test to paste --------------------


class Database:
    """Rows of orders; an outage makes every write fail."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.up = True

    def down(self) -> None:
        self.up = False

    def store(self, amount: int) -> None:
        if not self.up:
            raise ConnectionError("database down")
        self.rows.append(amount)


def swallowing_app() -> App:
    """Stores each order; a failed write is logged and dropped (the bug: the order is lost)."""
    database = Database()

    class Store(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                with contextlib.suppress(ConnectionError):  # the bug under test
                    database.store(message.payload)

    app = App(kafka=KAFKA, client_id="orders")
    app.topic("orders", Store)
    app.database = database  # type: ignore[attr-defined]
    return app


class OutageMachine(ConsumerMachine):
    app = swallowing_app
    topic = "orders"
    values = st.integers(1, 9)

    @rule()
    def database_outage(self) -> None:
        self.kafka.app.database.down()  # type: ignore[attr-defined]
        self.record("kafka.app.database.down()")

    def check_at_end(self, kafka: Harness) -> None:
        stored = kafka.app.database.rows  # type: ignore[attr-defined]
        assert len(stored) == len(kafka.topic("orders")), f"stored {stored}"


def test_a_recorded_user_step_is_in_the_test_to_paste_and_the_test_fails_again() -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(OutageMachine, settings=BUDGET)
    text = str(failure.value)
    assert "        kafka.app.database.down()\n" in text, text
    with pytest.raises(AssertionError, match="stored"):
        pasted(failure.value, OutageMachine=OutageMachine)()


def sink_app(flush_on_shutdown: bool) -> App:
    """A sink that keeps batches and writes them three at a time, marking only what it wrote.

    Without ``flush_on_shutdown`` its ``shutdown`` hook forgets to write what it keeps, but
    marks it all the same: a stop loses it.
    """
    sink: list[tuple[int, int]] = []

    class Sink(Consumer):
        def __init__(self) -> None:
            super().__init__()
            self.kept: list[Messages] = []

        def consume(self, messages: Messages) -> None:
            self.kept.append(messages)  # read later, when flushed
            if len(self.kept) >= 3:
                self.flush()

        def flush(self) -> None:
            sink.extend((m.partition, m.offset) for batch in self.kept for m in batch)
            self.mark_last()

        def mark_last(self) -> None:
            if self.kept:
                last = self.kept[-1].last()
                assert last is not None
                self.mark_as_consumed(last)
            self.kept = []

        def shutdown(self) -> None:
            if flush_on_shutdown:
                self.flush()
            else:
                self.mark_last()

    app = App(kafka=KAFKA, client_id="sink", max_messages=3)
    app.topic("orders", Sink, manual_offset_management=True)
    app.sink = sink  # type: ignore[attr-defined]
    APPS.append(app)
    return app


class SinkMachine(ConsumerMachine):
    app = staticmethod(partial(sink_app, True))
    topic = "orders"
    values = st.integers(0, 9)
    end = "stop"

    def check_at_end(self, kafka: Harness) -> None:
        sink = kafka.app.sink  # type: ignore[attr-defined]
        assert set(sink) >= {(m.partition, m.offset) for m in kafka.topic("orders")}


class ForgetfulSinkMachine(ConsumerMachine):
    """No check of its own: the built-in checks must see the loss."""

    app = staticmethod(partial(sink_app, False))
    topic = "orders"
    values = st.integers(0, 9)
    end = "stop"


def test_a_buffering_sink_that_flushes_on_shutdown_passes_when_the_machine_ends_with_stop(
) -> None:
    run_state_machine_as_test(SinkMachine, settings=settings(BUDGET, max_examples=50))


def test_a_sink_that_marks_on_shutdown_without_writing_is_caught_by_the_built_in_checks(
) -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(ForgetfulSinkMachine, settings=BUDGET)
    text = str(failure.value)
    assert "committed_beyond_processed" in text or "lost" in text, text
    with pytest.raises(AssertionError):
        pasted(failure.value, ForgetfulSinkMachine=ForgetfulSinkMachine)()


def test_end_is_idle_or_stop_and_the_printed_test_ends_the_same_way() -> None:
    with pytest.raises(TypeError, match=r"Drain.end must be one of 'idle', 'stop' \(got 'drain'"):
        type("Drain", (ConsumerMachine,), {"app": careful_app, "topic": "orders", "end": "drain"})

    class StillRunning(LedgerMachine):
        end = "stop"

        def check_at_end(self, kafka: Harness) -> None:
            assert kafka.state == "running", "stopped"

    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(StillRunning, settings=settings(BUDGET, max_examples=5))
    text = str(failure.value).rstrip()
    ending = "kafka.run()\n        kafka.stop()\n        machine.check_at_end(kafka)"
    assert text.endswith(ending), text
    with pytest.raises(AssertionError, match="stopped"):
        pasted(failure.value, StillRunning=StillRunning)()
