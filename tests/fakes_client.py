"""A fake subscription-group client: records stores, seeks, pauses, resumes and commits."""

from __future__ import annotations

from typing import Any


class FakeClient:
    """Stands in for ``engine.connection.client.Client`` in unit and stateful tests."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str, int], int] = {}
        self.positions: dict[tuple[str, int], int] = {}
        self.paused: set[tuple[str, int]] = set()
        self.lost: set[tuple[str, int]] = set()
        self.calls: list[tuple[Any, ...]] = []

    def store_offset(self, topic: str, partition: int, offset: int) -> bool:
        if (topic, partition) in self.lost:
            return False
        self.stored[(topic, partition)] = offset
        self.calls.append(("store", topic, partition, offset))
        return True

    def commit(self, sync: bool) -> bool:
        self.calls.append(("commit", sync))
        return True

    def pause(self, topic: str, partition: int, offset: int | None = None,
              timeout: float | None = None) -> bool:
        self.paused.add((topic, partition))
        self.calls.append(("pause", topic, partition, offset, timeout))
        return True

    def resume(self, topic: str, partition: int) -> bool:
        self.paused.discard((topic, partition))
        self.calls.append(("resume", topic, partition))
        return True

    def seek(self, topic: str, partition: int, offset: int) -> bool:
        self.positions[(topic, partition)] = offset
        self.calls.append(("seek", topic, partition, offset))
        return True

    def high_watermark(self, topic: str, partition: int) -> int | None:
        return None

    def seek_target(self, topic: str, partition: int, target: Any) -> int:
        offset = {"earliest": -2, "latest": -1}.get(target, target)
        self.seek(topic, partition, offset)
        return int(offset)
