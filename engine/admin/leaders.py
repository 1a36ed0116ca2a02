"""Waiting until new partitions have leaders: producers and offset reads need one."""

from __future__ import annotations

import time
from typing import Any


def wait_for_leaders(admin: Any, topics: dict[str, int], timeout: float) -> None:
    """Poll metadata until every partition of ``topics`` is there with a leader.

    Raises ``TimeoutError`` naming the topics still waiting after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    waiting = dict(topics)
    while waiting:
        metadata = admin.list_topics(timeout=max(0.1, deadline - time.monotonic()))
        for name, count in list(waiting.items()):
            found = metadata.topics.get(name)
            if found is not None and found.error is None and len(
                    [p for p in found.partitions.values() if p.leader >= 0]) >= count:
                del waiting[name]
        if waiting and time.monotonic() > deadline:
            raise TimeoutError(f"topics {sorted(waiting)} have no leader for every partition"
                               f" after {timeout}s")
        if waiting:
            time.sleep(0.05)  # metadata polling: there is nothing to wait on instead
