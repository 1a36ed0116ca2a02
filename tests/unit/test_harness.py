"""The harness: Kafka's semantics over the engine's own code, on one thread, no broker."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from engine import App, Consumer, DeadLetterQueue, Messages
from engine.testing import Harness, HarnessError, HistoryError, Position, Stuck

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


def app_with(consume: Callable[[Consumer, Messages], None], **route: Any) -> App:
    """An app whose one topic, "orders", runs ``consume``."""
    app = App(kafka=KAFKA, client_id="shop", **route.pop("app_options", {}))

    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            consume(self, messages)

    app.topic("orders", Orders, **route)
    return app


def recording(seen: list[tuple[int, int, int]]) -> Callable[[Consumer, Messages], None]:
    def consume(consumer: Consumer, messages: Messages) -> None:
        seen.extend((m.partition, m.offset, consumer.attempt) for m in messages)
    return consume


def test_a_produced_message_is_consumed_marked_and_committed_on_stop() -> None:
    seen: list[tuple[int, int, int]] = []
    with Harness(app_with(recording(seen)), partitions={"orders": 3}) as kafka:
        message = kafka.produce("orders", {"id": 1}, key="c1")
        assert message.payload == {"id": 1} and message.key == "c1"
        assert kafka.run() == 1
        assert seen == [(message.partition, 0, 1)]
        assert kafka.consumer_for("orders", message.partition) is not None
        assert kafka.committed("orders", message.partition) is None  # not yet: auto-commit
        kafka.stop()
        assert kafka.committed("orders", message.partition) == 1
        kafka.history.check()


def test_keys_go_where_librdkafka_puts_them_and_unkeyed_round_robin() -> None:
    with Harness(app_with(recording([])), partitions=5) as kafka:
        for key in ["a", "customer-17", "ü", "x" * 40]:
            expected = zlib.crc32(key.encode()) % 5
            assert kafka.partition_for("orders", key) == expected
            assert kafka.produce("orders", 1, key=key).partition == expected
        assert kafka.partition_for("orders", "") is None
        assert [kafka.produce("orders", i).partition for i in range(6)] == [0, 1, 2, 3, 4, 0]
        assert kafka.produce("orders", 1, partition=3).partition == 3


def test_a_poll_takes_at_most_max_messages_across_partitions_and_a_limit() -> None:
    app = app_with(recording([]), app_options={"max_messages": 4})
    with Harness(app, partitions={"orders": 2}) as kafka:
        for i in range(10):
            kafka.produce("orders", i, partition=i % 2)
        first = kafka.poll()
        assert sum(len(batch) for batch in first) == 4
        limited = kafka.poll(limit=1)
        assert [len(batch) for batch in limited] == [1]
        kafka.run()
        assert sorted(kafka.history.processed()) == [
            Position("orders", p, o) for p in range(2) for o in range(5)]


def test_a_failure_is_retried_with_growing_back_off_on_the_virtual_clock() -> None:
    attempts: list[tuple[int, float]] = []
    clock: list[Harness] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        attempts.append((consumer.attempt, clock[0].clock.now()))
        if consumer.attempt < 4:
            raise ValueError("not yet")

    with Harness(app_with(consume)) as kafka:
        clock.append(kafka)
        kafka.produce("orders", 1)
        kafka.run()
        assert [attempt for attempt, _ in attempts] == [1, 2, 3, 4]
        gaps = [later - earlier for (_, earlier), (_, later) in itertools.pairwise(attempts)]
        assert gaps == [1.0, 2.0, 4.0]  # pause_timeout * 2**(attempt-1)
        retries = kafka.events.named("consumer.consuming.retry")
        assert [event.payload["timeout"] for event in retries] == [1.0, 2.0, 4.0]
        assert [e.payload["type"] for e in kafka.events.named("error.occurred")] == [
            "consumer.consume.error"] * 3


def test_an_always_failing_consumer_is_stuck_and_named() -> None:
    def consume(consumer: Consumer, messages: Messages) -> None:
        raise RuntimeError("broken")

    with Harness(app_with(consume), partitions={"orders": 2}) as kafka:
        kafka.produce("orders", 1, partition=1)
        with pytest.raises(Stuck) as stuck:
            kafka.run(max_polls=50)
        assert stuck.value.polls == 50
        assert len(stuck.value.partitions) == 1
        assert "orders/1" in stuck.value.partitions[0]
        assert "RuntimeError('broken')" in stuck.value.partitions[0]


def test_the_dead_letter_queue_gets_the_message_with_its_source_headers() -> None:
    def consume(consumer: Consumer, messages: Messages) -> None:
        for message in messages:
            if message.payload == "poison":
                raise ValueError("poison")
            consumer.mark_as_consumed(message)

    app = app_with(consume, dead_letter_queue=DeadLetterQueue("orders.dlq", max_retries=2))
    with Harness(app) as kafka:
        kafka.produce("orders", "ok")
        kafka.produce("orders", "poison", key="k", headers={"trace": b"t1"})
        kafka.produce("orders", "after")
        kafka.run()
        (dead,) = kafka.topic("orders.dlq")
        assert dead.payload == "poison" and dead.raw_key == b"k"
        headers = dead.headers
        assert headers["trace"] == b"t1"
        assert headers["source_topic"] == b"orders" and headers["source_offset"] == b"1"
        assert headers["source_consumer_group"] == b"shop"
        kafka.stop()
        assert kafka.committed("orders", 0) == 3
        kafka.history.check()  # the dead-lettered message counts as processed


def test_a_manual_pause_and_seek_run_on_the_virtual_clock() -> None:
    seen: list[int] = []
    state = {"sought": False}

    def consume(consumer: Consumer, messages: Messages) -> None:
        for message in messages:
            seen.append(message.offset)
        if not state["sought"] and messages.last().offset >= 3:  # type: ignore[union-attr]
            state["sought"] = True
            consumer.seek(1)
            consumer.pause(offset=1, timeout=10.0)

    with Harness(app_with(consume)) as kafka:
        for i in range(4):
            kafka.produce("orders", i)
        kafka.run()
        assert seen == [0, 1, 2, 3, 1, 2, 3]
        assert kafka.clock.now() >= 10.0
        assert kafka.history.reordered() == []  # a seek in between is not a reorder


def test_manual_offset_management_commits_only_what_was_marked() -> None:
    def consume(consumer: Consumer, messages: Messages) -> None:
        for message in messages:
            if message.offset < 2:
                consumer.mark_as_consumed(message)

    app = app_with(consume, manual_offset_management=True)
    with Harness(app) as kafka:
        for i in range(5):
            kafka.produce("orders", i)
        kafka.run()
        kafka.stop()
        assert kafka.committed("orders", 0) == 2


def test_a_revocation_runs_the_hook_commits_and_a_new_instance_takes_over() -> None:
    log: list[str] = []

    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            log.append(f"consume {id(self)}")

        def revoked(self) -> None:
            log.append(f"revoked {id(self)}")

    app = App(kafka=KAFKA, client_id="shop")
    app.topic("orders", Orders)
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        first = kafka.consumer_for("orders", 0)
        kafka.revoke("orders", 0)
        assert log[-1] == f"revoked {id(first)}"
        assert kafka.committed("orders", 0) == 1  # committed on revocation
        assert kafka.consumer_for("orders", 0) is None
        with pytest.raises(HarnessError, match="not assigned"):
            kafka.revoke("orders", 0)
        kafka.assign("orders", 0)
        kafka.produce("orders", 2)
        kafka.run()
        assert kafka.consumer_for("orders", 0) is not first
        kafka.rebalance()
        assert [entry.split()[0] for entry in log] == [
            "consume", "revoked", "consume", "revoked"]


def test_a_lost_partition_is_not_committed() -> None:
    with Harness(app_with(recording([]))) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        kafka.revoke("orders", 0, lost=True)
        assert kafka.committed("orders", 0) is None
        kafka.assign("orders", 0)
        kafka.run()
        assert kafka.history.duplicates() == [Position("orders", 0, 0)]


def test_auto_commit_fires_every_interval_of_virtual_time() -> None:
    app = App(kafka={**KAFKA, "auto.commit.interval.ms": 2000}, client_id="shop")
    app.topic("orders", type("Orders", (Consumer,), {"consume": lambda self, m: None}))
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        kafka.poll()
        assert kafka.committed("orders", 0) is None
        kafka.clock.advance(2.0)
        kafka.poll()
        assert kafka.committed("orders", 0) == 1


def test_a_crash_loses_what_was_not_committed_and_skips_every_hook() -> None:
    hooks: list[str] = []

    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            hooks.extend(f"consume {m.offset}" for m in messages)

        def shutdown(self) -> None:
            hooks.append("shutdown")

        def revoked(self) -> None:
            hooks.append("revoked")

    app = App(kafka=KAFKA, client_id="shop")
    app.topic("orders", Orders)
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        kafka.crash()
        assert kafka.committed("orders", 0) is None
        kafka.run()
        assert hooks == ["consume 0", "consume 0"]
        kafka.history.check()


def test_crash_after_k_dies_mid_batch_once_k_messages_were_taken() -> None:
    effects: list[int] = []
    cleanups: list[str] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        try:
            for message in messages:
                effects.append(message.offset)
                consumer.mark_as_consumed(message, sync=message.offset == 0)
        finally:
            cleanups.append("finally")

    with Harness(app_with(consume, manual_offset_management=True)) as kafka:
        for i in range(5):
            kafka.produce("orders", i)
        kafka.crash(after=2)
        batches = kafka.poll()
        assert [len(batch) for batch in batches] == [5]
        assert effects == [0, 1]  # the third take killed it
        assert cleanups == ["finally"]  # finally blocks still run
        assert kafka.committed("orders", 0) == 1  # only what it committed itself
        assert not kafka.events.named("error.occurred")  # a dead process reports nothing
        kafka.run()
        assert effects == [0, 1, 1, 2, 3, 4]
        kafka.history.check()


def test_a_batch_shorter_than_k_crashes_as_consume_returns() -> None:
    effects: list[int] = []
    with Harness(app_with(lambda c, ms: effects.extend(m.offset for m in ms))) as kafka:
        kafka.produce("orders", 1)
        kafka.crash(after=3)
        kafka.poll()
        assert effects == [0]
        assert kafka.history.deliveries[0].outcome == "crashed"
        kafka.run()
        assert effects == [0, 0]


def test_stop_then_start_runs_shutdown_hooks_and_fresh_consumers() -> None:
    with Harness(app_with(recording([]))) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        before = kafka.consumer_for("orders", 0)
        kafka.stop()
        assert kafka.state == "stopped"
        assert "consumer.shutdown" in kafka.events.names()
        with pytest.raises(HarnessError, match=r"call kafka\.start"):
            kafka.poll()
        kafka.produce("orders", 2)  # producing works while stopped
        kafka.start()
        kafka.run()
        assert kafka.consumer_for("orders", 0) is not before
        assert kafka.history.duplicates() == []
    with pytest.raises(HarnessError, match="closed"):
        kafka.produce("orders", 3)


def test_what_consumers_produce_lands_in_harness_topics() -> None:
    def consume(consumer: Consumer, messages: Messages) -> None:
        for message in messages:
            consumer.produce_sync("receipts", {"for": message.offset}, key="r")
            consumer.produce("audit", "seen")

    with Harness(app_with(consume), partitions={"receipts": 2, "audit": 1}) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        assert [m.payload for m in kafka.topic("receipts")] == [{"for": 0}]
        assert kafka.topic("receipts")[0].partition == kafka.partition_for("receipts", "r")
        assert [m.raw_payload for m in kafka.topic("audit")] == [b"seen"]  # text: UTF-8


def test_producing_to_an_unknown_topic_names_the_routed_ones() -> None:
    def consume(consumer: Consumer, messages: Messages) -> None:
        consumer.produce_sync("nowhere", 1)

    with Harness(app_with(consume)) as kafka:
        with pytest.raises(HarnessError, match=r"'nowhere' is neither routed nor created"
                                               r" \(routed topics: orders\)"):
            kafka.produce("nowhere", 1)
        with pytest.raises(HarnessError, match=r"partition 3 is out of range: topic 'orders'"
                                               r" has 1 partition"):
            kafka.produce("orders", 1, partition=3)
        kafka.produce("orders", 1)
        with pytest.raises(Stuck):
            kafka.run(max_polls=5)
        (error,) = {str(e.payload["error"]) for e in kafka.events.named("error.occurred")}
        assert "kafka.create_topic('nowhere'" in error


def test_a_deserialization_failure_is_reported_and_retried() -> None:
    with Harness(app_with(lambda c, ms: [m.payload for m in ms])) as kafka:
        kafka.produce("orders", b"{not json")
        with pytest.raises(Stuck):
            kafka.run(max_polls=3)
        types = {e.payload["type"] for e in kafka.events.named("error.occurred")}
        assert types == {"consumer.deserialize.error"}


def test_events_are_the_real_ones_without_the_apps_own() -> None:
    seen: list[str] = []
    app = app_with(recording([]))
    app.monitor.subscribe("consumer.consumed", lambda sender, **event: seen.append("plugin"))
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        names = kafka.events.names()
        assert not [name for name in names if name.startswith("app.")]
        # as a real listener: the fetch loop begins, then its first poll brings the assignment
        assert names[:5] == ["connection.listener.pending", "connection.listener.starting",
                             "connection.listener.running", "connection.listener.before_fetch_loop",
                             "rebalance.partitions_assigned"]
        assert len(kafka.events.named("consumer.consumed")) == 1
        assert seen == ["plugin"]  # plugins on the app see the same events
    app.monitor.instrument("consumer.consumed", None)
    assert len(kafka.events.named("consumer.consumed")) == 1  # closed: no longer recording


def test_history_flags_a_commit_past_what_was_taken() -> None:
    def consume(consumer: Consumer, messages: Messages) -> None:
        consumer.mark_as_consumed(messages.last(), sync=True)  # type: ignore[arg-type]
        raise ValueError("after marking what it never read")

    with Harness(app_with(consume, manual_offset_management=True)) as kafka:
        for i in range(3):
            kafka.produce("orders", i)
        kafka.poll()
        assert kafka.history.committed_beyond_processed() == [
            Position("orders", 0, 0), Position("orders", 0, 1)]
        with pytest.raises(HistoryError, match="committed_beyond_processed: orders/0@0"):
            kafka.history.check(include_lost=False)


def test_history_flags_what_a_seek_past_skipped_as_lost() -> None:
    def consume(consumer: Consumer, messages: Messages) -> None:
        list(messages)  # its batch processed (a batch never read is lost too)
        consumer.seek("latest")

    with Harness(app_with(consume)) as kafka:
        for i in range(3):
            kafka.produce("orders", i)
        kafka.poll(limit=1)
        kafka.run()
        assert kafka.history.lost() == [Position("orders", 0, 1), Position("orders", 0, 2)]


def test_latest_starts_at_the_end_and_a_restart_without_commit_loses_what_came() -> None:
    app = App(kafka=KAFKA, client_id="shop")
    app.topic("orders", type("O", (Consumer,), {"consume": lambda self, m: None}),
              initial_offset="latest")
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        assert kafka.history.deliveries[0].offset == 0  # opened before: offset 0 is after
    app2 = App(kafka=KAFKA, client_id="shop")
    app2.topic("orders", type("O", (Consumer,), {"consume": lambda self, m: None}),
               initial_offset="latest")
    with Harness(app2) as kafka:
        kafka.produce("orders", 1)
        kafka.stop()
        kafka.start()  # nothing committed yet: the restart starts at the end again
        kafka.run()
        assert len(kafka.history) == 0
        assert kafka.history.lost() == [Position("orders", 0, 0)]  # as in Kafka: say so


def test_several_consumer_groups_keep_their_own_commits() -> None:
    app = App(kafka=KAFKA, client_id="shop")
    quiet = type("Q", (Consumer,), {"consume": lambda self, m: None})
    app.topic("orders", quiet)
    app.consumer_group("analytics").topic("orders", quiet)
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        with pytest.raises(HarnessError, match="several consumer groups"):
            kafka.committed("orders", 0)
        kafka.revoke("orders", 0, group="analytics")
        assert kafka.committed("orders", 0, group="analytics") == 1
        assert kafka.committed("orders", 0, group="shop") is None


def test_eof_runs_the_eofed_hook_after_the_batch() -> None:
    log: list[str] = []

    class Orders(Consumer):
        def consume(self, messages: Messages) -> None:
            log.append("consume")

        def eofed(self) -> None:
            log.append("eofed")

    app = App(kafka={**KAFKA, "enable.partition.eof": True}, client_id="shop")
    app.topic("orders", Orders)
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        assert log == ["consume", "eofed"]


def test_batch_lags_run_on_the_virtual_clock() -> None:
    lags: list[tuple[float | None, float | None]] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        lags.append((messages.metadata.consumption_lag, messages.metadata.processing_lag))

    with Harness(app_with(consume)) as kafka:
        kafka.produce("orders", 1)
        kafka.clock.advance(42.0)
        kafka.run()
    ((consumption, processing),) = lags
    assert consumption == pytest.approx(42.0, abs=0.01)
    assert processing == 0.0


def test_bad_settings_are_refused_by_librdkafka_as_in_a_real_run() -> None:
    from engine import ConfigError

    app = App(kafka={**KAFKA, "fetch.min.bytes": "many"}, client_id="shop")
    app.topic("orders", type("O", (Consumer,), {"consume": lambda self, m: None}))
    with pytest.raises(ConfigError, match=r"fetch\.min\.bytes"):
        Harness(app)


def test_a_long_running_job_holds_its_partition_and_resumes_after_it() -> None:
    seen: list[tuple[int, int]] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        seen.extend((m.offset, consumer.attempt) for m in messages)
        if consumer.attempt == 1 and messages.first().offset == 0:  # type: ignore[union-attr]
            raise ValueError("first try fails")

    with Harness(app_with(consume, long_running_job=True)) as kafka:
        for i in range(3):
            kafka.produce("orders", i)
        kafka.run()
        kafka.stop()
        assert seen == [(0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (2, 2)]
        assert kafka.committed("orders", 0) == 3
        assert [e.payload["job"].kind for e in kafka.events.named("worker.process")] == [
            "consume", "consume", "shutdown"]
        kafka.history.check()


def test_a_long_job_that_seeks_forward_then_marks_earlier_goes_on_from_its_seek() -> None:
    seen: list[list[int]] = []

    def consume(consumer: Consumer, messages: Messages) -> None:
        seen.append([m.offset for m in messages])
        if messages[0].offset == 0:
            consumer.seek(6)
            consumer.mark_as_consumed(messages[0])  # earlier than the seek: stores 1

    app = app_with(consume, long_running_job=True, app_options={"max_messages": 3})
    with Harness(app) as kafka:
        for i in range(9):
            kafka.produce("orders", i)
        kafka.run(max_polls=20)
        assert seen == [[0, 1, 2], [6, 7, 8]]  # not sought back to 1 by the release
        kafka.stop()
        assert kafka.committed("orders", 0) == 9


def test_declared_partitions_size_the_in_memory_topics_unless_given() -> None:
    app = app_with(recording([]), config={"partitions": 4},
                   dead_letter_queue=DeadLetterQueue("orders-dlq"))
    app.topic("plain", app.routes.consumer_groups[0].topics[0].consumer_class)
    app.declare_topic("audit", config={"partitions": 3})
    with Harness(app) as kafka:
        counts = {name: kafka.partition_count(name)
                  for name in ("orders", "orders-dlq", "plain", "audit")}
        assert counts == {"orders": 4, "orders-dlq": 4, "plain": 1, "audit": 3}
    with Harness(app, partitions={"orders": 2}) as kafka:
        assert kafka.partition_count("orders") == 2
    with Harness(app, partitions=6) as kafka:
        assert (kafka.partition_count("orders"), kafka.partition_count("audit")) == (6, 3)
