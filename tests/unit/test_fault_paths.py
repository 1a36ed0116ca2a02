"""Fault paths against fakes: each test is one bug of the delivery audit (issue 7)."""

from __future__ import annotations

import threading
import typing
from typing import Any

import pytest

from engine import App, Consumer, DeadLetterQueue, Messages, ProduceError
from engine.connection.client import Client
from engine.connection.listener import Listener
from engine.processing.jobs_queue import JobsQueue
from engine.processing.workers_pool import WorkersPool
from engine.producer import Producer
from tests.conftest import BOOTSTRAP, NoopConsumer
from tests.fakes import FakeRaw
from tests.fakes_client import FakeClient
from tests.served import fake_listener, resume_due, run_batch, served


class Failing(Consumer):
    """Raises whatever ``Failing.raise_next`` holds (once), else records the batch."""

    raise_next: typing.ClassVar[list[BaseException]] = []
    seen: typing.ClassVar[list[list[int]]] = []

    def consume(self, messages: Messages) -> None:
        if Failing.raise_next:
            raise Failing.raise_next.pop(0)
        Failing.seen.append([m.offset for m in messages])


def raws(first: int, last: int, partition: int = 0) -> list[Any]:
    return [FakeRaw("t", partition, offset) for offset in range(first, last + 1)]


@pytest.fixture(autouse=True)
def _reset_failing() -> None:
    Failing.raise_next, Failing.seen = [], []


def test_1_a_constructor_that_raises_fails_the_batch_and_it_is_retried() -> None:
    app = App(kafka=BOOTSTRAP)
    built = [0]

    class Fragile(Failing):
        def __init__(self) -> None:
            built[0] += 1
            if built[0] == 1:
                raise ConnectionError("database not reachable yet")

    entry = served(app, app.topic("t", Fragile), 0, client := FakeClient())
    run_batch(entry, raws(0, 4), client=client)
    assert client.stored == {}  # nothing marked
    assert client.positions == {("t", 0): 0} and ("t", 0) in client.paused
    assert resume_due(entry, client, entry.state.paused_until or 0.0) is None
    run_batch(entry, raws(0, 4), client=client)
    assert Failing.seen == [[0, 1, 2, 3, 4]]
    assert client.stored == {("t", 0): 5}


def test_1_a_strategy_that_raises_still_retries_the_batch() -> None:
    app = App(kafka=BOOTSTRAP)
    entry = served(app, app.topic("t", Failing), 0, client := FakeClient())

    def broken(*args: Any) -> None:
        raise RuntimeError("strategy broke")

    entry.strategy.after_consume = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="strategy broke"):
        run_batch(entry, raws(3, 5), client=client)
    assert client.positions == {("t", 0): 3} and ("t", 0) in client.paused
    assert client.stored == {}


def test_2_pause_then_raise_retries_from_the_first_unprocessed_message() -> None:
    app = App(kafka=BOOTSTRAP)

    class PausesThenFails(Consumer):
        def consume(self, messages: Messages) -> None:
            self.pause(timeout=5.0)  # "resume after this batch" ...
            raise RuntimeError("... which was never processed")

    entry = served(app, app.topic("t", PausesThenFails), 0, client := FakeClient())
    run_batch(entry, raws(10, 14), client=client)
    assert entry.state.first_unmarked == 10
    assert entry.state.resume_offset == 10
    assert client.positions == {("t", 0): 10}  # the retry's seek came last
    assert not entry.state.pause_is_manual  # a failure back-off, not the user's pause


@pytest.mark.parametrize("error", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()])
def test_4_a_base_exception_fails_the_batch_and_the_worker_lives(error: BaseException) -> None:
    app = App(kafka=BOOTSTRAP)
    reported: list[str] = []
    app.monitor.subscribe("error.occurred", lambda s, **e: reported.append(e["type"]))
    entry = served(app, app.topic("t", Failing), 0, client := FakeClient())
    queue = JobsQueue()
    queue.register("g")
    workers = WorkersPool(queue, app.monitor)
    workers.scale(1)
    from engine.connection.partition_effects import apply_effects
    from engine.processing.jobs import Consume

    Failing.raise_next = [error]
    for first in (0, 0):
        messages = entry.executor.batch(raws(first, first + 2), 0.0)
        assert entry.state.start(first, first + 1)
        queue.push(Consume(entry.executor, "g", entry.strategy, messages))
        queue.wait("g")
        apply_effects(client, entry.state, entry.context.take_effects())  # as the listener does
        resume_due(entry, client, entry.state.paused_until or 0.0)
    queue.close()
    assert workers.join(5)
    assert reported == ["consumer.consume.error"]
    assert Failing.seen == [[0, 1, 2]]  # the retry ran on the same, living worker
    assert client.stored == {("t", 0): 3}


