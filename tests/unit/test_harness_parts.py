"""The harness's parts on their own: a verb that survives a crash, the state's moves, topics."""

from __future__ import annotations

from typing import Any

import pytest

from engine import App, Consumer, Messages
from engine.processing.death import ProcessDeath
from engine.testing import Harness, HarnessError
from engine.testing.group_verbs import GroupVerbs

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


class Noop(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


def app() -> App:
    made = App(kafka=KAFKA, client_id="parts")
    made.topic("orders", Noop)
    return made


def verbs(died: list[int | None]) -> GroupVerbs:
    nothing: Any = None
    return GroupVerbs(nothing, nothing, nothing, nothing, died.append)


def test_surviving_returns_the_calls_value_and_kills_the_process_a_crash_fires_in() -> None:
    died: list[int | None] = []
    assert verbs(died).surviving(lambda: 7, 1) == 7 and died == []

    def crashing() -> int:
        raise ProcessDeath("crash at a commit call")

    assert verbs(died).surviving(crashing, 1) is None and died == [1]


def test_a_join_a_commit_crash_kills_returns_the_one_process_that_came_back() -> None:
    with Harness(app(), partitions=2) as kafka:
        kafka.produce("orders", {"n": 1}, partition=0)
        kafka.run()
        kafka.crash(at="commit")  # the join's revocation commits, and dies there
        assert kafka.join() == 0 and kafka.members == (0,)
        assert kafka.state == "running"


def test_the_state_refuses_verbs_when_stopped_and_everything_once_closed() -> None:
    kafka = Harness(app())
    kafka.stop()
    with pytest.raises(HarnessError, match="stopped"):
        kafka.poll()
    kafka.close()
    assert kafka.state == "closed"
    with pytest.raises(HarnessError, match="closed"):
        kafka.topic("orders")
    kafka.close()  # a second close does nothing


def test_committed_names_an_unknown_partition_before_an_ambiguous_group() -> None:
    twice = app()
    twice.consumer_group("audit").topic("orders", Noop)
    with Harness(twice) as kafka, pytest.raises(HarnessError, match="out of range"):
        kafka.committed("orders", 5)
