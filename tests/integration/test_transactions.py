"""Transactions on a real broker (Apache Kafka only): outputs exactly once for read_committed.

Tansu shows aborted records to read_committed readers (see the reference notes), so these run
on Apache Kafka only: ``ENGINE_TEST_BROKER=kafka pytest -q tests/integration/test_transactions.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition
from confluent_kafka import Consumer as KafkaConsumer

from engine import App, Consumer, DeadLetterQueue, Messages
from tests.integration.conftest import committed, make_app, produce, wait_until

COUNT = 30
TANSU = "Tansu shows aborted records to read_committed readers"


def outputs(bootstrap: str, topic: str, isolation: str) -> list[bytes]:
    """Every value of partition 0 of ``topic`` a reader with ``isolation`` sees, to its end.

    Read in batches (thousands of outputs). The end is where the reader hears
    end-of-partition: for ``read_committed``, the last stable offset (the records of open and
    aborted transactions are never handed over).
    """
    reader = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": "reader",
                            "enable.auto.commit": False, "isolation.level": isolation,
                            "enable.partition.eof": True})
    values: list[bytes] = []

    def read() -> bool:
        for message in reader.consume(1000, 0.2):
            error = message.error()
            if error is not None:
                return bool(error.code() == KafkaError._PARTITION_EOF)
            values.append(message.value())
        return False

    try:
        reader.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        wait_until(read, message=f"reading {topic} to its end ({isolation})")
        return values
    finally:
        reader.close()


def pipeline_app(bootstrap: str, group: str, source: str, target: str,
                 failures: list[BaseException], sync: bool = False) -> App:
    """An app copying ``source`` to ``target`` inside transactions; ``failures`` raise once.

    With ``sync`` each copy is acknowledged before the next (so it is in the log even when
    the transaction then aborts: an abort drops what was still queued).
    """
    lock = threading.Lock()

    class Pipeline(Consumer):
        def consume(self, messages: Messages) -> None:
            with self.transaction():
                for message in messages:
                    send = self.produce_sync if sync else self.produce
                    send(target, b"out-" + (message.raw_payload or b""))
                self.mark_as_consumed(messages.last())
                with lock:
                    failure = failures.pop(0) if failures else None
                if failure is not None:
                    raise failure

    app = make_app(bootstrap, group, transactional_id=group, max_messages=10,
                   pause_timeout=0.2, pause_max_timeout=0.5)
    app.topic(source, Pipeline)
    return app


def async_pipeline_app(bootstrap: str, group: str, source: str, target: str,
                       failures: list[BaseException]) -> App:
    """``pipeline_app`` with an async consumer (``async with``, each copy awaited)."""

    class AsyncPipeline(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            async with self.transaction():
                for message in messages:
                    await self.produce_async(target, b"out-" + (message.raw_payload or b""))
                self.mark_as_consumed(messages.last())
                if failures:  # one loop thread: no lock needed
                    raise failures.pop(0)

    app = make_app(bootstrap, group, transactional_id=group, max_messages=10,
                   pause_timeout=0.2, pause_max_timeout=0.5)
    app.topic(source, AsyncPipeline)
    return app


def committed_end(bootstrap: str, group: str, source: str) -> int | None:
    """The group's committed offset of ``source``; None while the coordinator is not ready."""
    try:
        return committed(bootstrap, group, source, 1)[0]
    except KafkaException:  # a coordinator still loading after the broker's start
        return None


def run_to_end(app: App, bootstrap: str, group: str, source: str) -> None:
    """Run ``app`` until its group committed the end of ``source``."""
    app.start()
    try:
        wait_until(lambda: committed_end(bootstrap, group, source) == COUNT,
                   message="the group's transactional commit of every input")
    finally:
        app.stop()


def expected() -> list[bytes]:
    return [f"out-{n}".encode() for n in range(COUNT)]


