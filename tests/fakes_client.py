"""A fake subscription-group client: records stores, seeks, pauses, resumes and commits."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from engine.connection.rebalance import RebalanceTracker


class FakeClient:
    """Stands in for ``engine.connection.client.Client`` in unit and stateful tests.

    ``fail_seeks`` makes that many seeks fail (as the real client reports a refused seek);
    ``polls`` holds the batches the next ``poll_batch`` calls return, in order.
    """

    def __init__(self, *_: Any) -> None:
        self.stored: dict[tuple[str, int], int] = {}
        self.metadata: dict[tuple[str, int], str | None] = {}
        # what committed() answers: (offset, metadata) per partition, set by a test
        self.commits: dict[tuple[str, int], tuple[int, str | None]] = {}
        self.positions: dict[tuple[str, int], int] = {}
        self.paused: set[tuple[str, int]] = set()
        self.lost: set[tuple[str, int]] = set()
        self.calls: list[tuple[Any, ...]] = []
        self.rebalance = RebalanceTracker()
        self.polls: deque[list[Any]] = deque()
        self.fatal_error: Any = None
        self.connected = True
        self.fail_seeks = 0

    def check_config(self) -> None:
        pass

    def connect(self) -> None:
        self.connected = True

    def poll_batch(self, max_messages: int, max_wait_time: float, stopping: Callable[[], bool],
                   *, between_slices: Callable[[], None]) -> list[Any]:
        return self.polls.popleft() if self.polls else []

    def store_offset(self, topic: str, partition: int, offset: int,
                     metadata: str | None = None) -> bool:
        if (topic, partition) in self.lost:
            return False
        self.stored[(topic, partition)] = offset
        self.metadata[(topic, partition)] = metadata
        self.calls.append(("store", topic, partition, offset))
        return True

    def committed(self, topic: str, partition: int) -> tuple[int, str | None] | None:
        return self.commits.get((topic, partition))

    def assignment_lost(self) -> bool:
        return False

    def commit(self, sync: bool) -> bool:
        self.calls.append(("commit", sync))
        return True

    def pause(self, topic: str, partition: int, offset: int | None = None,
              timeout: float | None = None) -> bool:
        self.paused.add((topic, partition))
        self.calls.append(("pause", topic, partition, offset, timeout))
        return True

    def pause_all(self) -> None:
        self.calls.append(("pause_all",))

    def resume(self, topic: str, partition: int) -> bool:
        self.paused.discard((topic, partition))
        self.calls.append(("resume", topic, partition))
        return True

    def seek(self, topic: str, partition: int, offset: int) -> bool:
        if self.fail_seeks:
            self.fail_seeks -= 1
            self.calls.append(("seek failed", topic, partition, offset))
            return False
        self.positions[(topic, partition)] = offset
        self.calls.append(("seek", topic, partition, offset))
        return True

    def high_watermark(self, topic: str, partition: int) -> int | None:
        return None

    def offset_for_time(self, topic: str, partition: int, moment: Any) -> int:
        self.calls.append(("offset_for_time", topic, partition, moment))
        return 0

    def group_metadata(self) -> Any:
        self.calls.append(("group_metadata",))
        return "group-metadata"

    def close(self, timeout: float) -> None:
        self.calls.append(("close",))
        self.connected = False

    def close_if_idle(self, timeout: float) -> bool:
        self.close(timeout)
        return True
