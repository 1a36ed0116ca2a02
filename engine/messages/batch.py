"""A batch of messages from one partition."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import repeat

from engine.messages.deserializers import DEFAULT, Deserializers
from engine.messages.message import Message, Origin, RawMessage
from engine.messages.metadata import BatchMetadata


class Messages:
    """Iterable, sized batch of one partition.

    Iterating builds light ``Message`` wrappers on the fly (so they die with the batch);
    ``first()``, ``last()`` and indexing return the same object on every call.
    """

    __slots__ = ("_cache", "_origin", "_raws", "metadata")

    def __init__(
        self, raws: Sequence[RawMessage], topic: str, partition: int, polled_at: float,
        deserializers: Deserializers = DEFAULT,
    ) -> None:
        self._raws = raws
        self._origin = Origin(topic, partition, deserializers)
        self._cache: dict[int, Message] = {}
        self.metadata = BatchMetadata(raws, topic, partition, polled_at)

    @property
    def topic(self) -> str:
        """The batch's topic."""
        return self._origin.topic

    @property
    def partition(self) -> int:
        """The batch's partition."""
        return self._origin.partition

    def __len__(self) -> int:
        """How many messages the batch holds."""
        return len(self._raws)

    def __iter__(self) -> Iterator[Message]:
        """Messages in offset order (an indexed message is yielded as that same object)."""
        if not self._cache:
            return map(Message, self._raws, repeat(self._origin))  # no Python frame per item
        return self._iterate_cached()

    def _iterate_cached(self) -> Iterator[Message]:
        cache, origin = self._cache, self._origin
        for index, raw in enumerate(self._raws):
            yield cache.get(index) or Message(raw, origin)

    def __getitem__(self, index: int) -> Message:
        """The message at ``index`` (negative counts from the end); stable across calls."""
        if index < 0:
            index += len(self._raws)
        message = self._cache.get(index)
        if message is None:
            message = self._cache[index] = Message(self._raws[index], self._origin)
        return message

    def first(self) -> Message | None:
        """The first message, or None for an empty batch."""
        return self[0] if self._raws else None

    def last(self) -> Message | None:
        """The last message, or None for an empty batch."""
        return self[-1] if self._raws else None

    @property
    def payloads(self) -> list[object]:
        """Every deserialized payload, in order."""
        return [message.payload for message in self]

    @property
    def raw(self) -> Sequence[RawMessage]:
        """The polled messages as the client returned them."""
        return self._raws

    def __repr__(self) -> str:
        """Topic, partition and offset range."""
        meta = self.metadata
        return f"<Messages {self.topic}/{self.partition} {meta.first_offset}..{meta.last_offset}>"