def test_5_an_offset_gap_at_the_first_unmarked_offset_is_not_waited_for() -> None:
    app = App(kafka=BOOTSTRAP)
    route = app.topic("t", Failing, dead_letter_queue=DeadLetterQueue("t.dlq", max_retries=0))
    entry = served(app, route, 0, client := FakeClient())
    dispatched: list[int] = []
    app.producer.dispatch = lambda message, *a: dispatched.append(message.offset)  # type: ignore[method-assign]
    run_batch(entry, raws(0, 4), client=client)
    assert client.stored == {("t", 0): 5}
    # offset 5 is a transaction marker: the next batch starts at 6, and fails
    Failing.raise_next = [RuntimeError("poison")]
    run_batch(entry, raws(6, 8), client=client)
    assert entry.state.first_unmarked == 7  # 6 went to the DLQ, the rest is retried
    assert dispatched == [6]
    assert client.stored == {("t", 0): 7}


def test_5_the_error_event_names_an_offset_that_exists() -> None:
    app = App(kafka=BOOTSTRAP)
    offsets: list[int] = []
    app.monitor.subscribe("error.occurred", lambda s, **e: offsets.append(e["offset"]))
    entry = served(app, app.topic("t", Failing), 0, client := FakeClient())
    run_batch(entry, raws(0, 4), client=client)
    Failing.raise_next = [RuntimeError("x")]
    run_batch(entry, raws(6, 8), client=client)  # 5 does not exist
    assert offsets == [6]


def test_9_a_failed_retry_seek_never_resumes_from_the_old_position() -> None:
    app = App(kafka=BOOTSTRAP)
    now = [0.0]
    entry = served(app, app.topic("t", Failing), 0, client := FakeClient(),
                   clock=lambda: now[0])
    Failing.raise_next = [RuntimeError("x")]
    client.fail_seeks = 2  # the retry's seek fails, and so does the first one at resume
    run_batch(entry, raws(0, 4), client=client)
    now[0] = 1.0
    assert resume_due(entry, client, now[0]) is not None  # still paused: seek failed again
    assert ("t", 0) in client.paused
    # anything fetched meanwhile (from the old position) is refused, never processed
    assert not run_batch(entry, raws(5, 6), client=client)
    now[0] = 10.0
    assert resume_due(entry, client, now[0]) is None
    assert client.positions == {("t", 0): 0} and ("t", 0) not in client.paused
    assert run_batch(entry, raws(0, 6), client=client)
    assert Failing.seen == [list(range(7))]


def test_9_a_failed_seek_asked_for_by_the_consumer_fails_its_batch() -> None:
    app = App(kafka=BOOTSTRAP)

    class Seeks(Consumer):
        def consume(self, messages: Messages) -> None:
            self.seek(100)

    entry = served(app, app.topic("t", Seeks), 0, client := FakeClient())
    client.fail_seeks = 1
    run_batch(entry, raws(0, 2), client=client)
    assert client.stored == {}
    assert client.positions == {("t", 0): 0}  # retried from where it was


class EofEvent(FakeRaw):
    def error(self) -> Any:
        from confluent_kafka import KafkaError

        return KafkaError(KafkaError._PARTITION_EOF)


def test_10_revoke_then_assign_seeks_back_to_the_smallest_dropped_offset() -> None:
    listener, client, workers = fake_listener(NoopConsumer)
    client.rebalance.assigned([("t", 0)])
    client.rebalance.take()
    client.rebalance.revoked([("t", 0)], lost=False)
    client.rebalance.assigned([("t", 0)])
    # out of order, and an error event whose "offset" is not a message's
    polled: list[Any] = [FakeRaw("t", 0, 7), EofEvent("t", 0, 2), FakeRaw("t", 0, 5)]
    assert listener.after_rebalance(polled) == []
    assert client.positions == {("t", 0): 5}
    workers._queue.close()
    assert workers.join(5)


