"""The harness on topics with virtual partitions: the order a batch's jobs run in is chosen
(``interleave=``), replays reproduce it, and the history checks order per partitioner value."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, Messages, VirtualPartitions
from engine.processing.virtual_jobs import VirtualConsume
from engine.testing import ConsumerMachine, Harness, ScheduleError
from engine.testing.interleave import Interleave
from tests.conftest import BOOTSTRAP

KEYS = [f"k{index}" for index in range(8)]


def app_of(consumer: type[Consumer], *, plain: bool = False, max_messages: int = 100,
           virtual: int = 4) -> App:
    """Topic ``t`` with ``virtual`` virtual partitions (``plain``: and an ordinary topic ``u``)."""
    app = App(kafka=BOOTSTRAP, concurrency=4, max_messages=max_messages)
    app.topic("t", consumer, virtual_partitions=VirtualPartitions(max_partitions=virtual))
    if plain:
        app.topic("u", consumer)
    return app


def runs(interleave: Interleave, count: int = 40) -> list[tuple[str, int, list[int]]]:
    """Each consume call of one run as (topic, virtual partition, offsets), in run order."""
    seen: list[tuple[str, int, list[int]]] = []

    class Recording(Consumer):
        def consume(self, messages: Messages) -> None:
            seen.append((messages.metadata.topic, self.virtual_partition,
                         [message.offset for message in messages]))

    with Harness(app_of(Recording), partitions={"t": 1}, interleave=interleave) as kafka:
        for index in range(count):
            kafka.produce("t", index, key=KEYS[index % len(KEYS)])
        kafka.run()
        kafka.history.check()
    return seen


def order(seen: list[tuple[str, int, list[int]]]) -> list[int]:
    return [index for _, index, _ in seen]


def test_without_interleave_jobs_run_in_push_order() -> None:
    seen = runs(None)
    assert order(seen) == sorted(order(seen)) and len(seen) > 1


def test_a_seed_shuffles_and_the_same_seed_replays_the_same_orders() -> None:
    shuffled = {seed: order(runs(seed, count=200)) for seed in range(6)}
    assert any(run != sorted(run) for run in shuffled.values())
    assert all(order(runs(seed, count=200)) == run for seed, run in shuffled.items())


def test_a_random_generator_shuffles_as_its_seed_does() -> None:
    assert order(runs(random.Random(3), count=200)) == order(runs(3, count=200))


def test_a_chooser_is_given_one_batchs_virtual_partition_jobs_only() -> None:
    given_jobs: list[list[Any]] = []

    def backwards(jobs: list[Any]) -> list[Any]:
        given_jobs.append(jobs)
        return jobs[::-1]

    seen: list[tuple[str, int]] = []

    class Recording(Consumer):
        def consume(self, messages: Messages) -> None:
            seen.append((messages.metadata.topic, self.virtual_partition))

    with Harness(app_of(Recording, plain=True), partitions={"t": 1, "u": 3},
                 interleave=backwards) as kafka:
        for index in range(16):
            kafka.produce("t", index, key=KEYS[index % len(KEYS)])
            kafka.produce("u", index, partition=index % 3)
        kafka.poll()
    assert given_jobs and all(isinstance(job, VirtualConsume) for jobs in given_jobs
                              for job in jobs)
    virtual = [index for topic, index in seen if topic == "t"]
    assert virtual == sorted(virtual, reverse=True) and len(virtual) > 1
    assert len([topic for topic, _ in seen if topic == "u"]) == 3


def test_interleave_changes_the_order_from_the_next_poll() -> None:
    seen: list[int] = []

    class Recording(Consumer):
        def consume(self, messages: Messages) -> None:
            seen.append(self.virtual_partition)

    with Harness(app_of(Recording), partitions={"t": 1}) as kafka:
        for index in range(16):
            kafka.produce("t", index, key=KEYS[index % len(KEYS)])
        kafka.poll(8)
        pushed, seen[:] = list(seen), []
        kafka.interleave(lambda jobs: jobs[::-1])
        kafka.poll(8)
    assert pushed == sorted(pushed) and seen == sorted(seen, reverse=True) and len(seen) > 1


@pytest.mark.parametrize("bad", ["3", 1.5, True, object()])
def test_an_interleave_of_another_kind_is_refused_by_name(bad: Any) -> None:
    with pytest.raises(TypeError, match="interleave must be") as refused:
        Harness(app_of(Consumer), interleave=bad)
    assert repr(bad) in str(refused.value)
    with Harness(app_of(Consumer)) as kafka, pytest.raises(TypeError, match=re.escape(repr(bad))):
        kafka.interleave(bad)


def test_a_chooser_that_drops_or_repeats_a_job_is_refused() -> None:
    def drops(jobs: Sequence[Any]) -> Sequence[Any]:
        return jobs[1:]

    with Harness(app_of(Consumer), interleave=drops) as kafka:
        for index in range(8):
            kafka.produce("t", index, key=KEYS[index])
        with pytest.raises(ValueError, match=r"interleave chooser .*drops.* must return the jobs"):
            kafka.poll()


# -- per-value order in the history ------------------------------------------------------------

def consumer_taking(pick: Callable[[int, list[int]], list[int]]) -> type[Consumer]:
    """A consumer taking its batch's messages by index, in the order ``pick(first, indexes)``."""
    class ByIndex(Consumer):
        def consume(self, messages: Messages) -> None:
            for index in pick(messages.metadata.first_offset, list(range(len(messages)))):
                messages[index]

    return ByIndex


