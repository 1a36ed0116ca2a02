from __future__ import annotations

import typing
from typing import Any

from engine import App, Consumer, Messages
from tests.conftest import BOOTSTRAP
from tests.fakes import FakeRaw
from tests.served import fake_listener


class Revocable(Consumer):
    revocations: typing.ClassVar[list[int]] = []

    def consume(self, messages: Messages) -> None:
        pass

    def revoked(self) -> None:
        Revocable.revocations.append(self.partition)


def test_a_partition_revoked_and_assigned_back_in_one_poll_is_sought_to_its_first_drop() -> None:
    listener, client, workers = fake_listener(Revocable)
    Revocable.revocations = []
    client.rebalance.assigned([("t", 0), ("t", 1)])
    listener.partitions.get(("t", 0)).executor._build()  # 0 had a consumer before the poll
    client.rebalance.take()
    # during one consume(): revoke 0, assign 0 back; the batch holds 0's old messages
    client.rebalance.revoked([("t", 0)], lost=False)
    client.rebalance.assigned([("t", 0)])
    raws: list[Any] = [FakeRaw("t", 0, 5), FakeRaw("t", 1, 7), FakeRaw("t", 0, 6)]
    kept = listener.after_rebalance(raws)
    assert [(r.partition(), r.offset()) for r in kept] == [(1, 7)]
    assert client.positions == {("t", 0): 5}  # nothing of partition 0 is lost
    assert Revocable.revocations == [0]  # its old consumer heard about the revocation
    assert ("t", 0) not in listener.partitions  # a fresh consumer serves it from now on
    workers._queue.close()
    assert workers.join(5)


def test_a_lost_partition_is_dropped_without_seeking() -> None:
    listener, client, workers = fake_listener(Revocable)
    client.rebalance.assigned([("t", 0), ("t", 1)])
    client.rebalance.take()
    client.rebalance.revoked([("t", 1)], lost=True)
    kept = listener.after_rebalance([FakeRaw("t", 1, 3), FakeRaw("t", 0, 4)])
    assert [(r.partition(), r.offset()) for r in kept] == [(0, 4)]
    assert client.positions == {}
    workers._queue.close()
    assert workers.join(5)


def test_no_rebalance_keeps_the_batch_untouched() -> None:
    listener, _, workers = fake_listener(Revocable)
    raws: list[Any] = [FakeRaw("t", 0, 1)]
    assert listener.after_rebalance(raws) is raws
    workers._queue.close()
    assert workers.join(5)


class EofEvent(FakeRaw):
    """A partition-EOF event as librdkafka hands it out among messages."""

    def error(self) -> Any:
        from confluent_kafka import KafkaError

        return KafkaError(KafkaError._PARTITION_EOF)


class Ordered(Consumer):
    calls: typing.ClassVar[list[str]] = []

    def consume(self, messages: Messages) -> None:
        Ordered.calls.append(f"consume {len(messages)}")

    def eofed(self) -> None:
        Ordered.calls.append("eofed")


def test_an_eof_in_a_poll_runs_after_that_partitions_batch_never_before() -> None:
    listener, client, workers = fake_listener(Ordered)
    Ordered.calls = []
    client.polls.append([FakeRaw("t", 0, 0), FakeRaw("t", 0, 1), EofEvent("t", 0, 2)])
    listener.iterate()
    assert Ordered.calls == ["consume 2", "eofed"]
    workers._queue.close()
    assert workers.join(5)


def test_rebalance_events_are_sent_by_the_listener_whose_poll_ran_them() -> None:
    from confluent_kafka import TopicPartition

    from engine.connection.client import Client

    app = App(kafka=BOOTSTRAP)
    app.topic("t", Revocable)
    (group,) = app.subscription_groups()
    listener = object()
    client = Client(group, app.monitor, listener)
    senders: list[Any] = []
    app.monitor.subscribe("rebalance.partitions_assigned", lambda s, **e: senders.append(s))

    class Binding:
        def assign(self, partitions: list[Any]) -> None:
            pass

        def resume(self, partitions: list[Any]) -> None:
            pass

    client._consumer = Binding()
    client._callbacks.on_assign(None, [TopicPartition("t", 0)])
    assert senders == [listener]
