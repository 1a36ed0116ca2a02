"""One assigned partition's delivery state: plain data whose verbs return client effects.

Over 250 lines on purpose: one class owns every field of the state, and splitting it would
split the invariants its docstrings state between files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

from engine.processing.backoff import Backoff
from engine.processing.effects import NO_EFFECTS, Effect, Pause, Resume, Seek


class Retry(NamedTuple):
    """A failed batch's retry: where it restarts, after how long, and what the client does."""

    offset: int
    timeout: float
    effects: tuple[Effect, ...]


class PartitionState:
    """Where processing of one (topic, partition) stands: plain data changed through verbs.

    It does no I/O. Verbs that need the client return effects (``engine.processing.effects``)
    for the listener to apply; storing and committing offsets go through the offsets port of
    the partition's context, which then tells the state (``marked``, ``store_refused``).

    - ``first_unmarked``: the first offset not marked as consumed, where a retry restarts. Only
      ``marked``, the consumer's ``sought``, ``fail`` (past a gap to the batch's next offset)
      and ``start`` move it, and ``start`` only when everything delivered so far is marked
      (an offset gap before the batch, a transaction marker or a compacted record, is then
      skipped): messages delivered but not marked, in this batch or in earlier ones, are
      always retried. A pause never moves it.
    - ``delivered_end``: one past the last offset delivered since the position was last set.
    - ``attempt``: 1 on a batch's first try, 2 on its first retry ... A failure's attempt
      number holds until a batch gets past the offsets that failed: re-delivered messages
      before them are part of the retry, so back-off and dead-lettering still progress.
    - the pause: until when, whether the consumer asked for it, and the offset to fetch from
      after it. A seek that was refused is made again before resuming, and the partition
      stays paused until one succeeds: it never resumes from a wrong position.
    - revoked (the listener says so) or refused (the broker refused a store): from then on
      nothing is marked or committed. Taken over (the broker fenced the partition's
      transactional producer): the same until the next batch starts.

    Threads: the listener's thread owns the state, except while one of the partition's jobs
    runs, when that job's worker does; the jobs queue hands it over and back, and its lock
    orders the writes. One field is written across that hand-over: ``_revoked``, set by the
    listener while a long-running job may still run (a bool the worker only reads, whole).
    """

    __slots__ = (
        "_attempt", "_backoff", "_clock", "_delivered_end", "_failed_through", "_failures",
        "_first_unmarked", "_held", "_manual", "_pause_manual", "_pause_offset",
        "_paused_until", "_positioned", "_refused", "_revoked", "_seek_due", "_taken_over",
        "partition", "topic",
    )

    def __init__(self, topic: str, partition: int, backoff: Backoff,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.topic = topic
        self.partition = partition
        self._backoff = backoff
        self._clock = clock
        self._first_unmarked: int | None = None
        self._delivered_end: int | None = None
        self._attempt = self._failures = 0
        self._failed_through: int | None = None
        self._revoked = self._refused = self._taken_over = False
        self._manual = False
        self._paused_until: float | None = None
        self._pause_manual = False
        self._pause_offset: int | None = None
        self._seek_due = False
        self._held = False
        self._positioned = False  # the consumer sought since the batch or hold began

    # -- reads ---------------------------------------------------------------------------------

    @property
    def first_unmarked(self) -> int | None:
        """The first offset not marked as consumed (None before the first batch)."""
        return self._first_unmarked

    @property
    def attempt(self) -> int:
        """1 on the current batch's first try, 2 on its first retry, and so on."""
        return self._attempt

    @property
    def is_revoked(self) -> bool:
        """Whether the partition was revoked, or a store of its offset was refused.

        The context adds what the client knows (a lost assignment, an overdue poll).
        """
        return self._revoked or self._refused or self._taken_over

    @property
    def was_revoked(self) -> bool:
        """Whether the listener revoked it (a refused store alone does not say so)."""
        return self._revoked

    @property
    def is_held(self) -> bool:
        """Whether a long-running job holds the partition (paused while it runs)."""
        return self._held

    @property
    def manual(self) -> bool:
        """Whether the consumer paused or sought during the current batch (no auto-mark)."""
        return self._manual

    @property
    def paused_until(self) -> float | None:
        """When the pause ends (clock seconds), or None when not paused."""
        return self._paused_until

    @property
    def pause_is_manual(self) -> bool:
        """Whether the current pause was asked for by the consumer (not a failure back-off)."""
        return self._paused_until is not None and self._pause_manual

    @property
    def resume_offset(self) -> int | None:
        """The offset fetching restarts from when the pause ends (None when not paused)."""
        return self._pause_offset if self._paused_until is not None else None

    # -- verbs of the listener -------------------------------------------------------------------

    def start(self, first_offset: int, last_offset: int) -> bool:
        """A batch of ``first_offset``..``last_offset`` begins; False (refused) while paused.

        A paused partition can still hand over what was fetched before the pause: that batch
        is not processed, and the pause's seek is made again before resuming. When every
        message delivered so far is marked, the first unmarked offset becomes the batch's
        first one, so an offset gap before it (a transaction marker, a compacted record) is
        never waited for; a message delivered and not marked stays the first unmarked one.
        """
        if self._held:
            return False  # its release seeks to after the held batch
        if self._paused_until is not None:
            self._seek_due = True
            if self._pause_offset is None:  # an operator's pause: restart at what it refuses
                self._pause_offset = first_offset
            return False
        end = self._delivered_end
        if self._first_unmarked is None or end is None or self._first_unmarked >= end:
            self._first_unmarked = first_offset
        self._delivered_end = last_offset + 1 if end is None else max(end, last_offset + 1)
        self._attempt = self._failures + 1
        self._manual = self._positioned = self._taken_over = False
        return True

    def end_pause(self) -> tuple[Effect, ...]:
        """The pause is over (the listener checked ``paused_until``): seek if due, resume."""
        offset = self._pause_offset
        seek = self._seek_due and offset is not None
        self._paused_until = None
        self._seek_due = False
        if seek:
            assert offset is not None
            return Seek(offset), Resume()
        return (Resume(),)

    def seek_refused(self, offset: int) -> tuple[Effect, ...]:
        """The client refused a seek to ``offset``: stay (or become) paused until one succeeds.

        Paused already (a failure's or a consumer's pause): the seek is made again before
        resuming. Otherwise (at the end of a pause or of a long-running job) the partition
        pauses again with back-off and tries again then.
        """
        self._seek_due = True
        if self._paused_until is not None:
            return NO_EFFECTS
        timeout = self._backoff.after(max(1, self._attempt))
        self._paused_until = self._clock() + timeout
        self._pause_offset = offset
        return (Pause(offset, timeout),)

    def hold(self) -> tuple[Effect, ...]:
        """A long-running job starts: stop fetching until ``release`` (no time limit)."""
        self._held = True
        self._positioned = False
        return (Pause(),)

    def release(self) -> tuple[Effect, ...]:
        """The long-running job ended: fetch again right after its batch.

        After the consumer's own seek, from where it sought: its seek already moved the
        position, and a mark made after it (of an earlier message, or by another virtual
        partition) must not move it back. A back-off the job's failure started keeps the
        partition paused until it is due; a partition no longer ours is left alone.
        """
        self._held = False
        position = self._delivered_end if self._delivered_end is not None else (
            self._first_unmarked)
        if self._paused_until is not None and self._pause_offset is None:
            # an operator paused it meanwhile: the pause's end fetches from after the batch
            self._pause_offset = position
            self._seek_due = position is not None and not self._positioned
        if self._revoked or self._refused or self._paused_until is not None:
            return NO_EFFECTS
        self._seek_due = False
        if position is None or self._positioned:
            return (Resume(),)
        return Seek(position), Resume()

    def revoke(self) -> None:
        """The partition was taken away: nothing more is marked or committed for it."""
        self._revoked = True

    # -- verbs of the running job ----------------------------------------------------------------

    def marked(self, offset: int) -> None:
        """``offset + 1`` was stored for the next commit: it is the first unmarked offset."""
        self._first_unmarked = offset + 1

    def store_refused(self) -> None:
        """The client refused to store an offset: the partition is no longer ours."""
        self._refused = True

    def taken_over(self) -> None:
        """The partition's transactional producer was fenced: taken as no longer ours.

        Until the failed batch's retry starts: by then (a back-off and a poll later) a
        member that lost the partition has heard it from the group, and its listener no
        longer serves it. One that still serves it owns it (a fence comes from a transaction
        the coordinator timed out too, not only from a new owner): it goes on, its next
        transaction building a new producer.
        """
        self._taken_over = True

    def succeed(self, last_offset: int | None = None) -> None:
        """The batch ending at ``last_offset`` was handled.

        The next batch is a first attempt, unless this one ended before the offsets the last
        failure covered (messages re-delivered ahead of them): the retry goes on. None
        settles a failure whatever the offsets (its message was dead-lettered).
        """
        through = self._failed_through
        if last_offset is None or through is None or last_offset >= through:
            self._failures, self._failed_through = 0, None
        self._attempt = 0

    def fail(self, offsets: Iterable[int] = ()) -> Retry | None:
        """Seek back to the first unmarked offset and pause with back-off.

        ``offsets`` are the batch's. A retry restarts at the first unmarked offset; when that
        lies in the batch, at the first of ``offsets`` at or after it, so a gap right after a
        marked message (a transaction marker) is skipped and never named. None when there is
        nothing to retry (the partition is revoked or refused, or no batch started). One taken
        over is retried: if it is still ours, nothing of it is skipped.
        """
        offset = self._first_unmarked
        if self._revoked or self._refused or offset is None:  # taken over: retried (ours?)
            return None
        offset = self._first_unmarked = restart_offset(offset, offsets)
        attempt = max(1, self._attempt)
        timeout = self._backoff.after(attempt)
        self._failures = attempt
        end = self._delivered_end
        self._failed_through = offset if end is None else max(offset, end - 1)
        return Retry(offset, timeout, self._pause(offset, timeout, manual=False))

    def backoff(self) -> float:
        """The pause a failure of the current attempt would get."""
        return self._backoff.after(self._attempt)

    def pause_at(self, offset: int, timeout: float, manual: bool) -> tuple[Effect, ...]:
        """Pause for ``timeout`` seconds, then fetch from ``offset``.

        A pause asked for by the consumer turns off the automatic marking of the batch.
        """
        if manual:
            self._manual = True
        return self._pause(offset, timeout, manual)

    def sought(self, restart_at: int | None) -> None:
        """The consumer moved the fetch position (its context made the seek).

        The batch is no longer auto-marked; ``restart_at`` (the offset, when it names one) is
        where a retry restarts, unless a later mark moves the first unmarked offset. A held
        partition's release then keeps the position (``release``).
        """
        self._manual = self._positioned = True
        # the consumer set the position: what it skipped or re-reads is its choice
        self._delivered_end = None
        if restart_at is not None:
            self._first_unmarked = restart_at

    def pause_by_operator(self, timeout: float) -> tuple[Effect, ...]:
        """An operator pauses the partition from outside its jobs (``App.pause``).

        Nothing is fetched for ``timeout`` seconds; then fetching goes on where it stood, so
        nothing is skipped or read twice: after the last batch delivered, or from the first
        batch the pause refused. A pause already on (a retry's back-off, the consumer's own)
        keeps its restart offset and lasts at least as long.
        """
        until = self._clock() + timeout
        if self._paused_until is not None:
            self._paused_until = max(self._paused_until, until)
            self._pause_manual = True
            return NO_EFFECTS
        self._paused_until, self._pause_manual = until, True
        self._pause_offset = None  # set by the first batch refused, if any (``start``)
        self._seek_due = False
        return (Pause(None, timeout),)

    def resume(self) -> None:
        """End the pause now (the listener resumes the partition before its next poll)."""
        if self._paused_until is not None:
            self._paused_until = min(self._paused_until, self._clock())

    def next_unmarked(self, offsets: Iterable[int]) -> int | None:
        """Where a retry of a batch of ``offsets`` restarts (None before any batch).

        The first unmarked offset when it was delivered before the batch; else the first of
        ``offsets`` at or after it (a gap after a marked message is never named).
        """
        first = self._first_unmarked
        if first is None:
            return None
        return restart_offset(first, offsets)

    # -- steps ---------------------------------------------------------------------------------

    def _pause(self, offset: int, timeout: float, manual: bool) -> tuple[Effect, ...]:
        self._paused_until = self._clock() + timeout
        self._pause_manual = manual
        self._pause_offset = offset
        self._seek_due = False  # until the client refuses the seek below
        return Pause(offset, timeout), Seek(offset)

    def __repr__(self) -> str:
        """Topic, partition, first unmarked offset and pause."""
        paused = f" paused until {self._paused_until:.3f}" if self._paused_until else ""
        return f"<PartitionState {self.topic}/{self.partition} @{self._first_unmarked}{paused}>"


def restart_offset(first_unmarked: int, offsets: Iterable[int]) -> int:
    """Where a retry of a batch of ``offsets`` restarts.

    ``first_unmarked`` when it comes before the batch (delivered earlier, never marked); else
    the first of ``offsets`` at or after it, so a gap after a marked message is skipped.
    """
    for index, found in enumerate(offsets):
        if index == 0 and found > first_unmarked:
            return first_unmarked
        if found >= first_unmarked:
            return found
    return first_unmarked
