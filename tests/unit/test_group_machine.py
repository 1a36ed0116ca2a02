"""ConsumerMachine's group rules: partial and lost revokes, members joining, leaving, dying."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness, ScheduleError
from tests.unit.test_consumer_machine import CarelessMachine, pasted

KAFKA = {"bootstrap.servers": "127.0.0.1:1", "partition.assignment.strategy": "cooperative-sticky"}
EXAMPLES = settings(max_examples=60, deadline=None, database=None, derandomize=True)


def plain_app() -> App:
    class Plain(Consumer):
        def consume(self, messages: Messages) -> None:
            for _ in messages:
                pass

    app = App(kafka=KAFKA, client_id="plain")
    app.topic("orders", Plain)
    return app


class WatchedMachine(ConsumerMachine):
    """A correct consumer; what the group rules did is kept for the test to look at."""

    app = plain_app
    topic = "orders"
    partitions = 3
    values = st.integers(0, 9)
    faults = ()  # the group's rules are what this machine watches
    steps: ClassVar[list[str]] = []
    partial: ClassVar[list[bool]] = []

    def check(self, kafka: Harness) -> None:
        owned = sum(map(len, kafka.assignment("orders").values()))
        if 0 < owned < self.partitions:
            self.partial.append(True)  # some partitions revoked, the rest still assigned

    def teardown(self) -> None:
        self.steps.extend(str(each) for each in self.schedule)
        super().teardown()


def test_the_machine_draws_partial_and_lost_revokes_and_members_and_passes_a_correct_consumer(
) -> None:
    WatchedMachine.steps.clear()
    run_state_machine_as_test(WatchedMachine, settings=EXAMPLES)
    steps = WatchedMachine.steps
    assert any(s.startswith("kafka.revoke(") and "lost=True" in s for s in steps), steps
    assert any(s.startswith("kafka.revoke(") and "lost" not in s for s in steps), steps
    assert WatchedMachine.partial, "no revoke left other partitions assigned"
    for call in ("kafka.assign(", "kafka.join()", "kafka.leave(member=", "kafka.crash(member="):
        assert any(s.startswith(call) for s in steps), (call, steps)


def test_join_and_leave_are_left_out_where_they_would_change_nothing() -> None:
    machine = WatchedMachine()  # outside hypothesis: every step runs
    try:
        machine.join()          # nothing polled yet
        machine.run()
        machine.join()
        machine.join()          # the group is full (max_members = 2)
    finally:
        machine.kafka.close()
    assert [str(each) for each in machine.schedule] == ["kafka.run()", "kafka.join()"]


def sink_app(flush_on_revoke: bool) -> App:
    """A sink acking what it buffered (a buffer is as good as written, it thinks): it writes
    every three messages and in ``shutdown``; the correct one also in ``revoked``."""
    written: list[int] = []

    class Sink(Consumer):
        def initialized(self) -> None:
            self.buffer: list[int] = []

        def consume(self, messages: Messages) -> None:
            self.buffer += messages.payloads
            self.mark_as_consumed(messages.last())
            if len(self.buffer) >= 3:
                self.flush()

        def flush(self) -> None:
            written.extend(self.buffer)
            self.buffer.clear()

        def shutdown(self) -> None:
            self.flush()

        def revoked(self) -> None:
            if flush_on_revoke:
                self.flush()

    app = App(kafka=KAFKA, client_id="sink")
    app.topic("orders", Sink)
    app.written = written  # type: ignore[attr-defined]
    return app


class SinkMachine(ConsumerMachine):
    """Only the member rules move partitions (no rebalance, revoke or whole-app crash)."""

    app = staticmethod(lambda: sink_app(flush_on_revoke=False))
    topic = "orders"
    partitions = 2
    values = st.integers(0, 99)
    end = "stop"
    revokes = False
    faults = ()  # a lost partition would drop the buffer too: only members move partitions

    def rebalance(self) -> None:  # a plain method: no longer a rule
        """Left out."""

    def crash(self, data: Any = None) -> None:  # a plain method: no longer a rule
        """Left out."""

    def check_at_end(self, kafka: Harness) -> None:
        if kafka.history.crashes:  # acked and buffered dies with a killed member: by design
            return
        written = sorted(kafka.app.written)  # type: ignore[attr-defined]
        produced = sorted(message.payload for message in kafka.topic("orders"))
        assert set(written) >= set(produced), f"written {written}, produced {produced}"


class LoneSinkMachine(SinkMachine):
    max_members = 1


class CorrectSinkMachine(ConsumerMachine):
    """Every rule, the sink that writes what it holds when its partition goes."""

    app = staticmethod(lambda: sink_app(flush_on_revoke=True))
    topic = "orders"
    partitions = 2
    values = st.integers(0, 99)
    end = "stop"
    check_at_end = SinkMachine.check_at_end


def test_a_sink_whose_revoked_hook_drops_its_buffer_is_found_only_with_a_second_member() -> None:
    run_state_machine_as_test(LoneSinkMachine, settings=EXAMPLES)  # one member: never found
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(SinkMachine, settings=EXAMPLES)
    text = str(failure.value)
    assert "written" in text and "kafka.join()" in text, text
    with pytest.raises(AssertionError, match="written"):
        pasted(failure.value, SinkMachine=SinkMachine)()


def test_the_sink_that_flushes_on_revoke_passes_every_rule() -> None:
    run_state_machine_as_test(CorrectSinkMachine, settings=EXAMPLES)


class LostRevokeLedgerMachine(CarelessMachine):
    """The non-idempotent ledger where only revokes redeliver (no crash, rebalance, restart)."""

    max_members = 1
    faults = ()

    def crash(self, data: Any = None) -> None:  # plain methods: no longer rules
        """Left out."""

    def rebalance(self) -> None:
        """Left out."""

    def restart(self) -> None:
        """Left out."""


def test_a_lost_revoke_finds_the_non_idempotent_ledger_and_the_printed_test_replays() -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(LostRevokeLedgerMachine, settings=EXAMPLES)
    text = str(failure.value)
    assert re.search(r"kafka\.revoke\('orders', \d, lost=True\)", text), text
    with pytest.raises(AssertionError, match="!= produced"):
        pasted(failure.value, LostRevokeLedgerMachine=LostRevokeLedgerMachine)()
