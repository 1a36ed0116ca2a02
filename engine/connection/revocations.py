"""A rebalance's outcome for a listener: partitions taken away, and partitions assigned.

What partitions taken away delivered is dropped and their consumers hear ``revoked``; what
the first batch of a partition assigned needs is prepared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.processing.jobs import Revoked

if TYPE_CHECKING:
    from engine.connection.group_jobs import GroupJobs
    from engine.connection.listener_client import ListenerClient
    from engine.connection.long_jobs import LongJobs
    from engine.processing.partitions import PartitionKey, Partitions, Served


class Revocations:
    """Handles a rebalance's revoked and lost partitions for one listener (its thread only).

    ``prepare`` hears the partitions assigned (their transactional producers are built),
    ``release`` every partition taken away, served or not (their producers are closed).
    A revoked partition's async long-running job may run ``grace`` seconds (the app's
    ``shutdown_timeout``) of ``clock`` more, then is cancelled (``cancel_overdue``).
    """

    def __init__(self, group_id: str, partitions: Partitions, long_jobs: LongJobs,
                 jobs: GroupJobs, client: Callable[[], ListenerClient],
                 prepare: Callable[[set[PartitionKey]], None] = lambda keys: None,
                 release: Callable[[set[PartitionKey]], None] = lambda keys: None,
                 grace: float = float("inf"),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._group_id = group_id
        self._partitions = partitions
        self._long = long_jobs
        self._jobs = jobs
        self._client = client
        self._prepare = prepare
        self._release = release
        self._grace = grace
        self._clock = clock

    def after_rebalance(self, raws: list[Any]) -> list[Any]:
        """Drop what revoked partitions delivered; run their Revoked jobs; keep the rest.

        One poll can revoke a partition and assign it back: what it delivered is dropped, so
        the partition is sought back to the smallest offset dropped (error events carry no
        offset of a message and are never taken for one).
        """
        client = self._client()
        if not client.rebalance.changed:
            return raws
        assigned, revoked, lost = client.rebalance.take()
        kept = self._taken_away(raws, revoked, lost) if revoked or lost else raws
        if assigned:  # after the closing: a partition assigned back gets a fresh producer
            self._prepare(assigned)
        return kept

    def _taken_away(self, raws: list[Any], revoked: set[PartitionKey],
                    lost: set[PartitionKey]) -> list[Any]:
        gone = revoked | lost
        kept, first_dropped = _without(raws, gone)
        owned = self._client().rebalance.assignment
        for key, offset in first_dropped.items():
            if key in owned:
                self._client().seek(key[0], key[1], offset)
        self.let_go(self._partitions.remove(revoked - lost))
        self.let_go(self._partitions.remove(lost), lost=True)
        self._release(gone)  # partitions never served too (prepared, no message yet)
        return kept

    def let_go(self, gone: list[Served], lost: bool = False) -> None:
        """Mark partitions revoked and run their consumers' ``revoked`` hooks.

        Revoked and lost partitions are heard the same way. A partition whose long-running
        job still runs hears it once the job ended; a lost one's async jobs are cancelled
        (their work can no longer be committed), so that ending comes soon.
        """
        for served in gone:
            served.state.revoke()
            if served.context.transactions is not None:
                served.context.transactions.close()  # the next owner fences it anyway
        held = self._long.let_go(gone)
        if lost and held:
            self._cancel(held)
        elif held:
            self._long.grant(held, self._clock() + self._grace)
        self._jobs.run(Revoked(executor, self._group_id) for served in gone
                       if served not in held for executor in served.executors()
                       if executor.consumer)

    def cancel_overdue(self) -> None:
        """Cancel the async jobs of revoked partitions that ran out their grace."""
        overdue = self._long.overdue(self._clock())
        if overdue:
            self._cancel(overdue)

    def _cancel(self, held: list[Served]) -> None:
        """Cancel the async jobs of ``held`` partitions (a sync job runs to its end)."""
        executors = {id(executor) for served in held for executor in served.executors()}
        self._jobs.cancel(lambda job: id(job.executor) in executors)


def _without(raws: list[Any], gone: set[PartitionKey]
             ) -> tuple[list[Any], dict[PartitionKey, int]]:
    """The messages of partitions not in ``gone``, and the first offset dropped of each."""
    kept: list[Any] = []
    first_dropped: dict[PartitionKey, int] = {}
    for raw in raws:
        key = (raw.topic(), raw.partition())
        if key not in gone:
            kept.append(raw)
        elif raw.error() is None:
            offset = raw.offset()
            first_dropped[key] = min(offset, first_dropped.get(key, offset))
    return kept, first_dropped
