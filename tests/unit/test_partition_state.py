"""A partition's state is plain data: its verbs return effects, and the listener applies them."""

from __future__ import annotations

import threading
import time
import typing
from typing import Any

from engine import Consumer, Messages
from engine.connection.partition_effects import apply_effects
from engine.processing.backoff import Backoff
from engine.processing.effects import Pause, Resume, Seek
from engine.processing.partition_state import PartitionState
from tests.fakes import FakeRaw
from tests.fakes_client import FakeClient
from tests.served import fake_listener

KEY = ("t", 0)


def state_at(now: list[float]) -> PartitionState:
    """A state on a settable clock, with back-off 1 s, 2 s, 4 s ..."""
    return PartitionState("t", 0, Backoff(1.0, 30.0, True), clock=lambda: now[0])


def test_a_failure_asks_for_a_pause_and_a_seek_back_and_touches_no_client() -> None:
    now = [10.0]
    state = state_at(now)
    assert state.start(0, 4)
    state.marked(1)
    retry = state.fail(range(5))
    assert retry is not None
    assert (retry.offset, retry.timeout) == (2, 1.0)
    assert retry.effects == (Pause(2, 1.0), Seek(2))
    assert state.paused_until == 11.0 and state.resume_offset == 2


def test_the_end_of_a_pause_seeks_again_only_when_a_seek_is_due() -> None:
    now = [0.0]
    state = state_at(now)
    assert state.start(0, 1)
    state.pause_at(5, 1.0, manual=True)
    assert state.end_pause() == (Resume(),)  # the pause's seek went through
    state.pause_at(5, 1.0, manual=True)
    assert not state.start(2, 3)  # fetched before the pause: refused, sought again later
    assert state.end_pause() == (Seek(5), Resume())
    assert state.paused_until is None


def test_a_refused_seek_keeps_the_partition_paused_and_seeks_again_after_a_back_off() -> None:
    now = [0.0]
    state, client = state_at(now), FakeClient()
    assert state.start(0, 1)
    client.fail_seeks = 2
    retry = state.fail([0, 1])
    assert retry is not None
    apply_effects(client, state, retry.effects)  # the retry's seek is refused
    assert KEY in client.paused and state.paused_until == 1.0
    now[0] = 1.0
    apply_effects(client, state, state.end_pause())  # refused again: no resume
    assert KEY in client.paused and state.paused_until == 2.0
    now[0] = 2.0
    apply_effects(client, state, state.end_pause())
    assert KEY not in client.paused and client.positions[KEY] == 0


def test_a_long_job_holds_its_partition_and_its_release_fetches_after_the_batch() -> None:
    state = state_at([0.0])
    assert state.hold() == (Pause(),)
    assert not state.start(0, 1)  # held: nothing else starts
    assert state.release() == (Resume(),)  # nothing delivered yet: fetch on from where it is
    assert state.start(0, 1)
    state.hold()
    assert state.release() == (Seek(2), Resume())
    state.revoke()
    state.hold()
    assert state.release() == ()  # no longer ours: left alone


def test_a_long_jobs_release_keeps_the_position_its_seek_set_over_a_later_earlier_mark() -> None:
    now = [0.0]
    state = state_at(now)
    assert state.start(0, 4)
    state.hold()
    state.sought(10)  # the job sought forward (its context made the seek at once) ...
    state.marked(1)  # ... then marked an earlier message
    assert state.release() == (Resume(),)  # no seek back to 2 over the consumer's seek
    assert state.start(10, 12)
    state.hold()
    assert state.release() == (Seek(13), Resume())  # the next job sought nothing
    assert state.start(13, 14)
    state.hold()
    state.sought(20)
    retry = state.fail(range(13, 15))  # a failure after a seek restarts where it sought
    assert retry is not None and retry.offset == 20
    assert state.release() == ()  # its back-off ends the pause, not the release


def test_marks_and_refusals_are_told_to_the_state_by_its_context() -> None:
    state = state_at([0.0])
    assert state.start(3, 5)
    state.marked(4)
    assert state.first_unmarked == 5 and not state.is_revoked
    state.store_refused()
    assert state.is_revoked and state.fail([5]) is None


class PausesThenMarks(Consumer):
    """Pauses, then reads whether the client is paused yet, then marks its batch."""

    paused_inside: typing.ClassVar[list[bool]] = []
    client: typing.ClassVar[Any] = None

    def consume(self, messages: Messages) -> None:
        self.pause(timeout=1.0)
        PausesThenMarks.paused_inside.append(KEY in PausesThenMarks.client.paused)
        self.mark_as_consumed(list(messages)[-1])


