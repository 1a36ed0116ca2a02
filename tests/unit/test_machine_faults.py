"""ConsumerMachine's fault rules: picked by ``faults``, never idle, printed so they replay."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness
from engine.testing.schedule import Step, keeps_fresh, refreshes, replay, step

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}
BUDGET = settings(max_examples=60, deadline=None, database=None, derandomize=True)


def reader_app() -> App:
    """Reads and marks; never produces."""
    app = App(kafka=KAFKA, client_id="reader", max_messages=5)

    class Reads(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                self.mark_as_consumed(message)

    app.topic("orders", Reads)
    return app


def copier_app() -> App:
    """Copies each message, then marks it with a commit: correct under every fault."""
    app = App(kafka=KAFKA, client_id="copier", max_messages=5)

    class Copies(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                self.produce_sync("copies", message.payload)
                self.mark_as_consumed(message, sync=True)

    app.topic("orders", Copies)
    app.declare_topic("copies")
    return app


class Recording(ConsumerMachine):
    """Keeps every example's schedule; checks each partition is back at the end."""

    app = copier_app
    topic = "orders"
    partitions = 2
    seen: ClassVar[list[list[Any]]] = []

    def check_at_end(self, kafka: Harness) -> None:
        assert all(kafka.assigned("orders", p) for p in range(2)), self.schedule

    def teardown(self) -> None:
        type(self).seen.append(list(self.schedule))
        super().teardown()


def schedules(machine: type[Recording]) -> list[list[Any]]:
    machine.seen = []
    run_state_machine_as_test(machine, settings=BUDGET)
    return machine.seen


def names(schedule: list[Any]) -> list[str]:
    return [f"{each.name}:{dict(each.kwargs).get('at', '')}" for each in schedule
            if isinstance(each, Step)]


def test_by_default_every_fault_is_drawn_and_a_correct_copier_passes() -> None:
    drawn = {name for schedule in schedules(Recording) for name in names(schedule)}
    assert {"crash:produce", "crash:commit", "fail_produce:", "lose:", "assign:"} <= drawn


def test_faults_picks_what_is_drawn() -> None:
    class SigkillOnly(Recording):
        faults = ("crash",)
        revokes = False  # the group's revokes assign back too

    drawn = {name for schedule in schedules(SigkillOnly) for name in names(schedule)}
    assert "crash:" in drawn
    assert not drawn & {"crash:produce", "crash:commit", "fail_produce:", "lose:", "assign:"}


def test_produce_faults_are_skipped_for_an_app_that_never_produces() -> None:
    class Reader(Recording):
        app = reader_app

    drawn = {name for schedule in schedules(Reader) for name in names(schedule)}
    assert "lose:" in drawn
    assert not drawn & {"crash:produce", "fail_produce:"}


def test_no_two_crashes_wait_at_once_and_no_lose_on_fresh_consumers() -> None:
    for schedule in schedules(Recording):
        armed, fresh = False, True
        for each in (s for s in schedule if isinstance(s, Step)):
            assert each.name != "lose" or not fresh, schedule
            fresh = refreshes(each) or (fresh and keeps_fresh(each))
            if each.name == "crash" and dict(each.kwargs).get("at"):
                assert not armed, schedule  # a second one would make the first a no-op
                armed = True
            elif each.name in ("crash", "poll", "run", "restart", "rebalance"):
                armed = False  # it may have fired, or another crash replaced it


@pytest.mark.parametrize("faults", [("crash", "nope"), "crash", (1,)])
def test_an_unknown_fault_fails_at_class_creation(faults: Any) -> None:
    with pytest.raises(TypeError, match="faults"):
        type("Bad", (ConsumerMachine,), {"app": reader_app, "topic": "orders",
                                         "faults": faults})


def test_the_new_steps_print_as_calls_and_replay() -> None:
    steps = [step("produce", "orders", 1), step("poll"),
             step("crash", after=None, at="produce"), step("fail_produce", 2, timeout=True),
             step("lose", "orders", 0), step("assign", "orders", 0), step("run")]
    assert [str(each) for each in steps[2:6]] == [
        "kafka.crash(at='produce')", "kafka.fail_produce(2, timeout=True)",
        "kafka.lose('orders', 0)", "kafka.assign('orders', 0)"]
    with Harness(copier_app()) as kafka:
        replay(kafka, steps)
        assert kafka.faults.failures_armed == 2 and kafka.assigned("orders", 0)
        kafka.produce("orders", 2)
        kafka.run()
        # the crash at the copy of 2, then two failed copies retried, then the copy
        assert [m.payload for m in kafka.topic("copies")] == [1, 2]
        assert kafka.history.crashes == 1 and kafka.faults.failures_armed == 0
        assert kafka.committed("orders", 0) == 2


def test_a_crash_in_the_final_stop_is_followed_by_a_restart_before_the_checks() -> None:
    from tests.patterns.test_batching_sink import FlushingSinkMachine

    machine = FlushingSinkMachine()  # buffers, writes and marks in shutdown (end = "stop")
    kafka = machine.kafka
    kafka.join()  # two members: the first one's final commit dies before the second flushes
    kafka.produce("events", 1, partition=0)
    kafka.produce("events", 2, partition=1)
    kafka.poll()
    kafka.crash(at="commit")
    machine.teardown()  # before: ScheduleError, events/1@0 lost (it was only uncommitted)
    assert kafka.history.crashes == 1
    assert set(kafka.app.store) == {(0, 0), (1, 0)}  # type: ignore[attr-defined]
