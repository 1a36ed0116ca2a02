"""The harness's consumer group: partial and lost revokes, a second member joining, leaving
and dying, as the app's assignor splits partitions, and the history across members."""

from __future__ import annotations

from typing import Any

import pytest

from engine import App, Consumer, Messages
from engine.testing import Harness, HarnessError
from engine.testing.schedule import replay, step

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


def tracing_app(strategy: str | None = None, **options: Any) -> App:
    """Records (event, partition, offset or None) into ``app.trace``; marks as it goes."""
    trace: list[tuple[str, int, int | None]] = []

    class Traced(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                trace.append(("consume", message.partition, message.offset))

        def revoked(self) -> None:
            trace.append(("revoked", self.partition, None))

        def shutdown(self) -> None:
            trace.append(("shutdown", self.partition, None))

    kafka = dict(KAFKA)
    if strategy is not None:
        kafka["partition.assignment.strategy"] = strategy
    app = App(kafka=kafka, client_id="members", **options)
    app.topic("orders", Traced)
    app.trace = trace  # type: ignore[attr-defined]
    return app


def trace_of(kafka: Harness) -> list[tuple[str, int, int | None]]:
    return kafka.app.trace  # type: ignore[attr-defined,no-any-return]


def fill(kafka: Harness, per_partition: int = 2) -> None:
    for partition in range(kafka.partition_count("orders")):
        for _ in range(per_partition):
            kafka.produce("orders", {"p": partition}, partition=partition)


def test_cooperative_sticky_moves_only_what_it_must_with_hooks_and_a_commit() -> None:
    with Harness(tracing_app("cooperative-sticky"), partitions={"orders": 4}) as kafka:
        fill(kafka)
        kafka.run()
        trace_of(kafka).clear()
        assert kafka.join() == 1
        assert kafka.assignment("orders") == {0: [0, 1], 1: [2, 3]}
        # only the partitions that moved were revoked; the commit on the way out is the
        # member's whole stored state, as librdkafka's
        assert sorted(trace_of(kafka)) == [("revoked", 2, None), ("revoked", 3, None)]
        assert [kafka.committed("orders", p) for p in range(4)] == [2, 2, 2, 2]
        fill(kafka, 1)
        kafka.run()
        # the new member starts from the commit: offset 2, nothing again
        by_member = {(d.partition, d.offset): d.member for d in kafka.history.deliveries}
        assert {p: by_member[(p, 2)] for p in range(4)} == {0: 0, 1: 0, 2: 1, 3: 1}
        assert kafka.history.duplicates() == []
        assert kafka.consumer_for("orders", 3) is not kafka.consumer_for("orders", 0)
        assert kafka.consumer_for("orders", 3) is not None
        kafka.history.check()


def test_the_default_assignor_is_range_and_eager_revokes_everything_first() -> None:
    with Harness(tracing_app(), partitions={"orders": 3}) as kafka:
        fill(kafka)
        kafka.run()
        trace_of(kafka).clear()
        kafka.join()
        assert sorted(trace_of(kafka)) == [("revoked", p, None) for p in range(3)]
        assert kafka.assignment("orders") == {0: [0, 1], 1: [2]}
        kafka.join()
        assert kafka.assignment("orders") == {0: [0], 1: [1], 2: [2]}


def test_roundrobin_deals_partitions_in_turn() -> None:
    with Harness(tracing_app("roundrobin,range"), partitions={"orders": 5}) as kafka:
        kafka.join()
        assert kafka.assignment("orders") == {0: [0, 2, 4], 1: [1, 3]}


def test_an_assignor_the_harness_does_not_model_is_named() -> None:
    with pytest.raises(HarnessError, match=r"'sticky'.*models range, roundrobin"):
        Harness(tracing_app("sticky"))


def test_a_member_leaving_runs_its_shutdown_hooks_commits_and_hands_over() -> None:
    with Harness(tracing_app("cooperative-sticky"), partitions={"orders": 2}) as kafka:
        kafka.join()
        fill(kafka)
        kafka.run()
        trace_of(kafka).clear()
        kafka.leave()  # the newest
        assert kafka.members == (0,)
        assert trace_of(kafka) == [("shutdown", 1, None)]
        assert kafka.committed("orders", 1) == 2
        fill(kafka, 1)
        kafka.run()
        assert [d.member for d in kafka.history.deliveries if d.partition == 1] == [1, 1, 0]
        kafka.history.check()


def test_a_member_crash_commits_nothing_runs_no_hook_and_the_rest_take_over() -> None:
    with Harness(tracing_app("cooperative-sticky"), partitions={"orders": 2}) as kafka:
        kafka.join()
        fill(kafka)
        kafka.run()
        trace_of(kafka).clear()
        kafka.crash(member=1)
        assert kafka.members == (0,) and kafka.history.crashes == 1
        assert trace_of(kafka) == [] and kafka.committed("orders", 1) is None
        kafka.run()  # member 0 fetches partition 1 again from the start
        assert trace_of(kafka) == [("consume", 1, 0), ("consume", 1, 1)]
        assert kafka.history.duplicates() == [("orders", 1, 0), ("orders", 1, 1)]
        kafka.history.check()


def test_a_crash_after_k_kills_only_the_member_running_the_job() -> None:
    with Harness(tracing_app("cooperative-sticky"), partitions={"orders": 2}) as kafka:
        kafka.join()
        kafka.produce("orders", {"p": 1}, partition=1)
        kafka.crash(after=0)
        kafka.poll()  # member 0 owns partition 0: nothing to consume; member 1 dies
        assert kafka.members == (0,)
        assert kafka.assignment("orders") == {0: [0, 1]}
        kafka.run()
        kafka.history.check()


def test_the_only_member_crashing_comes_back_as_crash_does() -> None:
    with Harness(tracing_app(), partitions={"orders": 2}) as kafka:
        kafka.join()
        kafka.crash(member=0)
        assert kafka.members == (1,)
        kafka.crash(member=1)  # the last one: the app comes back as one process
        assert kafka.members == (0,) and kafka.assignment("orders") == {0: [0, 1]}


def test_bad_member_calls_are_named() -> None:
    with Harness(tracing_app(), partitions={"orders": 2}) as kafka:
        with pytest.raises(HarnessError, match="no member 3 in the group \\(live members: 0\\)"):
            kafka.crash(member=3)
        with pytest.raises(HarnessError, match="only one: it cannot leave"):
            kafka.leave()
        with pytest.raises(HarnessError, match="member= is for a crash now"):
            kafka.crash(after=1, member=0)
        kafka.join()
        with pytest.raises(HarnessError, match="assigned to member 1; revoke it first"):
            kafka.assign("orders", 1, member=0)
        with pytest.raises(HarnessError, match="no member 7"):
            kafka.assign("orders", 1, member=7)


def test_a_partial_lost_revoke_commits_nothing_and_the_rest_keep_flowing() -> None:
    with Harness(tracing_app("cooperative-sticky"), partitions={"orders": 3}) as kafka:
        fill(kafka)
        kafka.run()
        kafka.revoke("orders", 1, lost=True)
        assert kafka.assignment("orders") == {0: [0, 2]}
        assert kafka.committed("orders", 1) is None  # lost: no commit
        fill(kafka, 1)
        kafka.run()
        consumed = [(p, o) for name, p, o in trace_of(kafka) if name == "consume"]
        assert (0, 2) in consumed and (2, 2) in consumed and (1, 2) not in consumed
        with pytest.raises(HarnessError, match="not assigned"):
            kafka.revoke("orders", 1)
        kafka.join()
        kafka.settle()  # partition 1 goes to the member owning fewest
        assert sorted(p for ps in kafka.assignment("orders").values() for p in ps) == [0, 1, 2]
        kafka.run()
        assert kafka.history.lost() == []
        kafka.history.check()


def test_unassigned_partitions_look_lost_until_settled() -> None:
    with Harness(tracing_app(), partitions={"orders": 2}) as kafka:
        fill(kafka)
        kafka.poll(limit=1)
        kafka.revoke("orders", 0, lost=True)
        kafka.run()
        assert ("orders", 0, 1) in kafka.history.lost()  # honest: nobody owns it
        kafka.settle()
        kafka.run()
        assert kafka.history.lost() == []


def test_reordered_and_over_commits_are_judged_across_members() -> None:
    """A handover is not a reorder (a new instance), and commits of both members are checked."""
    with Harness(tracing_app("cooperative-sticky"), partitions={"orders": 2}) as kafka:
        fill(kafka, 3)
        kafka.poll(limit=1)
        kafka.revoke("orders", 1, lost=True)  # redelivered from the start to the other member
        kafka.join()
        kafka.settle()
        kafka.run()
        kafka.leave(member=0)
        kafka.run()
        kafka.history.check()
        members = {(d.partition, d.member) for d in kafka.history.deliveries}
        assert (1, 1) in members


def test_a_consumer_that_skips_part_of_a_batch_is_lost_across_members() -> None:
    class Skipper(Consumer):
        def consume(self, messages: Messages) -> None:
            messages.first()  # takes only the first; the engine marks the batch

    app = App(kafka={**KAFKA, "partition.assignment.strategy": "cooperative-sticky"},
              client_id="skip")
    app.topic("orders", Skipper)
    with Harness(app, partitions={"orders": 2}) as kafka:
        kafka.join()
        fill(kafka, 2)
        kafka.run()
        assert kafka.history.lost() == [("orders", 0, 1), ("orders", 1, 1)]
        assert {d.member for d in kafka.history.deliveries} == {0, 1}


def test_group_steps_print_as_the_calls_they_replay() -> None:
    steps = [step("join"), step("revoke", "orders", 1, lost=True),
             step("assign", "orders", 1, member=1), step("leave", member=1), step("join"),
             step("crash", member=2), step("settle")]
    assert [str(each) for each in steps] == [
        "kafka.join()", "kafka.revoke('orders', 1, lost=True)",
        "kafka.assign('orders', 1, member=1)", "kafka.leave(member=1)", "kafka.join()",
        "kafka.crash(member=2)", "kafka.settle()"]
    with Harness(tracing_app("cooperative-sticky"), partitions={"orders": 2}) as kafka:
        fill(kafka)
        kafka.poll(limit=1)
        replay(kafka, steps[:3])
        assert kafka.assignment("orders") == {0: [0], 1: [1]}
        replay(kafka, steps[3:])
        assert kafka.members == (0,) and kafka.assignment("orders") == {0: [0, 1]}
        kafka.run()
        kafka.history.check()