def test_only_the_listener_thread_pauses_seeks_and_resumes_a_partition() -> None:
    now = [0.0]
    listener, client, workers = fake_listener(PausesThenMarks, clock=lambda: now[0])
    PausesThenMarks.client, PausesThenMarks.paused_inside = client, []
    callers: list[str] = []
    for name in ("pause", "seek", "resume"):
        real = getattr(client, name)

        def recorded(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            callers.append(threading.current_thread().name)
            return _real(*args, **kwargs)

        setattr(client, name, recorded)
    client.polls.append([FakeRaw("t", 0, offset) for offset in range(3)])
    listener.iterate()
    assert PausesThenMarks.paused_inside == [False]  # asked for inside; applied after the job
    assert KEY in client.paused and client.positions[KEY] == 3 and client.stored[KEY] == 3
    now[0] = 1.0
    listener.iterate()  # the pause is over: resumed before the poll
    assert KEY not in client.paused
    assert callers and set(callers) == {threading.current_thread().name}
    workers._queue.close()
    assert workers.join(5)


class PausesThenSeeks(Consumer):
    """Pauses (to resume after this batch), then seeks elsewhere: the seek wins."""

    def consume(self, messages: Messages) -> None:
        self.pause(timeout=5.0)
        self.seek(100)


def test_a_pause_then_a_seek_in_one_batch_fetches_from_the_seek() -> None:
    listener, client, workers = fake_listener(PausesThenSeeks)
    listener.open()
    client.polls.append([FakeRaw("t", 0, offset) for offset in range(10, 15)])
    listener.iterate()
    assert client.positions == {KEY: 100} and KEY in client.paused
    workers._queue.close()
    assert workers.join(5)


def test_the_pause_of_a_partition_a_long_job_holds_ends_after_the_job_not_during_it() -> None:
    now = [0.0]
    listener, client, workers = fake_listener(PausesThenMarks, clock=lambda: now[0])
    listener.open()
    served = listener.partitions.get(KEY)
    state = served.state
    assert state.start(10, 19)
    state.hold()  # a long job runs; it dead-letters 12 and asks for the rest at once
    served.context.pause_at(13, 0.0, manual=False)
    listener.iterate()  # its pause is due, but the job has not ended: nothing resumes
    assert ("resume", "t", 0) not in client.calls and state.paused_until == 0.0
    listener._iteration._long_job_ended(served)  # (as the job's end runs on the listener)
    assert client.positions[KEY] == 13 and KEY in client.paused  # released, still paused
    listener.iterate()
    assert client.positions[KEY] == 13 and KEY not in client.paused
    workers._queue.close()
    assert workers.join(5)


def test_an_operators_pause_goes_on_where_it_stood_skipping_and_rereading_nothing() -> None:
    now = [0.0]
    state = state_at(now)
    assert state.start(0, 4)
    state.succeed(4)
    assert state.pause_by_operator(60.0) == (Pause(None, 60.0),)
    assert state.paused_until == 60.0 and state.pause_is_manual
    assert state.end_pause() == (Resume(),)  # nothing refused: the client's position holds
    state.pause_by_operator(60.0)
    assert not state.start(5, 9)  # fetched before the pause: refused ...
    assert not state.start(10, 12)
    assert state.end_pause() == (Seek(5), Resume())  # ... and fetched again from its first


def test_an_operators_pause_over_a_retry_keeps_the_retrys_offset_and_lasts_longer() -> None:
    now = [0.0]
    state = state_at(now)
    assert state.start(0, 4)
    retry = state.fail(range(5))
    assert retry is not None and state.paused_until == 1.0
    assert state.pause_by_operator(30.0) == ()  # paused already
    assert state.paused_until == 30.0 and state.resume_offset == 0
    state.resume()  # the operator's resume ends the back-off too
    assert state.paused_until == 0.0


def test_an_operators_pause_during_a_long_job_fetches_after_its_batch_once_over() -> None:
    state = state_at([0.0])
    assert state.start(0, 1)
    state.hold()
    state.pause_by_operator(30.0)
    assert state.release() == ()  # still paused: the operator's pause outlasts the job
    assert state.end_pause() == (Seek(2), Resume())


def test_a_listener_pauses_and_resumes_a_partition_it_serves_for_an_operator() -> None:
    listener, client, workers = fake_listener(Consumer)
    client.rebalance.assigned([KEY])
    listener.after_rebalance([])
    listener.pause_partition("t", 0, 30.0)  # from the owner (not yet bound): made at once
    assert KEY in client.paused
    state = listener.partitions.get(KEY).state
    assert state.paused_until is not None and state.pause_is_manual
    listener.pause_partition("t", 7, 30.0)  # not its partition: left alone
    assert ("t", 7) not in listener.partitions
    listener.resume_partition("t", 0)
    assert state.paused_until is not None and state.paused_until <= time.monotonic()
    workers._queue.close()
    assert workers.join(5)
