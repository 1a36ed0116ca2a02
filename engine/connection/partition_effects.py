"""The listener applies what a partition's state asks of the client, in order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from engine.processing.effects import Effect, Pause, Resume, Seek
from engine.processing.partition_state import PartitionState


class EffectsClient(Protocol):
    """The client calls effects need (``engine.connection.client.Client`` has them)."""

    def pause(self, topic: str, partition: int, offset: int | None = None,
              timeout: float | None = None) -> bool: ...
    def resume(self, topic: str, partition: int) -> bool: ...
    def seek(self, topic: str, partition: int, offset: int) -> bool: ...


def apply_effects(client: EffectsClient, state: PartitionState, effects: Iterable[Effect]) -> None:
    """Make the client calls ``effects`` name for ``state``'s partition (listener thread).

    None once the partition was revoked (what it asked for no longer matters; a partition
    whose store was refused may still be assigned, so its pause and resume still go). A
    refused seek is told to the state; the effects after it are dropped in favour of what
    the state answers (it stays paused and seeks again later), so a partition never resumes
    from a wrong position.
    """
    if state.was_revoked:
        return
    topic, partition = state.topic, state.partition
    for effect in effects:
        if isinstance(effect, Seek):
            if not client.seek(topic, partition, effect.offset):
                apply_effects(client, state, state.seek_refused(effect.offset))
                return
        elif isinstance(effect, Pause):
            client.pause(topic, partition, effect.offset, effect.timeout)
        elif isinstance(effect, Resume):
            client.resume(topic, partition)
