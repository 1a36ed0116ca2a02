"""Producer and commit faults in the harness: crash points, failed produces, lost partitions."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError

from engine import App, Consumer, DeadLetterQueue, Messages
from engine.errors import ProduceError
from engine.testing import Harness, HarnessError

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


def forwarder(*, sync: bool = True, mark_sync: bool = False,
              errors: list[BaseException] | None = None, **route: Any) -> App:
    """Each "orders" message is copied to "copies", then marked (sync marks: a commit each)."""
    app = App(kafka=KAFKA, client_id="fwd")

    class Forward(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                try:
                    send = self.produce_sync if sync else self.produce
                    send("copies", message.payload)
                except ProduceError as error:
                    if errors is None:
                        raise
                    errors.append(error)
                self.mark_as_consumed(message, sync=mark_sync)

    app.topic("orders", Forward, **route)
    return app


def copies(kafka: Harness) -> list[Any]:
    return [message.payload for message in kafka.topic("copies")]


def harness(app: App) -> Harness:
    return Harness(app, partitions={"orders": 1, "copies": 1})


def errors_of(kafka: Harness, kind: str) -> list[dict[str, Any]]:
    return [event.payload for event in kafka.events.named("error.occurred")
            if event.payload["type"] == kind]


# -- crash at produce -----------------------------------------------------------------------------

def test_a_crash_at_produce_dies_at_that_call_after_the_ones_that_succeeded() -> None:
    with harness(forwarder()) as kafka:
        for value in range(4):
            kafka.produce("orders", value)
        kafka.crash(after=2, at="produce")
        kafka.poll()
        assert copies(kafka) == [0, 1]  # the third send never reached the log
        assert kafka.committed("orders", 0) is None  # marks were stored only: all gone
        kafka.run()
        assert copies(kafka) == [0, 1, 0, 1, 2, 3]  # the new process starts over
        assert kafka.history.crashes == 1


def test_a_crash_at_produce_counts_dead_letter_copies() -> None:
    def refuse(consumer: Consumer, messages: Messages) -> None:
        raise ValueError("poison")

    app = App(kafka=KAFKA, client_id="dlq")

    class Refuses(Consumer):
        def consume(self, messages: Messages) -> None:
            refuse(self, messages)

    app.topic("orders", Refuses, dead_letter_queue=DeadLetterQueue("orders.dlq", max_retries=0))
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.crash(at="produce")
        kafka.run()  # the copy dies, then the new process copies it again
        assert [m.payload for m in kafka.topic("orders.dlq")] == [1]
        assert kafka.history.crashes == 1


def test_a_crash_at_produce_waits_while_nothing_is_produced() -> None:
    with harness(forwarder()) as kafka:
        kafka.crash(at="produce")
        kafka.clock.advance(30)
        assert kafka.history.crashes == 0
        kafka.produce("orders", 1)
        kafka.run()
        assert kafka.history.crashes == 1 and copies(kafka) == [1]


# -- crash at commit ------------------------------------------------------------------------------

def test_a_crash_at_commit_dies_at_a_sync_mark_and_that_commit_is_lost() -> None:
    with harness(forwarder(mark_sync=True)) as kafka:
        for value in range(3):
            kafka.produce("orders", value)
        kafka.crash(after=1, at="commit")
        kafka.poll()
        assert kafka.committed("orders", 0) == 1  # the first commit got through, not the second
        assert copies(kafka) == [0, 1]
        kafka.run()
        assert copies(kafka) == [0, 1, 1, 2]


def test_a_crash_at_commit_fires_at_the_revocation_and_the_stop_commit() -> None:
    with harness(forwarder()) as kafka:
        kafka.produce("orders", 1)
        kafka.poll()
        kafka.crash(at="commit")
        kafka.revoke("orders", 0)  # the revocation's commit kills the process
        assert kafka.history.crashes == 1 and kafka.state == "running"
        assert kafka.committed("orders", 0) is None
        kafka.run()
        kafka.crash(at="commit")
        kafka.stop()  # died while stopping: stays stopped, nothing committed
        assert kafka.state == "stopped" and kafka.committed("orders", 0) is None
        assert kafka.history.crashes == 2
        kafka.start()
        kafka.run()
        kafka.stop()
        assert kafka.committed("orders", 0) == 1 and copies(kafka) == [1, 1, 1]


def test_the_background_auto_commit_is_no_crash_point() -> None:
    with harness(forwarder()) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        kafka.crash(at="commit")
        kafka.clock.advance(6)  # librdkafka's own thread commits
        assert kafka.committed("orders", 0) == 1 and kafka.history.crashes == 0


def test_arming_a_crash_replaces_the_one_armed_before() -> None:
    with harness(forwarder()) as kafka:
        kafka.crash(at="produce")
        kafka.crash(after=5)  # at a take now, after 5
        kafka.produce("orders", 1)
        kafka.run()
        assert kafka.history.crashes == 1 and copies(kafka) == [1, 1]  # dies as consume returns


@pytest.mark.parametrize(("call", "message"), [
    (lambda kafka: kafka.crash(at="poll"), "'take', 'produce', 'commit'"),
    (lambda kafka: kafka.crash(after=-1, at="commit"), "integer >= 0"),
    (lambda kafka: kafka.fail_produce(0), "integer >= 1"),
    (lambda kafka: kafka.fail_produce(topic="nope"), "nope"),
    (lambda kafka: kafka.lose("orders", 3), "partition 3 is out of range"),
])
def test_bad_fault_arguments_are_harness_errors(call: Any, message: str) -> None:
    with harness(forwarder()) as kafka, pytest.raises(HarnessError, match=message):
        call(kafka)


# -- failed produces ------------------------------------------------------------------------------

def test_a_refused_produce_sync_raises_produce_error_and_stores_nothing() -> None:
    errors: list[BaseException] = []
    with harness(forwarder(errors=errors)) as kafka:
        kafka.produce("orders", 1)
        kafka.produce("orders", 2)
        kafka.fail_produce()
        kafka.run()
        assert copies(kafka) == [2]
        (error,) = errors
        assert isinstance(error, ProduceError)
        assert "TOPIC_AUTHORIZATION_FAILED" in str(error) and "'copies'" in str(error)


def test_a_timed_out_produce_sync_reads_as_librdkafka_message_timeout() -> None:
    errors: list[BaseException] = []
    with harness(forwarder(errors=errors)) as kafka:
        kafka.produce("orders", 1)
        kafka.fail_produce(timeout=True)
        kafka.run()
        assert copies(kafka) == []
        assert 'code=_MSG_TIMED_OUT' in str(errors[0])
        assert 'str="Local: Message timed out"' in str(errors[0])


def test_a_failed_async_produce_is_reported_as_a_delivery_error_event() -> None:
    with harness(forwarder(sync=False)) as kafka:
        kafka.produce("orders", 1)
        kafka.produce("orders", 2)
        kafka.fail_produce(topic="copies", timeout=True)
        kafka.run()
        assert copies(kafka) == [2]
        (event,) = errors_of(kafka, "producer.delivery.error")
        assert event["error"].code() == KafkaError._MSG_TIMED_OUT and event["topic"] == "copies"


def test_a_failure_for_another_topic_waits_for_it() -> None:
    with harness(forwarder()) as kafka:
        kafka.create_topic("elsewhere")
        kafka.fail_produce(2, topic="elsewhere")
        kafka.produce("orders", 1)
        kafka.run()
        assert copies(kafka) == [1]


def test_an_unhandled_produce_failure_retries_the_batch() -> None:
    with harness(forwarder()) as kafka:
        kafka.produce("orders", 1)
        kafka.fail_produce()
        kafka.run()
        assert copies(kafka) == [1]
        assert [event.payload["type"] for event in kafka.events.named("error.occurred")] == [
            "consumer.consume.error"]


# -- lost partitions ------------------------------------------------------------------------------

def test_a_lost_partition_refuses_commits_until_the_poll_runs_the_lost_revocation() -> None:
    with harness(forwarder()) as kafka:
        kafka.produce("orders", 1)
        kafka.poll()
        kafka.lose("orders", 0)
        assert not kafka.assigned("orders", 0)
        consumer = kafka.consumer_for("orders", 0)
        assert consumer is not None and not consumer.is_revoked  # it has not heard yet
        assert consumer.commit_offsets(sync=True) is False
        assert consumer.is_revoked
        (event,) = errors_of(kafka, "connection.client.commit.error")
        assert event["sync"] is True
        assert event["error"].args[0].code() == KafkaError.UNKNOWN_MEMBER_ID
        assert "Commit failed: Broker: Unknown member" in str(event["error"])
        kafka.poll()  # hears it lost: no commit, the partition goes to nobody
        assert kafka.events.named("rebalance.partitions_lost")
        assert kafka.committed("orders", 0) is None
        kafka.produce("orders", 2)
        kafka.run()
        assert copies(kafka) == [1]
        kafka.assign("orders", 0)
        kafka.run()
        assert copies(kafka) == [1, 1, 2] and kafka.assigned("orders", 0)


def test_a_lost_partition_refuses_the_background_commit_as_on_commit_does() -> None:
    with harness(forwarder()) as kafka:
        kafka.produce("orders", 1)
        kafka.poll()
        kafka.lose("orders", 0)
        kafka.clock.advance(6)
        (event,) = errors_of(kafka, "connection.client.commit.error")
        assert event["sync"] is False and event["partitions"] == [("orders", 0)]
        assert kafka.committed("orders", 0) is None


def test_assigning_back_an_unheard_lost_partition_hears_it_lost_first() -> None:
    revoked: list[str] = []
    app = forwarder()
    app.monitor.subscribe("rebalance.partitions_lost", lambda sender, **event: revoked.append(
        "lost"))
    with harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.poll()
        kafka.lose("orders", 0)
        kafka.assign("orders", 0)
        assert revoked == ["lost"] and kafka.assigned("orders", 0)
        kafka.run()
        kafka.stop()
        assert kafka.committed("orders", 0) == 1 and copies(kafka) == [1, 1]


def test_commits_of_other_partitions_go_through() -> None:
    with Harness(forwarder(), partitions={"orders": 2, "copies": 1}) as kafka:
        kafka.produce("orders", 1, partition=1)
        kafka.poll()
        kafka.lose("orders", 0)
        consumer = kafka.consumer_for("orders", 1)
        assert consumer is not None and consumer.commit_offsets(sync=True)
        assert kafka.committed("orders", 1) == 1


# -- what a failed produce leaves unprocessed ----------------------------------------------------

def ack_first(**route: Any) -> App:
    """Marks each message with a commit, then forwards it: the forward can be lost."""
    app = App(kafka=KAFKA, client_id="ack-first")

    class AckFirst(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                self.mark_as_consumed(message, sync=True)
                self.produce_sync("copies", message.payload)

    app.topic("orders", AckFirst, **route)
    return app


def test_a_message_marked_before_a_crash_at_its_forward_is_committed_beyond_processed() -> None:
    with harness(ack_first()) as kafka:
        kafka.produce("orders", 1)
        kafka.produce("orders", 2)
        kafka.crash(after=1, at="produce")
        kafka.run()
        assert copies(kafka) == [1]
        assert [str(p) for p in kafka.history.committed_beyond_processed()] == ["orders/0@1"]
        assert [str(p) for p in kafka.history.lost()] == ["orders/0@1"]


def test_a_message_marked_before_its_failed_forward_is_lost_not_stuck() -> None:
    with harness(ack_first()) as kafka:
        kafka.produce("orders", 1)
        kafka.fail_produce()
        kafka.run()  # the engine retries from the first unmarked: never the failed forward
        assert copies(kafka) == []
        assert [str(p) for p in kafka.history.committed_beyond_processed()] == ["orders/0@0"]
        assert [str(p) for p in kafka.history.lost()] == ["orders/0@0"]


def test_forwarding_first_survives_both_faults() -> None:
    with harness(forwarder(mark_sync=True)) as kafka:
        kafka.produce("orders", 1)
        kafka.produce("orders", 2)
        kafka.crash(after=1, at="produce")
        kafka.run()
        kafka.fail_produce()
        kafka.produce("orders", 3)
        kafka.run()
        assert copies(kafka) == [1, 2, 3]  # 1 was committed before the crash at 2
        kafka.history.check()
