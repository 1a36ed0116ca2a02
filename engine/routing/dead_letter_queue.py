"""Where a message goes after it failed too often."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeadLetterQueue:
    """Send a message that still fails after ``max_retries`` retries to ``topic``, then skip it."""

    topic: str
    max_retries: int = 3
