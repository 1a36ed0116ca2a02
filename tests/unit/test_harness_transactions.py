"""The harness models transactions: read_committed views, crashes mid-transaction, fencing."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, Messages
from engine.testing import Harness
from engine.testing.errors import HistoryError
from engine.testing.machine import ConsumerMachine, ScheduleError
from engine.testing.memory_transactions import MemoryTransactions
from tests.conftest import BOOTSTRAP


def output_of(message: Any) -> str:
    """What the pipeline writes for a message: unique per input."""
    return f"{message.partition}:{message.offset}:{message.payload}"


class Transform(Consumer):
    """Writes each message's output and marks the batch, in one transaction."""

    fail: typing.ClassVar[list[Exception]] = []

    def consume(self, messages: Messages) -> None:
        with self.transaction():
            for message in messages:
                self.produce("out", output_of(message), key=message.raw_key)
            self.mark_as_consumed(messages.last())
            if Transform.fail:
                raise Transform.fail.pop(0)


class PlainTransform(Consumer):
    """The same pipeline without a transaction: at-least-once."""

    def consume(self, messages: Messages) -> None:
        for message in messages:
            self.produce("out", output_of(message), key=message.raw_key)
        self.mark_as_consumed(messages.last())


@pytest.fixture(autouse=True)
def _reset() -> None:
    Transform.fail = []


def pipeline(consumer: type[Consumer], transactional: bool = True) -> App:
    app = App(kafka=BOOTSTRAP, transactional_id="svc" if transactional else None)
    app.topic("in", consumer)
    return app


def outputs(kafka: Harness, committed_only: bool = True) -> list[str]:
    return [text(message) for message in kafka.topic("out", committed_only=committed_only)]


def text(message: Any) -> str:
    return str(message.raw_payload.decode())


def harness(app: App, partitions: int = 1) -> Harness:
    return Harness(app, partitions={"in": partitions, "out": 1})


# -- exactly once across crashes -----------------------------------------------------------------

@pytest.mark.parametrize("after", [0, 1, 2, 4])
def test_a_crash_mid_transaction_leaves_each_output_once(after: int) -> None:
    with harness(pipeline(Transform)) as kafka:
        for value in range(5):
            kafka.produce("in", value)
        kafka.crash(after=after)
        kafka.run()
        assert kafka.history.crashes == 1
        expected = [f"0:{offset}:{offset}" for offset in range(5)]
        assert outputs(kafka) == expected
        assert kafka.history.duplicated_output("out") == []
        kafka.history.check()
        assert kafka.committed("in", 0) == 5
        # what the dead process wrote stays in the log, aborted by the restart's fencing
        everything = outputs(kafka, committed_only=False)
        assert everything == expected[:after] + expected
        assert kafka.transactions.outcomes == [("svc.engine.in.0", "fenced"),
                                               ("svc.engine.in.0", "committed")]


def test_a_crash_at_a_produce_inside_the_transaction_leaves_each_output_once() -> None:
    with harness(pipeline(Transform)) as kafka:
        for value in range(3):
            kafka.produce("in", value)
        kafka.crash(at="produce", after=1)
        kafka.run()
        assert kafka.history.crashes == 1
        assert outputs(kafka) == ["0:0:0", "0:1:1", "0:2:2"]
        assert outputs(kafka, committed_only=False) == ["0:0:0", "0:0:0", "0:1:1", "0:2:2"]
        assert [outcome for _, outcome in kafka.transactions.outcomes] == ["fenced", "committed"]


def test_the_open_transaction_of_a_dead_process_is_aborted_by_the_next_init() -> None:
    with harness(pipeline(Transform)) as kafka:
        kafka.produce("in", 1)
        kafka.produce("in", 2)
        kafka.crash(after=1)
        kafka.poll()
        # dead with its transaction open: its record is invisible and blocks nothing yet
        assert outputs(kafka) == []
        assert outputs(kafka, committed_only=False) == ["0:0:1"]
        assert kafka.committed("in", 0) is None
        assert kafka.transactions.outcomes == []
        kafka.run()
        assert [outcome for _, outcome in kafka.transactions.outcomes] == ["fenced", "committed"]
        assert outputs(kafka) == ["0:0:1", "0:1:2"]


