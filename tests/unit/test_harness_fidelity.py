"""The harness as faithful as a broker: fixed time, ``.raw`` taken, background commits, Stuck."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, Messages
from engine.processing.backoff import Backoff
from engine.testing import EPOCH, ConsumerMachine, Harness, HarnessError, Position, Stuck
from engine.testing.machine import ScheduleError
from tests.unit.test_consumer_machine import pasted
from tests.unit.test_harness import app_with

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


# -- time: a fixed epoch -----------------------------------------------------------------------

def test_the_wall_clock_starts_at_the_fixed_epoch_and_moves_with_virtual_time() -> None:
    with Harness(app_with(lambda c, ms: None)) as kafka:
        assert kafka.produce("orders", 1).timestamp == EPOCH == datetime(2026, 1, 1,
                                                                          tzinfo=timezone.utc)
        kafka.clock.advance(90)
        assert kafka.produce("orders", 2).timestamp == EPOCH + timedelta(seconds=90)


def test_epoch_takes_an_aware_datetime_or_seconds_and_refuses_a_naive_one() -> None:
    moment = datetime(2030, 6, 1, 12, tzinfo=timezone.utc)
    with Harness(app_with(lambda c, ms: None), epoch=moment) as kafka:
        assert kafka.produce("orders", 1).timestamp == moment
    with Harness(app_with(lambda c, ms: None), epoch=moment.timestamp()) as kafka:
        assert kafka.produce("orders", 1).timestamp == moment
    with pytest.raises(HarnessError, match="needs a timezone"):
        Harness(app_with(lambda c, ms: None), epoch=datetime(2030, 6, 1))


def test_what_a_consumer_produces_is_stamped_by_the_virtual_wall_clock() -> None:
    def forward(consumer: Consumer, messages: Messages) -> None:
        for message in messages:
            consumer.produce("copies", message.payload)

    with Harness(app_with(forward), partitions={"copies": 1}) as kafka:
        kafka.clock.advance(30)
        kafka.produce("orders", 1)
        kafka.run()
        assert [m.timestamp for m in kafka.topic("copies")] == [EPOCH + timedelta(seconds=30)]


def windows_app() -> App:
    """Counts messages per minute window of their timestamps (a time-bucketing consumer)."""
    app = App(kafka=KAFKA, client_id="windows")
    windows: dict[datetime, set[int]] = {}

    class Windows(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                stamp = message.timestamp
                assert stamp is not None
                windows.setdefault(stamp.replace(second=0, microsecond=0), set()).add(
                    message.offset)

    app.topic("events", Windows)
    app.windows = windows  # type: ignore[attr-defined]
    return app


class WindowsMachine(ConsumerMachine):
    app = windows_app
    topic = "events"

    def check_at_end(self, kafka: Harness) -> None:
        last = EPOCH + timedelta(seconds=kafka.clock.now())
        windows = kafka.app.windows  # type: ignore[attr-defined]
        assert all(EPOCH <= window <= last for window in windows), sorted(windows)


def test_a_time_bucketing_consumer_sees_the_same_windows_on_every_run() -> None:
    run_state_machine_as_test(WindowsMachine,
                              settings=settings(max_examples=20, deadline=None, database=None))


# -- a machine's epoch and drawn timestamps ----------------------------------------------------

LATER = datetime(2031, 3, 1, 8, 30, tzinfo=timezone.utc)


def test_a_machine_starts_its_harness_at_its_epoch() -> None:
    class Later(WindowsMachine):
        epoch = LATER

    machine = Later()  # outside hypothesis: a plain harness
    with machine.kafka as kafka:
        assert kafka.produce("events", 1).timestamp == LATER
    assert WindowsMachine.epoch == EPOCH


def test_a_bad_epoch_or_timestamps_fails_at_class_creation_naming_the_attribute() -> None:
    base = {"app": windows_app, "topic": "events"}
    with pytest.raises(TypeError, match=r"Naive.epoch: epoch .* needs a timezone"):
        type("Naive", (ConsumerMachine,), {**base, "epoch": datetime(2030, 1, 1)})
    with pytest.raises(TypeError, match=r"Text.epoch: epoch takes a timezone-aware datetime"):
        type("Text", (ConsumerMachine,), {**base, "epoch": "2030-01-01"})
    with pytest.raises(TypeError, match=r"Listed.timestamps must be None .* or a hypothesis"):
        type("Listed", (ConsumerMachine,), {**base, "timestamps": [1, 2]})


class Stamps(ConsumerMachine):
    """Every produced message must carry a timestamp its ``timestamps`` allows."""

    app = windows_app
    topic = "events"
    values = st.integers(0, 9)
    epoch = LATER
    low, high = LATER - timedelta(hours=1), LATER + timedelta(hours=1)
    # only the steps these tests are about: no fault or group step dilutes the produces
    faults = ()
    revokes = False
    max_members = 1

    def check(self, kafka: Harness) -> None:
        for message in kafka.topic("events"):
            assert message.timestamp is not None
            assert self.low <= message.timestamp <= self.high, message.timestamp


@pytest.mark.parametrize("drawn", [
    st.integers(-3600, 3600),
    st.floats(-3600, 3600),
    st.timedeltas(timedelta(hours=-1), timedelta(hours=1)),
    st.datetimes(LATER.replace(tzinfo=None) - timedelta(hours=1),
                 LATER.replace(tzinfo=None) + timedelta(hours=1), timezones=st.just(timezone.utc)),
], ids=["seconds", "float-seconds", "timedeltas", "datetimes"])
def test_drawn_timestamps_are_offsets_from_the_epoch_or_datetimes(drawn: st.SearchStrategy
                                                                  ) -> None:
    machine = type("Drawn", (Stamps,), {"timestamps": drawn})
    run_state_machine_as_test(machine, settings=settings(max_examples=15, deadline=None,
                                                        database=None))


def test_a_drawn_timestamp_of_another_kind_is_a_clear_error() -> None:
    machine = type("Naive", (Stamps,), {"timestamps": st.just(datetime(2030, 1, 1))})
    with pytest.raises(TypeError, match=r"Naive.timestamps drew datetime.datetime\(2030"):
        run_state_machine_as_test(machine, settings=settings(
            max_examples=100, deadline=None, database=None, derandomize=True))


class LateMessages(Stamps):
    """Fails once a message is stamped more than 30 minutes after the epoch."""

    timestamps = st.integers(-3600, 3600)
    high = LATER + timedelta(minutes=30)
    shrink_budget = 50


def test_a_failure_that_needs_a_drawn_timestamp_prints_it_and_the_pasted_test_fails_again(
) -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(LateMessages, settings=settings(
            max_examples=100, deadline=None, database=None, derandomize=True))
    text = str(failure.value)
    assert "timestamp=datetime.datetime(2031, 3, 1, " in text, text
    assert "def test_replay():\n    import datetime\n" in text, text
    with pytest.raises(AssertionError):
        pasted(failure.value, LateMessages=LateMessages)()


# -- messages.raw counts as taking -------------------------------------------------------------

def raw_handler(handled: list[int]) -> Callable[[Consumer, Messages], None]:
    """Handles every message through ``messages.raw``, then commits the batch synchronously."""
    def consume(consumer: Consumer, messages: Messages) -> None:
        for raw in messages.raw:
            handled.append(raw.offset())
        consumer.mark_as_consumed(messages.last(), sync=True)  # type: ignore[arg-type]
    return consume


def test_processing_through_raw_then_a_sync_mark_is_not_committed_beyond_processed() -> None:
    handled: list[int] = []
    with Harness(app_with(raw_handler(handled), manual_offset_management=True)) as kafka:
        for i in range(3):
            kafka.produce("orders", i)
        kafka.run()
        assert handled == [0, 1, 2] and kafka.committed("orders", 0) == 3
        assert kafka.history.committed_beyond_processed() == []
        kafka.history.check()


def test_crash_after_k_counts_what_is_read_through_raw_indexes_and_slices() -> None:
    handled: list[int] = []
    with Harness(app_with(raw_handler(handled), manual_offset_management=True)) as kafka:
        for i in range(5):
            kafka.produce("orders", i)
        kafka.crash(after=2)
        kafka.poll()
        assert handled == [0, 1]  # the third message read through .raw killed it
        assert kafka.history.deliveries[0].outcome == "crashed"

    def by_index(consumer: Consumer, messages: Messages) -> None:
        handled.extend(raw.offset() for raw in messages.raw[:1])
        handled.append(messages.raw[-1].offset())

    handled.clear()
    with Harness(app_with(by_index)) as kafka:
        for i in range(3):
            kafka.produce("orders", i)
        kafka.crash(after=1)
        kafka.poll()
        assert handled == [0]  # the slice took one, the index a second: dead


def test_event_receivers_reading_raw_take_nothing() -> None:
    app = app_with(lambda consumer, messages: None)
    peeked: list[int] = []
    app.monitor.subscribe("consumer.consume", lambda sender, **event: peeked.extend(
        raw.offset() for raw in event["messages"].raw))
    with Harness(app) as kafka:
        for i in range(3):
            kafka.produce("orders", i)
        kafka.crash(after=0)
        kafka.poll()
        assert peeked == [0, 1, 2]  # a plugin reading the batch did not die for the consumer
        assert kafka.history.deliveries[0].outcome == "crashed"


# -- auto-commit runs in the background --------------------------------------------------------

def test_auto_commit_fires_when_the_clock_moves_without_a_poll() -> None:
    handled: list[int] = []
    with Harness(app_with(lambda c, ms: handled.extend(m.offset for m in ms))) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        assert kafka.committed("orders", 0) is None
        kafka.clock.advance(6)  # past auto.commit.interval.ms (5 s) with no poll
        assert kafka.committed("orders", 0) == 1
        kafka.crash()
        kafka.run()
        assert handled == [0]  # nothing redelivered: a broker had it committed too
        assert kafka.history.duplicates() == []
        kafka.history.check()


def test_the_auto_commit_timer_keeps_its_beat_and_ends_with_the_client() -> None:
    with Harness(app_with(lambda c, ms: None)) as kafka:
        kafka.produce("orders", 1)
        kafka.clock.advance(4)
        kafka.poll()
        kafka.clock.advance(0.5)  # 4.5 s: before the first beat (5 s)
        assert kafka.committed("orders", 0) is None
        kafka.clock.advance(0.5)
        assert kafka.committed("orders", 0) == 1
        kafka.stop()
        kafka.clock.advance(60)  # a closed client's timer is gone; nothing to commit, no error
        assert kafka.committed("orders", 0) == 1


def test_without_auto_commit_the_clock_commits_nothing() -> None:
    app = App(kafka={**KAFKA, "enable.auto.commit": False}, client_id="shop")
    app.topic("orders", type("Orders", (Consumer,), {"consume": lambda self, m: None}))
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        kafka.clock.advance(60)
        assert kafka.committed("orders", 0) is None


# -- run() never returns with work left --------------------------------------------------------

def always_failing(consumer: Consumer, messages: Messages) -> None:
    raise RuntimeError("broken")


def test_an_always_failing_consumer_is_stuck_with_the_default_budget() -> None:
    with Harness(app_with(always_failing)) as kafka:
        kafka.produce("orders", 1)
        with pytest.raises(Stuck) as stuck:
            kafka.run()
        assert stuck.value.polls == 10_000 and not stuck.value.passed_over
        assert kafka.history.lost() == [Position("orders", 0, 0)]  # still there, not skipped


def test_run_refuses_to_call_idle_a_partition_fetched_past_a_failure(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_after(self: Backoff, attempt: int) -> float:
        if attempt >= 3:  # the engine gives up on the partition, as an overflow once made it
            raise OverflowError("(34, 'Numerical result out of range')")
        return 1.0

    monkeypatch.setattr(Backoff, "after", broken_after)
    with Harness(app_with(always_failing)) as kafka:
        kafka.produce("orders", 1)
        with pytest.raises(Stuck, match="passed over") as stuck:
            kafka.run()
        assert stuck.value.passed_over
        assert "orders/0 (shop): fetching at 1, past failed offset(s) 0" in str(stuck.value)
