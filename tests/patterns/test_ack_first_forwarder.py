"""FastStream's ack-first forwarder: the machine's built-in checks catch it with a producer
fault (a crash at ``produce_sync`` or a failed one), pass the forward-first variant, and the
printed replay fails the same way when pasted.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from engine.testing import ConsumerMachine, HistoryError, ScheduleError, Stuck
from tests.patterns.forwarder_app import SOURCE, ack_first_app, forward_first_app
from tests.unit.test_consumer_machine import pasted

BUDGET = settings(max_examples=100, deadline=None, database=None, derandomize=True)
SEARCH = settings(BUDGET, max_examples=300)  # ends at the first failure: found in a few dozen


class ForwardFirstMachine(ConsumerMachine):
    app = forward_first_app
    topic = SOURCE
    values = st.integers(0, 9)


class AckFirstMachine(ForwardFirstMachine):
    app = ack_first_app
    shrink_budget = 40  # the file's runtime stays short; the schedule is short well before


def test_the_ack_first_forwarder_is_caught_by_a_producer_fault_and_the_replay_fails() -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(AckFirstMachine, settings=SEARCH)
    text = str(failure.value)
    assert "committed_beyond_processed" in text or "lost" in text, text
    assert re.search(r"kafka\.crash\(.*at='produce'\)|kafka\.fail_produce\(", text), text
    with pytest.raises((HistoryError, Stuck)) as replayed:
        pasted(failure.value, AckFirstMachine=AckFirstMachine)()
    again = f"{type(replayed.value).__name__}: {replayed.value}"
    assert again.splitlines()[0] == text.splitlines()[0]  # the same failure, again
    assert again.splitlines()[1:2] == text.splitlines()[1:2]


def test_the_forward_first_variant_passes() -> None:
    run_state_machine_as_test(ForwardFirstMachine, settings=BUDGET)