def test_3_an_assigned_partition_is_resumed_unless_quiet() -> None:
    app = App(kafka=BOOTSTRAP)
    app.topic("t", NoopConsumer)
    (group,) = app.subscription_groups()
    client = Client(group, app.monitor)
    calls: list[str] = []

    class Binding:
        def assign(self, partitions: list[Any]) -> None:
            calls.append("assign")

        def resume(self, partitions: list[Any]) -> None:
            calls.append("resume")

        def pause(self, partitions: list[Any]) -> None:
            calls.append("pause")

    client._consumer = Binding()
    client._callbacks.assigned(["tp"], [("t", 0)])
    assert calls == ["assign", "resume"]  # librdkafka kept the back-off pause: undo it
    client.pause_assigned = True
    client._callbacks.assigned(["tp"], [("t", 0)])
    assert calls[2:] == ["assign", "pause"]


def test_11_a_reset_cut_short_by_a_stop_then_quiet_and_stop_cleanly() -> None:
    revoked: list[int] = []

    class Hooked(Consumer):
        def consume(self, messages: Messages) -> None:
            pass

        def revoked(self) -> None:
            revoked.append(self.partition)

    listener, client, workers = fake_listener(Hooked)
    errors: list[Any] = []
    listener.monitor.subscribe("error.occurred", lambda s, **e: errors.append(e["error"]))
    client.polls.append(raws(0, 1))
    listener.status.request(listener.status.state.__class__.RUNNING)
    listener.iterate()
    listener.status.request(listener.status.state.__class__.QUIETING)  # the stop comes in
    listener.reset_client()  # ... while the loop resets: no reconnect
    assert revoked == [0]  # its consumer heard its partition is gone
    listener.quiet_down()
    listener.stop()
    listener.serve_while_quiet()
    listener.shut_down()
    assert errors == []
    assert listener.status.state == "stopped"
    workers._queue.close()
    assert workers.join(5)


def test_12_a_listener_failing_to_start_stops_the_ones_started_before() -> None:
    from engine.server import Server

    app = App(kafka=BOOTSTRAP)
    app.topic("a", NoopConsumer)
    app.subscription_group("other").topic("b", NoopConsumer)
    events: list[str] = []

    class Starting:
        def __init__(self, name: str, fails: bool) -> None:
            self.id, self.fails = name, fails

        def start(self) -> None:
            if self.fails:
                raise RuntimeError(f"{self.id} cannot start")
            events.append(f"start {self.id}")

        def quiet(self) -> None:
            events.append(f"quiet {self.id}")

        def stop(self) -> None:
            events.append(f"stop {self.id}")

        def join(self, timeout: float) -> bool:
            return True

    server = Server(app.lifecycle, app.monitor, app.settings, app.producer,
                    app.subscription_groups(),
                    build_listeners=lambda *a: [Starting("1", False), Starting("2", True)])
    runner = server.runner
    with pytest.raises(RuntimeError, match="2 cannot start"):
        runner.call()
    assert "stop 1" in events and "quiet 1" in events


def test_13_a_forced_close_never_cuts_into_a_poll() -> None:
    app = App(kafka=BOOTSTRAP)
    app.topic("t", NoopConsumer)
    (group,) = app.subscription_groups()
    client = Client(group, app.monitor)
    inside, release = threading.Event(), threading.Event()

    class Binding:
        closed = False

        def consume(self, count: int, timeout: float) -> list[Any]:
            inside.set()
            release.wait(5)
            return [object()]

        def unsubscribe(self) -> None:
            pass

        def assignment(self) -> list[Any]:
            return []

        def close(self) -> None:
            Binding.closed = True

    client._consumer = Binding()
    client.commit = lambda sync: True  # type: ignore[method-assign]
    client._call = lambda method, *a, default=False: default  # type: ignore[method-assign]
    poller = threading.Thread(target=client.poll_batch, args=(1, 1.0, lambda: False),
                              kwargs={"between_slices": lambda: None})
    poller.start()
    assert inside.wait(5)
    assert client.close_if_idle(0.1) is False  # inside consume(): left alone
    release.set()
    poller.join(5)
    assert client.close_if_idle(0.1) is True and Binding.closed


