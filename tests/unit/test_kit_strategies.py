"""engine.testing.strategies: values, messages and schedules for tests written with @given."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import App, Consumer, Messages
from engine.testing import Harness, strategies
from engine.testing.schedule import Step, replay, step
from engine.testing.strategies import Draft

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


def collecting_app(seen: list[Any]) -> App:
    class Collect(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                seen.append((message.raw_payload, message.key, message.raw_headers,
                             message.timestamp))

    app = App(kafka=KAFKA, client_id="kit")
    app.topic("events", Collect)
    return app


@given(strategies.json_values())
def test_json_values_survive_json(value: Any) -> None:
    assert json.loads(json.dumps(value)) == value


@settings(max_examples=30, deadline=None)
@given(strategies.batches(max_size=8))
def test_drafted_messages_arrive_as_drafted(drafts: list[Draft]) -> None:
    seen: list[Any] = []
    with Harness(collecting_app(seen), partitions=2) as kafka:
        stored = [draft.produce_to(kafka, "events") for draft in drafts]
        kafka.run()
    assert sorted(seen, key=repr) == sorted(
        [(m.raw_payload, m.key, m.raw_headers, m.timestamp) for m in stored], key=repr)
    for draft, message in zip(drafts, stored, strict=True):
        if draft.timestamp is not None:
            assert abs((message.timestamp - draft.timestamp).total_seconds()) < 0.001


@settings(max_examples=30, deadline=None)
@given(strategies.schedules("events", st.integers(0, 9)))
def test_any_schedule_keeps_the_history_of_a_plain_consumer_clean(steps: list[Step]) -> None:
    with Harness(collecting_app([]), partitions=2) as kafka:
        replay(kafka, steps)
        kafka.run()
        kafka.history.check()


def test_a_step_prints_as_the_call_it_makes() -> None:
    assert str(step("produce", "orders", {"id": 1}, key="a")) == (
        "kafka.produce('orders', {'id': 1}, key='a')")
    assert str(step("crash", after=None)) == "kafka.crash()"
    assert str(step("advance", 5.0)) == "kafka.clock.advance(5.0)"
    assert str(step("restart")) == "kafka.stop(); kafka.start()"