def test_without_a_transaction_a_crash_duplicates_output_and_duplicated_output_finds_it() -> None:
    with harness(pipeline(PlainTransform, transactional=False)) as kafka:
        for value in range(3):
            kafka.produce("in", value)
        kafka.crash(after=2)
        kafka.run()
        duplicated = kafka.history.duplicated_output("out")
        assert [(d.payload, [p.offset for p in d.positions]) for d in duplicated] == [
            (b"0:0:0", [0, 2]), (b"0:1:1", [1, 3])]
        with pytest.raises(HistoryError, match=r"duplicated_output\('out'\)"):
            kafka.history.check_output("out")


def test_identity_decides_what_the_same_output_is() -> None:
    with harness(pipeline(PlainTransform, transactional=False)) as kafka:
        kafka.produce("in", "a")
        kafka.produce("in", "a")
        kafka.run()
        assert kafka.history.duplicated_output("out") == []
        same_value = kafka.history.duplicated_output(
            "out", identity=lambda message: text(message).split(":")[2])
        assert [(d.identity, len(d.positions)) for d in same_value] == [("a", 2)]


# -- aborts --------------------------------------------------------------------------------------

def test_an_exception_inside_the_transaction_aborts_its_records_and_offsets() -> None:
    Transform.fail = [RuntimeError("boom")]
    with harness(pipeline(Transform)) as kafka:
        kafka.produce("in", 7)
        kafka.poll()
        assert outputs(kafka) == []
        assert outputs(kafka, committed_only=False) == ["0:0:7"]
        assert kafka.committed("in", 0) is None
        kafka.run()  # retried after the back-off: committed once
        assert outputs(kafka) == ["0:0:7"]
        assert outputs(kafka, committed_only=False) == ["0:0:7", "0:0:7"]
        assert [outcome for _, outcome in kafka.transactions.outcomes] == ["aborted", "committed"]
        assert kafka.committed("in", 0) == 1
        kafka.history.check()


def test_a_failed_produce_inside_the_transaction_aborts_it() -> None:
    with harness(pipeline(Transform)) as kafka:
        kafka.produce("in", 1)
        kafka.fail_produce(topic="out")
        kafka.run()
        assert outputs(kafka) == ["0:0:1"]
        assert [outcome for _, outcome in kafka.transactions.outcomes] == ["aborted", "committed"]


def test_a_crash_at_the_transaction_commit_leaves_it_open_until_the_restart() -> None:
    with harness(pipeline(Transform)) as kafka:
        kafka.produce("in", 1)
        kafka.crash(at="commit")
        kafka.run()
        assert kafka.history.crashes == 1
        assert outputs(kafka) == ["0:0:1"]
        assert [outcome for _, outcome in kafka.transactions.outcomes] == ["fenced", "committed"]


def test_read_committed_consumers_skip_aborted_records_and_wait_for_open_ones() -> None:
    class Downstream(Consumer):
        seen: typing.ClassVar[list[str]] = []

        def consume(self, messages: Messages) -> None:
            Downstream.seen += [text(message) for message in messages]

    Transform.fail = [RuntimeError("boom")]
    app = pipeline(Transform)
    app.topic("out", Downstream)
    with Harness(app, partitions={"in": 1, "out": 1}) as kafka:
        kafka.produce("in", 1)
        kafka.run()
        assert Downstream.seen == ["0:0:1"]
        # aborted record 0, its marker 1, committed record 2, its marker 3: as on Kafka, the
        # commit is past the record processed, the marker after it stays uncommitted
        assert [m.offset for m in kafka.topic("out", committed_only=False)] == [0, 2]
        assert kafka.committed("out", 0) == 3
        kafka.history.check()  # the aborted record is neither lost nor over-committed