class FakeKafkaProducer:
    """librdkafka's producer: a queue that may be full, deliveries served by poll."""

    def __init__(self, full_for: int = 0, deliver_after_polls: int = 1) -> None:
        self.full_for = full_for
        self.deliver_after = deliver_after_polls
        self.pending: list[Any] = []
        self.polls = 0

    def produce(self, topic: str, value: Any, **options: Any) -> None:
        if self.full_for:
            self.full_for -= 1
            raise BufferError("queue full")
        self.pending.append(options["on_delivery"])

    def poll(self, timeout: float) -> int:
        self.polls += 1
        if self.pending and self.polls >= self.deliver_after:
            self.pending.pop(0)(None, None)
            return 1
        return 1  # another message's delivery report: poll returns at once

    def flush(self, timeout: float) -> int:
        return len(self.pending)


def producer_with(fake: FakeKafkaProducer) -> tuple[Producer, list[dict[str, Any]]]:
    app = App(kafka=BOOTSTRAP)
    errors: list[dict[str, Any]] = []
    app.monitor.subscribe("error.occurred", lambda s, **e: errors.append(e))
    app.producer._producer = fake
    return app.producer, errors


def test_7_produce_sync_waits_its_whole_timeout_on_a_busy_producer() -> None:
    fake = FakeKafkaProducer(deliver_after_polls=40)  # 40 polls of other deliveries first
    producer, _ = producer_with(fake)
    producer.produce("t", b"x", sync=True, timeout=30.0)  # 40 x 0.05 s = 2 s "spent" before
    assert fake.polls >= 40


def test_7_a_full_producer_queue_waits_for_room() -> None:
    fake = FakeKafkaProducer(full_for=3)
    producer, _ = producer_with(fake)
    producer.produce("t", b"x", sync=True, timeout=5.0)
    assert fake.full_for == 0 and fake.pending == []


def test_7_a_queue_full_past_the_timeout_is_a_produce_error() -> None:
    fake = FakeKafkaProducer(full_for=10**9)
    producer, _ = producer_with(fake)
    with pytest.raises(ProduceError, match="queue stayed full"):
        producer.produce("t", b"x", sync=True, timeout=0.2)


def test_6_undelivered_messages_at_a_flush_are_reported_with_their_count() -> None:
    fake = FakeKafkaProducer()
    producer, errors = producer_with(fake)
    fake.pending = [None, None]
    assert producer.flush(0.1) == 2
    assert [(e["type"], e["count"]) for e in errors] == [("producer.delivery.error", 2)]


def test_6_the_listener_flushes_the_producer_before_the_final_commit() -> None:
    listener, client, workers = fake_listener(NoopConsumer)
    order: list[str] = []
    listener.producer.flush = lambda timeout, report: order.append("flush") or 0  # type: ignore[method-assign]
    client.close = lambda timeout: order.append("close")  # type: ignore[method-assign]
    listener.shut_down()
    assert order == ["flush", "close"]
    workers._queue.close()
    assert workers.join(5)


def test_14_the_dlq_header_carries_the_consumer_group_name() -> None:
    app = App(kafka=BOOTSTRAP, client_id="orders-service")
    route = app.topic("t", Failing, dead_letter_queue=DeadLetterQueue("t.dlq", max_retries=0))
    (group,) = app.subscription_groups()
    listener = Listener(group, JobsQueue(), app.monitor, app.settings, app.producer,
                        client_factory=FakeClient)  # type: ignore[arg-type]
    groups: list[str] = []
    app.producer.dispatch = lambda message, topic, group, error: groups.append(group)  # type: ignore[method-assign]
    entry = listener.partitions.get(("t", 0))
    assert entry.executor.route is route
    Failing.raise_next = [RuntimeError("poison")]
    run_batch(entry, raws(0, 0), client=listener.client)
    assert groups == ["orders-service"]  # not the subscription group "orders-service/default"


