"""The "at most once" loop of confluent-kafka's documentation: commit, then process.

The documented loop commits synchronously as soon as a poll returns and processes afterwards,
so a process that dies, or a write that fails, between the two has committed work never done.
The correct consumer writes each message, then commits. Two restatements of the bug:

- per batch: the consumer commits the batch's end (``mark_as_consumed(last, sync=True)``)
  before it reads the batch. Built-in check: the commit covers messages not taken yet, so
  ``committed_beyond_processed`` fails at the commit itself, no crash needed.
- per message, as the documented loop: commit the message, then write it. The message was
  read before the commit, so the harness counts it processed (it sees reads, not writes), and
  a crash lands only where the consumer takes a message, never between the commit and the
  write. Only a user oracle sees it, when the write fails (a ``flaky`` value fails its first
  write): the retry starts after the committed message, whose write never happens.
"""

from __future__ import annotations

from hypothesis import strategies as st

from engine import App, Consumer, Messages
from engine.testing import ConsumerMachine, Harness
from tests.patterns.kit import BEYOND, SHRINK_BUDGET, FlakyStore, app, caught, passes


def loop_app(commits_first: str | None) -> App:
    """Writes each message by position; ``commits_first`` says what is committed too early."""
    store = FlakyStore()

    class Loop(Consumer):
        def consume(self, messages: Messages) -> None:
            last = messages.last()
            assert last is not None
            if commits_first == "batch":
                self.mark_as_consumed(last, sync=True)  # the bug: nothing written yet
            for message in messages:
                if commits_first == "message":
                    self.mark_as_consumed(message, sync=True)  # the bug, message by message
                store.write((message.partition, message.offset), message.payload)
            if commits_first is None:
                self.mark_as_consumed(last, sync=True)

    built = app("at-most-once", "payments", Loop, manual_offset_management=True)
    built.store = store  # type: ignore[attr-defined]
    return built


def commits_each_batch_first() -> App:
    return loop_app("batch")


def commits_each_message_first() -> App:
    return loop_app("message")


def commits_after_writing() -> App:
    return loop_app(None)


class AtLeastOnceMachine(ConsumerMachine):
    app = commits_after_writing
    topic = "payments"
    partitions = 2
    values = st.fixed_dictionaries({"amount": st.integers(1, 9), "flaky": st.booleans()})

    def check_at_end(self, kafka: Harness) -> None:
        written = set(kafka.app.store.rows)  # type: ignore[attr-defined]
        produced = {(m.partition, m.offset) for m in kafka.topic("payments")}
        assert written == produced, f"payments never written: {sorted(produced - written)}"


class BatchFirstMachine(ConsumerMachine):
    """No check of its own, no failing write: the built-in check sees the early commit."""

    app = commits_each_batch_first
    topic = "payments"
    partitions = 2
    values = st.fixed_dictionaries({"amount": st.integers(1, 9), "flaky": st.just(False)})
    shrink_budget = SHRINK_BUDGET


class MessageFirstMachine(AtLeastOnceMachine):
    app = commits_each_message_first
    shrink_budget = SHRINK_BUDGET


def test_committing_a_batch_before_processing_is_committed_beyond_processed() -> None:
    text = caught(BatchFirstMachine, BEYOND)
    assert "kafka.produce('payments'" in text


def test_committing_each_message_before_writing_it_is_seen_by_the_oracle() -> None:
    text = caught(MessageFirstMachine, "payments never written")
    assert "'flaky': True" in text


def test_writing_then_committing_passes() -> None:
    passes(AtLeastOnceMachine)
