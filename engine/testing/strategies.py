"""hypothesis strategies for tests written with ``@given``: values, messages, schedules."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from hypothesis import strategies as st

from engine.testing.schedule import Step, step

if TYPE_CHECKING:
    from engine.messages import Message
    from engine.testing.harness import Harness

SearchStrategy = st.SearchStrategy


class Draft(NamedTuple):
    """A message to produce: value, key, headers and timestamp (None: the clock's now)."""

    value: Any
    key: Any = None
    headers: list[tuple[str, bytes]] | None = None
    timestamp: datetime | None = None

    def produce_to(self, kafka: Harness, topic: str) -> Message:
        """Produce it to ``topic``; the stored message."""
        return kafka.produce(topic, self.value, key=self.key, headers=self.headers,
                             timestamp=self.timestamp)


def json_values(max_leaves: int = 8) -> SearchStrategy[Any]:
    """Anything ``json.dumps`` writes and reads back equal: scalars, lists, objects."""
    scalars = (st.none() | st.booleans() | st.integers(-(2**53), 2**53)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6), children, max_size=4),
        max_leaves=max_leaves,
    )


def messages(values: SearchStrategy[Any] | None = None, keys: SearchStrategy[Any] | None = None,
             headers: SearchStrategy[Any] | None = None,
             timestamps: SearchStrategy[Any] | None = None) -> SearchStrategy[Draft]:
    """Drafts of messages: JSON values or raw bytes, optional keys, headers and timestamps."""
    return st.builds(
        Draft,
        value=values if values is not None else json_values() | st.binary(max_size=32),
        key=keys if keys is not None else st.none() | st.text(min_size=1, max_size=6),
        headers=headers if headers is not None else st.none() | st.lists(
            st.tuples(st.text(min_size=1, max_size=6), st.binary(max_size=8)), max_size=3),
        timestamp=timestamps if timestamps is not None else st.none() | st.datetimes(
            min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31),
            timezones=st.just(timezone.utc)),
    )


def batches(drafts: SearchStrategy[Draft] | None = None, *, min_size: int = 1,
            max_size: int = 20) -> SearchStrategy[list[Draft]]:
    """Lists of message drafts (one produce each)."""
    return st.lists(drafts if drafts is not None else messages(), min_size=min_size,
                    max_size=max_size)


def steps(topic: str, values: SearchStrategy[Any] | None = None,
          keys: SearchStrategy[Any] | None = None, *, max_messages: int = 10,
          max_after: int = 5) -> SearchStrategy[Step]:
    """One harness operation.

    Produce, poll (a drawn fetch size), run, crash (with and without ``after``), rebalance,
    advance the clock, stop and start again.
    """
    values = values if values is not None else json_values()
    keys = keys if keys is not None else st.none() | st.sampled_from(["a", "b", "c"])
    return st.one_of(
        st.builds(lambda value, key: step("produce", topic, value, key=key), values, keys),
        st.builds(lambda limit: step("poll", limit), st.integers(1, max(1, max_messages))),
        st.just(step("run")),
        st.builds(lambda after: step("crash", after=after),
                  st.none() | st.integers(0, max_after)),
        st.just(step("rebalance")),
        st.builds(lambda seconds: step("advance", seconds),
                  st.sampled_from([0.5, 1.0, 5.0, 30.0])),
        st.just(step("restart")),
    )


def schedules(topic: str, values: SearchStrategy[Any] | None = None,
              keys: SearchStrategy[Any] | None = None, *, max_steps: int = 30,
              max_messages: int = 10) -> SearchStrategy[list[Step]]:
    """Lists of harness operations (``engine.testing.schedule.replay`` applies them)."""
    return st.lists(steps(topic, values, keys, max_messages=max_messages), max_size=max_steps)