def produced_run(consumer: type[Consumer], virtual: int) -> Harness:
    """24 messages of 3 keys in turn (offset % 3 is the key's number), then an unkeyed one."""
    kafka = Harness(app_of(consumer, virtual=virtual), partitions={"t": 1}, interleave=1)
    for index in range(24):
        kafka.produce("t", index, key=KEYS[index % 3])
    kafka.produce("t", "unkeyed")
    kafka.run()
    return kafka


def test_one_values_messages_taken_out_of_offset_order_are_reordered() -> None:
    with produced_run(consumer_taking(lambda first, indexes: indexes[::-1]), 4) as kafka:
        reordered = kafka.history.reordered()
        assert reordered and {p.topic for p in reordered} == {"t"}
        assert all(kafka.topic("t")[p.offset].key in KEYS[:3] for p in reordered)


def test_values_interleaved_each_in_offset_order_pass() -> None:
    def last_key_first(first: int, indexes: list[int]) -> list[int]:
        # one virtual partition: every key in one call; key 2's messages, then 1's, then 0's
        return sorted(indexes, key=lambda index: -((first + index) % 3))

    with produced_run(consumer_taking(last_key_first), 1) as kafka:
        kafka.history.check()
    with produced_run(consumer_taking(lambda first, indexes: indexes[::-1]), 1) as kafka:
        assert len(kafka.history.reordered()) == 24 - 3  # all but each key's last offset


@settings(max_examples=30, deadline=None)
@given(generator=st.randoms(use_true_random=False), limit=st.integers(1, 10))
def test_any_interleaving_keeps_each_keys_order_and_loses_nothing(
        generator: random.Random, limit: int) -> None:
    first: dict[str, list[int]] = {}

    class PerKey(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                first.setdefault(message.key, []).append(message.offset)

    with Harness(app_of(PerKey, max_messages=limit), partitions={"t": 1},
                 interleave=generator) as kafka:
        for index in range(30):
            kafka.produce("t", index, key=KEYS[index % 5])
        kafka.run()
        kafka.history.check()
    assert all(offsets == sorted(offsets) for offsets in first.values())


# -- the machine explores interleavings ---------------------------------------------------------

def order_recording_app() -> App:
    """Topic ``t`` (4 virtual partitions); ``app.ran`` lists the virtual partitions run."""
    ran: list[int] = []

    class Recording(Consumer):
        def consume(self, messages: Messages) -> None:
            ran.append(self.virtual_partition)
            list(messages)  # processed

    built = app_of(Recording)
    built.ran = ran  # type: ignore[attr-defined]
    return built


class PushOrderMachine(ConsumerMachine):
    """Fails once a poll ran a batch's jobs in another order than virtual partition order."""

    app = order_recording_app
    topic = "t"
    keys = st.sampled_from(KEYS)
    shrink_budget = 20

    def check(self, kafka: Harness) -> None:
        ran = kafka.app.ran  # type: ignore[attr-defined]
        try:
            assert ran == sorted(ran), f"jobs ran in the order {ran}"
        finally:
            ran.clear()


def test_the_machine_draws_the_order_of_virtual_partition_jobs() -> None:
    hunt = settings(max_examples=100, deadline=None, database=None, derandomize=True)
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(PushOrderMachine, settings=hunt)
    assert "jobs ran in the order" in str(failure.value)
    assert "kafka.interleave(" in str(failure.value)


def plain_app() -> App:
    app = App(kafka=BOOTSTRAP)
    app.topic("t", Consumer)
    return app


class PlainMachine(ConsumerMachine):
    app = plain_app
    topic = "t"


def test_only_a_machine_of_a_topic_with_virtual_partitions_draws_orders() -> None:
    for machine_type, interleaves in ((PlainMachine, False), (PushOrderMachine, True)):
        machine = machine_type()
        try:
            assert machine._interleaves is interleaves
        finally:
            machine.kafka.close()


@pytest.mark.parametrize("interleave", [None, 7])
def test_poll_returns_each_virtual_partitions_share_of_the_batch(interleave: Interleave) -> None:
    class Quiet(Consumer):
        def consume(self, messages: Messages) -> None:
            pass

    with Harness(app_of(Quiet), partitions={"t": 1}, interleave=interleave) as kafka:
        for index in range(16):
            kafka.produce("t", index, key=KEYS[index % len(KEYS)])
        batches = kafka.poll()
        assert len(batches) > 1  # several virtual partitions ran a share each
        assert sorted(m.offset for batch in batches for m in batch) == list(range(16))
