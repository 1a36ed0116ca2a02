"""What a listener needs of its Kafka client (the real ``Client``, or the testing kit's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from engine.connection.partition_effects import EffectsClient
from engine.connection.rebalance import RebalanceTracker
from engine.processing.offsets_port import OffsetsPort


class ListenerClient(EffectsClient, OffsetsPort, Protocol):
    """A subscription group's connection as the listener drives it.

    It applies partitions' effects and is the offsets port of their contexts.
    """

    rebalance: RebalanceTracker
    fatal_error: Any

    @property
    def connected(self) -> bool: ...
    def check_config(self) -> None: ...
    def connect(self) -> None: ...
    def poll_batch(self, max_messages: int, max_wait_time: float, stopping: Callable[[], bool],
                   *, between_slices: Callable[[], None]) -> list[Any]: ...
    def pause_all(self) -> None: ...
    def close(self, timeout: float) -> bool: ...
    def close_if_idle(self, timeout: float) -> bool: ...
