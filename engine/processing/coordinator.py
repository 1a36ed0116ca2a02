"""Per-partition processing state: where to resume, pause and failure, revocation."""

from __future__ import annotations

from engine.processing.pause_tracker import PauseTracker


class Coordinator:
    """State of one (topic, partition) for one listener, shared by its jobs.

    ``seek_offset`` is the first offset not yet marked as consumed: where a retry restarts.
    """

    __slots__ = (
        "failure", "manual_pause", "manual_seek", "partition", "pause_tracker", "revoked",
        "seek_offset", "topic",
    )

    def __init__(self, topic: str, partition: int, pause_tracker: PauseTracker) -> None:
        self.topic = topic
        self.partition = partition
        self.pause_tracker = pause_tracker
        self.seek_offset: int | None = None
        self.revoked = False
        self.failure: BaseException | None = None
        self.manual_pause = False
        self.manual_seek = False

    def start(self, first_offset: int) -> None:
        """A new batch begins at ``first_offset``."""
        self.failure = None
        self.manual_pause = self.manual_seek = False
        if self.seek_offset is None:
            self.seek_offset = first_offset

    def marked(self, offset: int) -> None:
        """``offset`` was marked: processing resumes after it."""
        self.seek_offset = offset + 1

    @property
    def manual(self) -> bool:
        """Whether the consumer paused or sought by itself during this batch."""
        return self.manual_pause or self.manual_seek