def test_each_transaction_leaves_a_marker_taking_an_offset_as_on_kafka() -> None:
    # the Kafka twin: tests/integration/test_transactions.py, "...as_the_harness_models"
    with Harness(pipeline(Transform), partitions={"in": 1, "out": 1}) as kafka:
        for offset in range(7):
            kafka.produce("in", offset)
        kafka.run()
        outcomes = kafka.transactions.outcomes
        outputs = kafka.topic("out", committed_only=False)
        assert len(outputs) == 7 and outcomes and all(o == "committed" for _, o in outcomes)
        assert kafka.high_watermark("out", 0) == 7 + len(outcomes)  # a marker per transaction
        assert outputs[-1].offset == 7 + len(outcomes) - 2  # the last marker after it


# -- fencing -------------------------------------------------------------------------------------

def test_a_second_member_taking_the_partition_over_fences_the_first() -> None:
    with harness(pipeline(Transform), partitions=2) as kafka:
        kafka.join()
        assert kafka.assignment("in") == {0: [0], 1: [1]}
        kafka.produce("in", 1, partition=0)
        kafka.produce("in", 2, partition=0)
        kafka.crash(after=1)  # member 0 dies in its transaction of in/0
        kafka.run()
        assert kafka.members == (1,)
        assert ("svc.engine.in.0", "fenced") in kafka.transactions.outcomes
        assert outputs(kafka) == ["0:0:1", "0:1:2"]
        kafka.history.check()


def test_a_fenced_producer_raises_the_fatal_fenced_error() -> None:
    app = pipeline(Transform)
    with harness(app) as kafka:
        coordinator: MemoryTransactions = kafka.transactions
        first = coordinator.client({"transactional.id": "x"})
        second = coordinator.client({"transactional.id": "x"})
        first.init_transactions(1.0)
        first.begin_transaction()
        first.produce("out", b"zombie")
        second.init_transactions(1.0)
        assert coordinator.outcomes == [("x", "fenced")]
        with pytest.raises(KafkaException) as raised:
            first.commit_transaction(1.0)
        error = raised.value.args[0]
        assert error.code() == KafkaError._FENCED and error.fatal()
        assert outputs(kafka, committed_only=False) == ["zombie"]
        assert outputs(kafka) == []


# -- a machine -----------------------------------------------------------------------------------

def transactional_app() -> App:
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    app.topic("in", Transform)
    app.declare_topic("out", config={"partitions": 1})
    return app


class ExactlyOnceMachine(ConsumerMachine):
    """Random crashes, rebalances and restarts never duplicate the pipeline's output."""

    app = transactional_app
    topic = "in"
    partitions = 2
    values = st.integers(0, 9)
    faults = ("crash", "crash_at_produce", "crash_at_commit")
    exactly_once = ("out",)

    def check_at_end(self, kafka: Harness) -> None:
        produced = {output_of(m) for m in kafka.topic("in")}
        assert {text(m) for m in kafka.topic("out")} == produced


MACHINE = settings(max_examples=25, stateful_step_count=15, deadline=None, database=None,
                   derandomize=True)


def test_the_transactional_pipeline_passes_the_machine() -> None:
    run_state_machine_as_test(ExactlyOnceMachine, settings=MACHINE)


def plain_app() -> App:
    app = App(kafka=BOOTSTRAP)
    app.topic("in", PlainTransform)
    app.declare_topic("out", config={"partitions": 1})
    return app


class AtLeastOnceMachine(ExactlyOnceMachine):
    """The same pipeline without a transaction: a crash duplicates output."""

    app = plain_app


def test_the_machine_catches_duplicated_output_of_the_plain_pipeline() -> None:
    with pytest.raises(ScheduleError, match=r"check_output\('out'\)"):
        run_state_machine_as_test(AtLeastOnceMachine, settings=MACHINE)