@pytest.mark.kafka_only(TANSU)
def test_a_pipeline_writes_each_output_once_for_read_committed_readers(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    source, target, group = make_topic(1), make_topic(1), unique("g")
    produce(bootstrap, source, [str(n).encode() for n in range(COUNT)], partition=0)
    run_to_end(pipeline_app(bootstrap, group, source, target, []), bootstrap, group, source)
    assert sorted(outputs(bootstrap, target, "read_committed")) == sorted(expected())
    assert committed(bootstrap, group, source, 1) == {0: COUNT}


@pytest.mark.kafka_only(TANSU)
def test_an_exception_inside_aborts_what_was_produced(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    source, target, group = make_topic(1), make_topic(1), unique("g")
    produce(bootstrap, source, [str(n).encode() for n in range(COUNT)], partition=0)
    app = pipeline_app(bootstrap, group, source, target, [RuntimeError("fails once")],
                       sync=True)
    run_to_end(app, bootstrap, group, source)
    committed_reads = outputs(bootstrap, target, "read_committed")
    every_record = outputs(bootstrap, target, "read_uncommitted")
    assert sorted(committed_reads) == sorted(expected())  # each once: the abort is invisible
    assert len(every_record) > COUNT  # the aborted batch's records are in the log
    assert set(every_record) == set(expected())


@pytest.mark.kafka_only(TANSU)
@pytest.mark.parametrize("failures", [[], [RuntimeError("fails once")]],
                         ids=["commits", "an-exception-aborts"])
def test_an_async_pipeline_writes_each_output_once_for_read_committed_readers(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
    failures: list[BaseException],
) -> None:
    source, target, group = make_topic(1), make_topic(1), unique("g")
    produce(bootstrap, source, [str(n).encode() for n in range(COUNT)], partition=0)
    aborts = bool(failures)
    app = async_pipeline_app(bootstrap, group, source, target, failures)
    run_to_end(app, bootstrap, group, source)
    assert sorted(outputs(bootstrap, target, "read_committed")) == sorted(expected())
    assert committed(bootstrap, group, source, 1) == {0: COUNT}
    if aborts:  # the aborted batch's copies were acknowledged, so they are in the log
        assert len(outputs(bootstrap, target, "read_uncommitted")) > COUNT


@pytest.mark.kafka_only(TANSU)
def test_a_poison_message_is_dead_lettered_once_and_the_group_passes_it(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    source, dlq, group = make_topic(1), make_topic(1), unique("g")
    poison = b"7"

    class Marking(Consumer):
        """Marks each good message; fails at the poison one (so it is the first unmarked)."""

        def consume(self, messages: Messages) -> None:
            for message in messages:
                if message.raw_payload == poison:
                    raise ValueError("poison")
                self.mark_as_consumed(message)

    produce(bootstrap, source, [str(n).encode() for n in range(COUNT)], partition=0)
    app = make_app(bootstrap, group, transactional_id=group, max_messages=10,
                   pause_timeout=0.2, pause_max_timeout=0.5)
    app.topic(source, Marking, dead_letter_queue=DeadLetterQueue(dlq, max_retries=1))
    run_to_end(app, bootstrap, group, source)
    assert outputs(bootstrap, dlq, "read_committed") == [poison]
    assert committed(bootstrap, group, source, 1) == {0: COUNT}


@pytest.mark.kafka_only(TANSU)
def test_each_transaction_leaves_a_marker_taking_an_offset_as_the_harness_models(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    # the harness's twin: test_harness_transactions.py, "...marker_taking_an_offset..."
    source, target, group = make_topic(1), make_topic(1), unique("g")
    produce(bootstrap, source, [str(n).encode() for n in range(COUNT)], partition=0)
    transactions: list[int] = []

    class Counting(Consumer):
        def consume(self, messages: Messages) -> None:
            with self.transaction():
                for message in messages:
                    self.produce(target, b"out-" + (message.raw_payload or b""))
                self.mark_as_consumed(messages.last())
            transactions.append(len(messages))

    app = make_app(bootstrap, group, transactional_id=group, max_messages=10)
    app.topic(source, Counting)
    run_to_end(app, bootstrap, group, source)
    reader = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": unique("r")})
    try:
        low, high = reader.get_watermark_offsets(TopicPartition(target, 0), 30)
    finally:
        reader.close()
    assert sum(transactions) == COUNT
    assert (low, high) == (0, COUNT + len(transactions))  # a marker per transaction