class BlockingCommit:
    """A binding whose synchronous commit hangs like one to an unreachable coordinator."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.closed = threading.Event()

    def commit(self, asynchronous: bool) -> None:
        self.release.wait(30)

    def unsubscribe(self) -> None:
        pass

    def assignment(self) -> list[Any]:
        return []

    def close(self) -> None:
        self.closed.set()


def test_8_closing_the_client_is_bounded_while_the_coordinator_hangs() -> None:
    app = App(kafka=BOOTSTRAP)
    app.topic("t", NoopConsumer)
    (group,) = app.subscription_groups()
    client = Client(group, app.monitor)
    binding = BlockingCommit()
    client._consumer = binding
    assert client.close(0.2) is False  # gave up while the commit still hangs
    assert not binding.release.is_set() and not binding.closed.is_set()
    assert client.close(0.2) is True  # a second close does not start another
    with pytest.raises(RuntimeError, match="is closed"):  # no poll while the helper closes
        client.poll_batch(10, 0.1, lambda: False, between_slices=lambda: None)
    binding.release.set()
    assert binding.closed.wait(10)  # the helper finishes the close on its own
    assert not client.connected


class Owning:
    """A binding that stores and commits, or fails the commit with a given code."""

    def __init__(self, commit_error: int | None = None) -> None:
        self.commit_error = commit_error
        self.stored: list[Any] = []

    def store_offsets(self, offsets: list[Any]) -> None:
        self.stored.extend(offsets)

    def commit(self, asynchronous: bool) -> None:
        if self.commit_error is not None:
            from confluent_kafka import KafkaError, KafkaException

            raise KafkaException(KafkaError(self.commit_error))


def owned_partition(binding: Any, **kafka: Any) -> tuple[Any, Client, list[str]]:
    app = App(kafka={**BOOTSTRAP, **kafka})
    route = app.topic("t", NoopConsumer)
    (group,) = app.subscription_groups()
    client = Client(group, app.monitor)
    client._consumer = binding
    kinds: list[str] = []
    app.monitor.subscribe("error.occurred", lambda s, **e: kinds.append(e["type"]))
    return served(app, route, 0, client), client, kinds


def test_15_16_past_max_poll_interval_the_partition_is_not_ours() -> None:
    entry, client, _ = owned_partition(Owning(), **{"max.poll.interval.ms": 10000,
                                                    "session.timeout.ms": 6000})
    runtime = entry.context
    message = entry.executor.batch(raws(0, 0), 0.0)[0]
    assert runtime.is_revoked is False and runtime.mark_as_consumed(message, False) is True
    client._last_poll -= 11.0  # the listener has not polled for longer than allowed
    assert runtime.is_revoked is True  # librdkafka has left the group by now
    assert runtime.mark_as_consumed(message, False) is False
    assert runtime.commit_offsets(False) is False
    client._last_poll += 11.0  # it polled again (and a lost assignment came back as events)
    assert runtime.is_revoked is False


def test_15_16_a_commit_refused_for_a_lost_assignment_revokes_every_partition() -> None:
    from confluent_kafka import KafkaError

    entry, client, kinds = owned_partition(Owning(KafkaError.ILLEGAL_GENERATION))
    runtime = entry.context
    assert runtime.commit_offsets(True) is False
    assert runtime.is_revoked is True
    message = entry.executor.batch(raws(0, 0), 0.0)[0]
    assert runtime.mark_as_consumed(message, False) is False
    assert kinds == ["connection.client.commit.error"]
    client.rebalance.take()
    client._consumer.assign = lambda partitions: None
    client._consumer.resume = lambda partitions: None
    client._callbacks.assigned([], [("t", 0)])  # a new assignment: ownership is decided afresh
    assert served(App(kafka=BOOTSTRAP), entry.executor.route, 0, client).context.is_revoked \
        is False


def test_5_a_gap_right_after_a_marked_message_is_skipped_by_retry_dlq_and_events() -> None:
    app = App(kafka=BOOTSTRAP)
    events: list[tuple[str, int]] = []
    app.monitor.subscribe("error.occurred", lambda s, **e: events.append(("error", e["offset"])))
    app.monitor.subscribe("consumer.consuming.retry",
                          lambda s, **e: events.append(("retry", e["offset"])))

    class MarksThenFails(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                if message.offset == 2:
                    raise RuntimeError("poison")
                self.mark_as_consumed(message)

    route = app.topic("t", MarksThenFails,
                      dead_letter_queue=DeadLetterQueue("t.dlq", max_retries=1))
    entry = served(app, route, 0, client := FakeClient())
    dispatched: list[int] = []
    app.producer.dispatch = lambda message, *a: dispatched.append(message.offset)  # type: ignore[method-assign]
    gapped = [FakeRaw("t", 0, 0), FakeRaw("t", 0, 2)]  # offset 1 is a transaction marker
    run_batch(entry, gapped, client=client)
    assert events == [("error", 2), ("retry", 2)]  # never the missing offset 1
    assert client.positions == {("t", 0): 2}
    resume_due(entry, client, entry.state.paused_until or 0.0)
    run_batch(entry, [FakeRaw("t", 0, 2)], client=client)
    assert dispatched == [2]
    assert client.stored == {("t", 0): 3}


def test_the_listener_and_its_partitions_run_on_an_injected_clock() -> None:
    now = [1000.0]
    Failing.raise_next = [RuntimeError("once")]
    listener, client, workers = fake_listener(Failing, clock=lambda: now[0], pause_timeout=5.0)
    lags: list[float | None] = []
    listener.monitor.subscribe("consumer.consume", lambda s, **e: lags.append(
        e["messages"].metadata.processing_lag))
    client.polls.append(raws(0, 2))
    listener.iterate()  # fails: paused until 1005 on the injected clock
    assert listener.partitions.get(("t", 0)).state.paused_until == 1005.0
    listener.iterate()  # 1000 < 1005: still paused, whatever the real time is
    assert ("t", 0) in client.paused
    now[0] = 1005.0
    client.polls.append(raws(0, 2))
    listener.iterate()
    assert ("t", 0) not in client.paused and Failing.seen == [[0, 1, 2]]
    assert lags == [0.0, 0.0]  # polled and processed at the same virtual instant
    workers._queue.close()
    assert workers.join(5)


def test_16_an_async_or_automatic_commit_refused_later_is_reported_as_a_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from confluent_kafka import KafkaError, TopicPartition

    import engine.connection.client as client_module

    configs: list[dict[str, Any]] = []

    class Binding(Owning):
        def __init__(self, config: dict[str, Any]) -> None:
            super().__init__()
            configs.append(config)

        def subscribe(self, topics: list[str], **callbacks: Any) -> None:
            pass

    monkeypatch.setattr(client_module, "KafkaConsumer", Binding)
    entry, client, _ = owned_partition(Owning())
    events: list[dict[str, Any]] = []
    client.monitor.subscribe("error.occurred", lambda s, **e: events.append(e))
    client.connect()
    on_commit = configs[0]["on_commit"]  # librdkafka calls it inside a poll
    on_commit(None, [])  # a commit that went through
    on_commit(KafkaError(KafkaError._NO_OFFSET), [])  # nothing to commit
    assert events == [] and entry.context.is_revoked is False
    on_commit(KafkaError(KafkaError.ILLEGAL_GENERATION), [TopicPartition("t", 0, 5)])
    assert [(e["type"], e["sync"], e["partitions"]) for e in events] == [
        ("connection.client.commit.error", False, [("t", 0)])]
    assert entry.context.is_revoked is True  # the refusal says the assignment is gone


def test_16_a_synchronous_commit_refused_is_reported_as_a_commit() -> None:
    from confluent_kafka import KafkaError

    entry, client, _ = owned_partition(Owning(KafkaError.REBALANCE_IN_PROGRESS))
    events: list[dict[str, Any]] = []
    client.monitor.subscribe("error.occurred", lambda s, **e: events.append(e))
    assert entry.context.commit_offsets(True) is False
    assert [(e["type"], e["sync"]) for e in events] == [
        ("connection.client.commit.error", True)]
    assert entry.context.is_revoked is False  # a rebalance under way is not a loss
