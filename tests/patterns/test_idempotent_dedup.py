"""The idempotent consumer of many blog posts: skip ids already seen, remember ids as seen.

Redelivery is normal under at-least-once, so the consumer keeps a durable set of the ids it
handled and skips those. The buggy variant records the id *before* the side effect: when the
write fails, the framework retries the batch, the id is already "seen", and the message is
skipped for good. The correct variant records the id once the write succeeded.

Only a user oracle sees it: the consumer read the message on every attempt, so the harness
counts it processed (it sees reads, not writes). ``check_at_end`` compares the store with
``kafka.topic(...)``. The failure comes from the data: a value flagged ``flaky`` fails its
first write, so the printed test needs no step of its own to repeat it.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import SHRINK_BUDGET, FlakyStore, app, caught, passes


def dedup_app(remember_first: bool) -> App:
    """Writes each order once by id; ``remember_first`` marks the id seen before writing."""
    store = FlakyStore()
    seen: set[Any] = set()  # durable in the real thing (a table, a Redis set)

    class Dedup(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                order = message.payload
                if order["id"] in seen:
                    continue
                if remember_first:
                    seen.add(order["id"])  # the bug: the write may still fail
                store.write(order["id"], order)
                seen.add(order["id"])

    built = app("dedup", "orders", Dedup)
    built.store = store  # type: ignore[attr-defined]
    return built


def remembers_first() -> App:
    return dedup_app(remember_first=True)


def remembers_after_write() -> App:
    return dedup_app(remember_first=False)


class DedupMachine(ConsumerMachine):
    app = remembers_after_write
    topic = "orders"
    partitions = 2
    values = st.fixed_dictionaries({"id": st.integers(0, 5), "flaky": st.booleans()})

    def key_of(self, value: Any, key: Any) -> Any:
        return str(value["id"])  # one order's messages in one partition, in order

    def check_at_end(self, kafka: Harness) -> None:
        written = set(kafka.app.store.rows)  # type: ignore[attr-defined]
        produced = {m.payload["id"] for m in kafka.topic("orders")}
        assert written == produced, f"orders never written: {sorted(produced - written)}"


class EagerDedupMachine(DedupMachine):
    app = remembers_first
    shrink_budget = SHRINK_BUDGET


def test_remembering_an_id_before_its_write_skips_it_on_retry_seen_by_the_oracle() -> None:
    text = caught(EagerDedupMachine, "orders never written")
    assert "'flaky': True" in text


def test_remembering_an_id_after_its_write_passes() -> None:
    passes(DedupMachine)
