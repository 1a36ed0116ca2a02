"""The client's parts on their own: rebalance callbacks, the bounded close, commit outcomes."""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from engine import App
from engine.connection.bounded_close import BoundedClose
from engine.connection.commits import Commits
from engine.connection.rebalance import RebalanceTracker
from engine.connection.rebalance_callbacks import RebalanceCallbacks
from tests.conftest import BOOTSTRAP, NoopConsumer


class Binding:
    """A confluent-kafka consumer that records the rebalance calls made on it."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def assign(self, partitions: list[Any]) -> None:
        self.calls.append("assign")

    def incremental_assign(self, partitions: list[Any]) -> None:
        self.calls.append("incremental_assign")

    def resume(self, partitions: list[Any]) -> None:
        self.calls.append("resume")

    def pause(self, partitions: list[Any]) -> None:
        self.calls.append("pause")


class CallbacksClient:
    """The client the callbacks see: its binding, its commit, its quiet flag."""

    def __init__(self, **kafka: Any) -> None:
        app = App(kafka={**BOOTSTRAP, **kafka})
        app.topic("t", NoopConsumer)
        (self.subscription_group,) = app.subscription_groups()
        self.monitor = app.monitor
        self.pause_assigned = False
        self.calls: list[str] = []
        self.kafka_consumer: Any = Binding(self.calls)
        self.events: list[tuple[str, Any, dict[str, Any]]] = []
        for name in ("rebalance.partitions_assigned", "rebalance.partitions_revoked",
                     "rebalance.partitions_lost", "error.occurred"):
            app.monitor.subscribe(name, lambda sender, _n=name, **event:
                                  self.events.append((_n, sender, event)))

    def commit(self, sync: bool) -> bool:
        self.calls.append(f"commit sync={sync}")
        return True


def callbacks(client: CallbacksClient) -> tuple[RebalanceCallbacks, RebalanceTracker, object]:
    tracker, sender = RebalanceTracker(), object()
    commits = Commits(client.monitor, client, client.subscription_group.id)
    return RebalanceCallbacks(client, tracker, commits, sender), tracker, sender


def test_an_assignment_is_recorded_taken_resumed_and_announced_by_the_sender() -> None:
    client = CallbacksClient()
    rebalance, tracker, sender = callbacks(client)
    rebalance.on_assign(None, [TopicPartition("t", 0)])
    assert client.calls == ["assign", "resume"]
    assert tracker.assignment == {("t", 0)} and tracker.changed
    ((name, by, event),) = client.events
    assert (name, by, event["partitions"]) == ("rebalance.partitions_assigned", sender, [("t", 0)])


def test_a_cooperative_group_assigns_incrementally_and_a_quiet_client_pauses() -> None:
    client = CallbacksClient(**{"partition.assignment.strategy": "cooperative-sticky"})
    client.pause_assigned = True
    callbacks(client)[0].on_assign(None, [TopicPartition("t", 0)])
    assert client.calls == ["incremental_assign", "pause"]


def test_a_revocation_commits_first_and_a_loss_does_not_commit() -> None:
    client = CallbacksClient()
    rebalance, tracker, _ = callbacks(client)
    rebalance.on_revoke(None, [TopicPartition("t", 0)])
    rebalance.on_lost(None, [TopicPartition("t", 1)])
    assert client.calls == ["commit sync=True"]
    assert tracker.take() == (set(), {("t", 0)}, {("t", 1)})
    assert [name for name, _, _ in client.events] == ["rebalance.partitions_revoked",
                                                      "rebalance.partitions_lost"]


def test_a_failing_callback_becomes_an_error_event_of_the_client_not_an_exception() -> None:
    client = CallbacksClient()
    client.kafka_consumer = None  # a close let go of the binding
    callbacks(client)[0].on_assign(None, [TopicPartition("t", 0)])
    ((name, by, event),) = client.events
    assert (name, by, event["type"]) == ("error.occurred", client, "callbacks.rebalance.error")


def test_a_bounded_close_gives_up_on_a_hanging_shut_and_never_runs_twice() -> None:
    release, shut = threading.Event(), []

    def hang(binding: Any, deadline: float) -> None:
        shut.append(binding)
        release.wait(10)

    closer = BoundedClose("g", lambda: "binding", hang)
    assert closer.close(0.05) is False and closer.closing
    assert closer.close(0.05) is True and shut == ["binding"]
    release.set()


def test_a_bounded_close_of_no_binding_does_nothing_and_waits_for_a_poll() -> None:
    shut: list[Any] = []
    binding: list[Any] = [None]
    closer = BoundedClose("g", lambda: binding[0], lambda b, deadline: shut.append(b))
    assert closer.close(1.0) is True and shut == [] and not closer.closing
    binding[0] = "binding"
    with closer.polling:  # a poll is under way
        assert closer.close_if_idle(1.0) is False and shut == []
    assert closer.close_if_idle(10.0) is True and shut == ["binding"]




def test_a_refusal_seen_on_another_thread_marks_the_assignment_lost_until_reassigned() -> None:
    app = App(kafka=BOOTSTRAP)
    commits = Commits(app.monitor, object(), "g")
    refused = KafkaException(KafkaError(KafkaError.ILLEGAL_GENERATION))
    worker = threading.Thread(target=commits.failed, args=(refused, True))
    worker.start()
    worker.join(10)
    assert commits.assignment_lost
    commits.assigned()
    assert not commits.assignment_lost
    commits.on_commit(KafkaError(KafkaError.UNKNOWN_MEMBER_ID), [])
    assert commits.assignment_lost
    commits.assigned()
    commits.on_commit(KafkaError(KafkaError.REQUEST_TIMED_OUT), [])
    assert not commits.assignment_lost  # a refusal for another reason says nothing of it
