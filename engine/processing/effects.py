"""What a partition's state asks of the Kafka client: pause, seek, resume.

The state decides; it never calls the client. Its verbs return these effects and the
listener, the one thread that polls, applies them in order
(``engine.connection.partition_effects``).
"""

from __future__ import annotations

from typing import NamedTuple


class Pause(NamedTuple):
    """Stop fetching the partition; ``offset`` and ``timeout`` are reported, not enforced.

    The engine's clock ends the pause (``PartitionState.resume``), never librdkafka.
    """

    offset: int | None = None
    timeout: float | None = None


class Seek(NamedTuple):
    """Fetch the partition from ``offset`` next.

    A refused seek is told back to the state (``PartitionState.seek_refused``), and the
    effects after it are dropped: the partition never resumes from a wrong position.
    """

    offset: int


class Resume(NamedTuple):
    """Fetch the partition again."""


Effect = Pause | Seek | Resume
"""One thing the client is asked to do for a partition."""

NO_EFFECTS: tuple[Effect, ...] = ()
"""What a verb returns when the client has nothing to do (shared: never mutated)."""
