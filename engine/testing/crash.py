"""How ``crash(after=k)`` kills the process inside a consume job, after k messages were taken."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import overload

from engine.messages import Message, Messages, RawMessage
from engine.messages.deserializers import DEFAULT, Deserializers
from engine.processing.death import ProcessDeath


class CrashPlan:
    """A crash waiting for the next consume job (``after``: messages it may take first)."""

    def __init__(self) -> None:
        self._after: int | None = None
        self.on_death: Callable[[], None] = lambda: None
        """Told of a death before it is raised (the transaction coordinator's ``die``)."""

    def arm(self, after: int) -> None:
        """Crash the next consume job once its consumer took ``after`` messages."""
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise ValueError(f"crash(after=...) takes an integer >= 0 (got {after!r})")
        self._after = after

    @property
    def armed(self) -> bool:
        """Whether a crash waits."""
        return self._after is not None

    def take(self) -> int | None:
        """The armed limit, disarmed now (None when nothing waits)."""
        after, self._after = self._after, None
        return after


class TakenMessages(Messages):
    """A batch that knows which messages the consumer took.

    Taking is iterating, indexing, ``first()``, ``last()``, ``payloads`` or reading through
    ``raw``. While a crash is armed, taking one message more than allowed raises
    ``ProcessDeath``. A batch the consumer keeps (a buffering sink) and reads after its call
    returned is taken then, each message reported to ``later``. Only the harness hands these
    out: production batches count nothing.
    """

    __slots__ = ("_last", "_later", "_limit", "_on_death", "_order", "_taken", "_watching")

    def __init__(self, raws: Sequence[RawMessage], topic: str, partition: int,
                 polled_at: float, deserializers: Deserializers = DEFAULT) -> None:
        super().__init__(raws, topic, partition, polled_at, deserializers)
        self._taken: set[int] = set()
        self._order: list[int] = []  # indexes taken while watched, in the order taken
        self._last: int | None = None
        self._watching = False
        self._limit: int | None = None
        self._later: Callable[[int], None] | None = None
        self._on_death: Callable[[], None] = lambda: None

    @property
    def taken_offsets(self) -> list[int]:
        """Offsets of the messages taken while watched, in offset order."""
        return [self._raws[index].offset() or 0 for index in sorted(self._taken)]

    @property
    def taken_in_order(self) -> list[Message]:
        """The messages taken while watched, in the order taken (reading them takes none)."""
        cache, origin = self._cache, self._origin
        return [cache.get(index) or Message(self._raws[index], origin) for index in self._order]

    @property
    def last_taken(self) -> int | None:
        """The offset of the message the consumer took last (None: none yet)."""
        return None if self._last is None else self._raws[self._last].offset() or 0

    @property
    def delivered(self) -> Sequence[RawMessage]:
        """Every polled message, read without taking any (what the history records)."""
        return self._raws

    @property
    def raw(self) -> Sequence[RawMessage]:
        """As ``Messages.raw``; each message read through it counts as taken."""
        return TakenRaws(self)

    def watch(self, limit: int | None, on_death: Callable[[], None] | None = None) -> None:
        """Count what the consumer takes from now on; die past ``limit`` (None: never).

        ``on_death`` is told first when it dies.
        """
        self._watching, self._limit = True, limit
        if on_death is not None:
            self._on_death = on_death

    @property
    def later(self) -> Callable[[int], None] | None:
        """Where messages taken after the call are reported (None: nowhere)."""
        return self._later

    def unwatch(self) -> None:
        """Stop counting (the consume call ended)."""
        self._watching, self._limit = False, None

    def keep(self, later: Callable[[int], None] | None) -> None:
        """From now on, report the offset of each message taken for the first time to ``later``.

        None stops reporting (while event receivers read the batch, say).
        """
        self._later = later

    def __iter__(self) -> Iterator[Message]:
        """As ``Messages``, counting each message as it is taken."""
        cache, origin, take = self._cache, self._origin, self.take
        for index, raw in enumerate(self._raws):
            take(index)
            yield cache.get(index) or Message(raw, origin)

    def __getitem__(self, index: int) -> Message:
        """As ``Messages``, counting the message taken."""
        if index < 0:
            index += len(self._raws)
        if 0 <= index < len(self._raws):
            self.take(index)
        return super().__getitem__(index)

    def take(self, index: int) -> None:
        """The consumer took the message at ``index`` (dies first if that is one too many)."""
        if index in self._taken:
            return
        if not self._watching:
            self._take_later(index)
            return
        if self._limit is not None and len(self._taken) >= self._limit:
            self._on_death()
            raise ProcessDeath(f"crash after {self._limit} message(s) of {self!r}")
        self._taken.add(index)
        self._order.append(index)
        self._last = index

    def _take_later(self, index: int) -> None:
        if self._later is not None:
            self._taken.add(index)
            self._later(self._raws[index].offset() or 0)


class TakenRaws(Sequence[RawMessage]):
    """``messages.raw`` of a watched batch: reading a message (index, slice, loop) takes it.

    ``len()`` takes nothing; a slice takes each message in it as it is made.
    """

    __slots__ = ("_batch",)

    def __init__(self, batch: TakenMessages) -> None:
        self._batch = batch

    def __len__(self) -> int:
        """How many messages the batch holds."""
        return len(self._batch.delivered)

    @overload
    def __getitem__(self, index: int) -> RawMessage: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RawMessage]: ...

    def __getitem__(self, index: int | slice) -> RawMessage | Sequence[RawMessage]:
        """The raw message(s) at ``index``, taken."""
        raws = self._batch.delivered
        if isinstance(index, slice):
            for position in range(*index.indices(len(raws))):
                self._batch.take(position)
            return raws[index]
        position = index + len(raws) if index < 0 else index
        if 0 <= position < len(raws):
            self._batch.take(position)
        return raws[index]

    def __iter__(self) -> Iterator[RawMessage]:
        """The raw messages in order, each taken as it is reached."""
        for index, raw in enumerate(self._batch.delivered):
            self._batch.take(index)
            yield raw
