"""What the harness delivered and committed, and the Jepsen-style checks over it.

Over 250 lines on purpose: each check reads the records right beside it, and the records and
their checks change together.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from engine.processing.partitions import PartitionKey
from engine.testing.errors import HistoryError

if TYPE_CHECKING:
    from engine.consumer import Consumer
    from engine.messages import Message
    from engine.testing.crash import TakenMessages


class Position(NamedTuple):
    """One message's place: ``topic/partition@offset``."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        """``topic/partition@offset``."""
        return f"{self.topic}/{self.partition}@{self.offset}"


@dataclass(frozen=True)
class Delivery:
    """One message handed to one ``consume`` call, and how that call ended.

    ``outcome``: ``"ok"`` (returned), ``"failed"`` (raised) or ``"crashed"`` (the process
    died during it). ``member``: the number of the process that ran it (0 unless others
    joined).
    """

    topic: str
    partition: int
    offset: int
    attempt: int
    consumer: Any
    outcome: str
    consumer_group: str
    member: int = 0

    @property
    def position(self) -> Position:
        """Where the message sits."""
        return Position(self.topic, self.partition, self.offset)


@dataclass(frozen=True)
class DuplicatedOutput:
    """One output found more than once: its identity, key and payload bytes, every copy."""

    identity: Any
    key: bytes | None
    payload: bytes | None
    positions: tuple[Position, ...]

    def __str__(self) -> str:
        """The payload and where its copies sit."""
        return f"{self.payload!r} at {', '.join(map(str, self.positions))}"


class ConsumeCall:
    """One ``consume`` call while it runs (marks made meanwhile count what was taken)."""

    def __init__(self, history: History, consumer_group: str, consumer: Consumer,
                 messages: TakenMessages, attempt: int, member: int = 0) -> None:
        self.history, self.consumer_group, self.consumer = history, consumer_group, consumer
        self.member = member
        self.messages, self.attempt = messages, attempt
        self.key: PartitionKey = (messages.topic, messages.partition)
        self.sought = False
        self.marked: int | None = None  # the furthest offset the consumer itself marked
        self.cut_short: int | None = None  # the message a failed produce left unfinished

    def end(self, outcome: str, error: BaseException | None = None, *,
            returned: bool = False) -> None:
        """The call ended: record each message's delivery; a return processes what it took.

        A message the consumer took, or marked past itself, was processed; the rest of the
        batch was not (an error swallowed, a batch left after a pause) and is lost unless it
        comes again.
        """
        self.history._ended(self, outcome, error, returned or outcome == "ok")

    def done(self) -> list[int]:
        """Offsets the returned call processed: taken, or below the consumer's own mark."""
        marked = -1 if self.marked is None else self.marked
        taken = set(self.messages.taken_offsets)
        return [offset for raw in self.messages.delivered
                if (offset := raw.offset() or 0) in taken or offset < marked]

    def taken_later(self, offset: int) -> None:
        """The consumer kept the batch and took a message of it after the call: processed."""
        self.history._process(self.consumer_group, self.consumer, self.key, [offset])


class History:
    """Every delivery, what counts as processed, and commits checked as they happen.

    A message is processed when the consumer took it (iterating, indexing, ``first()``,
    ``last()``, ``payloads``, ``raw``) in a ``consume`` call that returned or later (a kept
    batch), when it took it and then marked past it, when a returned call marked past it,
    or when it was dead-lettered. Delivered and never taken is not processed: unless it comes
    again, it is ``lost()``. Nor is the message the consumer took last when one of its produce
    calls failed or died and the call then raised or the process died: its handling was cut
    short, even if it was marked (a commit that covered it is ``committed_beyond_processed``).
    """

    def __init__(self, end_of: Callable[[str, int], int]) -> None:
        self._end_of = end_of
        self.deliveries: list[Delivery] = []
        self._processed: dict[str, set[Position]] = {}
        self._started: dict[str, dict[PartitionKey, int]] = {}
        self._committed: dict[str, dict[PartitionKey, int]] = {}
        self._beyond: list[Position] = []
        self._reordered: list[Position] = []
        self._last: dict[int, int] = {}      # consumer id -> last offset it processed
        self._consumer_group_of: dict[int, str] = {}  # consumer id -> its consumer group
        self._current: ConsumeCall | None = None
        self._failing: dict[str, set[Position]] = {}  # failed, not processed since
        self._taken: dict[str, set[Position]] = {}  # taken by a consume call, however it ended
        self.last_error: dict[PartitionKey, BaseException] = {}
        self.crashes = 0
        # (consumer group, topic) -> the partitioner of a topic with virtual partitions
        self._split: dict[tuple[str, str], Callable[[Any], Any]] = {}
        self._read: Callable[[str], list[Message]] = lambda _topic: []
        self._never_delivered: Callable[[str, int, int], bool] = lambda *_: False

    def read_topics(self, read: Callable[[str], list[Message]],
                    never_delivered: Callable[[str, int, int], bool]) -> None:
        """How to read a topic as ``read_committed`` does, and which offsets it never gets.

        Aborted records and transaction markers are never delivered, so they are neither
        ``lost`` nor committed beyond what was processed.
        """
        self._read, self._never_delivered = read, never_delivered

    def split_by(self, partitioners: dict[tuple[str, str], Callable[[Any], Any]]) -> None:
        """Topics with virtual partitions (consumer group, topic): order checked per value."""
        self._split = dict(partitioners)

    # -- recording (the harness's parts call these) --------------------------------------------

    def started(self, consumer_group: str, key: PartitionKey, offset: int) -> None:
        """The group first consumes a partition from ``offset`` (no commit yet)."""
        self._started.setdefault(consumer_group, {}).setdefault(key, offset)

    def begin(self, consumer_group: str, consumer: Consumer, messages: TakenMessages,
              attempt: int, *, member: int = 0) -> ConsumeCall:
        """A consume call starts; a first attempt behind the instance's progress is a reorder."""
        last = self._last.get(id(consumer))
        first = messages.metadata.first_offset
        split = (consumer_group, messages.topic) in self._split  # checked per value instead
        if attempt == 1 and last is not None and first <= last and not split:
            self._reordered.append(Position(messages.topic, messages.partition, first))
        self._consumer_group_of[id(consumer)] = consumer_group
        self._current = ConsumeCall(self, consumer_group, consumer, messages, attempt, member)
        return self._current

    def stored(self, consumer_group: str, key: PartitionKey, offset: int,
               completed: Iterable[int] = ()) -> None:
        """An offset was stored: inside a consume call, what was taken below it is processed.

        ``completed``: offsets above it the virtual partitions marked (the commit's
        metadata): processed when a consume call took them, however it ended (the engine's
        word alone proves nothing: a message marked but never taken stays unprocessed).
        """
        processed = self._processed.setdefault(consumer_group, set())
        failing = self._failing.get(consumer_group, set())
        taken = self._taken.get(consumer_group, set())
        for done in completed:
            position = Position(*key, done)
            if position in taken:
                processed.add(position)
                failing.discard(position)
        call = self._current
        if call is not None and call.consumer_group == consumer_group and call.key == key:
            call.marked = max(offset, -1 if call.marked is None else call.marked)
            self._process(consumer_group, call.consumer, key,
                          (taken for taken in call.messages.taken_offsets if taken < offset))

    def committed(self, consumer_group: str, key: PartitionKey, offset: int) -> None:
        """A commit: everything from the previous one up to ``offset`` must be processed."""
        start = self._started.get(consumer_group, {}).get(key, 0)
        low = self._committed.get(consumer_group, {}).get(key, start)
        processed = self._processed.get(consumer_group, set())
        self._beyond += [Position(*key, at) for at in range(low, offset)
                         if Position(*key, at) not in processed
                         and not self._never_delivered(*key, at)]
        self._committed.setdefault(consumer_group, {})[key] = offset

    def dead_lettered(self, consumer: object, topic: str, partition: int, offset: int,
                      groups: Iterable[str]) -> None:
        """A message went to the dead-letter queue: processed (for the consumer's group)."""
        consumer_group = self._consumer_group_of.get(id(consumer))
        for name in [consumer_group] if consumer_group is not None else groups:
            self._process(name, consumer, (topic, partition), [offset])

    def sought(self, consumer: object) -> None:
        """The consumer moved its position itself (seek, or a pause at an offset)."""
        self._last.pop(id(consumer), None)
        call = self._current
        if call is not None and call.consumer is consumer:
            call.sought = True  # what this call processes no longer sets the progress

    def produce_failed(self) -> None:
        """A produce call of the running consume call failed or died: its message is unfinished."""
        call = self._current
        if call is not None and call.messages.last_taken is not None:
            call.cut_short = call.messages.last_taken

    def crashed(self, keys: Iterable[PartitionKey] | None = None) -> None:
        """A process died (owning ``keys``; None: every process, and every partition)."""
        self.crashes += 1
        self._current = None
        # its partitions are fetched again from the committed offsets, by a new process
        if keys is None:
            self._failing.clear()
            return
        gone = set(keys)
        for failing in self._failing.values():
            failing.difference_update([f for f in failing if (f.topic, f.partition) in gone])

    def _ended(self, call: ConsumeCall, outcome: str, error: BaseException | None,
               returned: bool) -> None:
        topic, partition = call.key
        partitioner = self._split.get((call.consumer_group, topic))
        if partitioner is not None:
            self._reordered += out_of_value_order(call.messages, partitioner)
            self._taken.setdefault(call.consumer_group, set()).update(
                Position(topic, partition, offset) for offset in call.messages.taken_offsets)
        # a message cut short that the consumer marked past itself is no failure the engine
        # must retry: it is the consumer's loss (``lost``, ``committed_beyond_processed``)
        marked_away: Position | None = None
        if not returned and call.cut_short is not None:
            cut_short = Position(topic, partition, call.cut_short)
            self._unprocess(call.consumer_group, cut_short)
            if call.marked is not None and call.marked > cut_short.offset:
                marked_away = cut_short
        self.deliveries += [
            Delivery(topic, partition, raw.offset() or 0, call.attempt, call.consumer, outcome,
                     call.consumer_group, call.member)
            for raw in call.messages.delivered
        ]
        if returned:
            self._process(call.consumer_group, call.consumer, call.key, call.done())
            # retried and returned: the engine did its part (``lost`` judges the consumer's)
            self._failing.get(call.consumer_group, set()).difference_update(
                Position(topic, partition, raw.offset() or 0) for raw in call.messages.delivered)
        elif error is not None:
            self.last_error[call.key] = error
            if outcome == "failed" and not call.sought:  # a seek of its own is deliberate
                done = self._processed.get(call.consumer_group, set())
                self._failing.setdefault(call.consumer_group, set()).update(
                    failed for raw in call.messages.delivered
                    if (failed := Position(topic, partition, raw.offset() or 0)) not in done
                    and failed != marked_away)
        self._current = None

    def _process(self, consumer_group: str, consumer: object, key: PartitionKey,
                 offsets: Iterable[int]) -> None:
        processed = self._processed.setdefault(consumer_group, set())
        failing = self._failing.get(consumer_group, set())
        call = self._current
        moved = call is not None and call.consumer is consumer and call.sought
        for offset in offsets:
            processed.add(Position(*key, offset))
            failing.discard(Position(*key, offset))
            if not moved and offset > self._last.get(id(consumer), -1):
                self._last[id(consumer)] = offset

    def _unprocess(self, consumer_group: str, position: Position) -> None:
        self._processed.get(consumer_group, set()).discard(position)
        key = (position.topic, position.partition)
        committed = self._committed.get(consumer_group, {}).get(key)
        if committed is not None and committed > position.offset:
            self._beyond.append(position)

    # -- checks --------------------------------------------------------------------------------

    def processed(self, group: str | None = None) -> list[Position]:
        """Positions processed (by ``group``, or by any group), in order."""
        if group is not None:
            return sorted(self._processed.get(group, ()))
        return sorted(set().union(*self._processed.values()) if self._processed else ())

    def lost(self) -> list[Position]:
        """Produced at or after a group's starting point and never processed by that group."""
        lost: set[Position] = set()
        for consumer_group, starts in self._started.items():
            processed = self._processed.get(consumer_group, set())
            for key, start in starts.items():
                lost.update(Position(*key, offset) for offset in range(start, self._end_of(*key))
                            if Position(*key, offset) not in processed
                            and not self._never_delivered(*key, offset))
        return sorted(lost)

    def passed_over(self, consumer_group: str, key: PartitionKey, position: int) -> list[Position]:
        """Failed messages below a fetch ``position``: never retried, processed nor dead-lettered.

        A failure is retried from where it failed, so a position beyond it means the engine
        gave up on work it still had (``run()`` refuses to call that idle).
        """
        return sorted(failed for failed in self._failing.get(consumer_group, ())
                      if (failed.topic, failed.partition) == key and failed.offset < position)

    def reordered(self) -> list[Position]:
        """First-attempt batches that started at or below their instance's progress.

        On a topic with virtual partitions, messages a consume call took before an earlier
        message with the same partitioner value (other values may interleave; unkeyed ones,
        the value None, are in no order).
        """
        return list(self._reordered)

    def committed_beyond_processed(self) -> list[Position]:
        """Positions a commit covered before they were processed."""
        return sorted(set(self._beyond))

    def duplicates(self) -> list[Position]:
        """Positions delivered to ``consume`` more than once (retries included); informational."""
        counts = Counter((d.consumer_group, d.position) for d in self.deliveries)
        return sorted({position for (_, position), count in counts.items() if count > 1})

    def duplicated_output(self, topic: str, *, identity: Callable[[Message], Hashable] | None
                          = None) -> list[DuplicatedOutput]:
        """Output messages ``topic`` holds more than once, as a ``read_committed`` reader sees it.

        Two messages are the same output when ``identity(message)`` is equal; by default when
        their key and payload bytes are equal (``(message.raw_key, message.raw_payload)``,
        headers and timestamps aside). Give an ``identity`` when distinct inputs may make equal
        outputs (key by the source offset the output carries, say). Each duplicate lists the
        positions of every copy, in the order appended, and the key and payload as stored.
        """
        copies: dict[Hashable, list[Message]] = {}
        for message in self._read(topic):
            found = (message.raw_key, message.raw_payload) if identity is None else \
                identity(message)
            copies.setdefault(found, []).append(message)
        return [DuplicatedOutput(found, messages[0].raw_key, messages[0].raw_payload,
                                 tuple(Position(m.topic, m.partition, m.offset)
                                       for m in messages))
                for found, messages in copies.items() if len(messages) > 1]

    def check_output(self, topic: str, *, identity: Callable[[Message], Hashable] | None
                     = None) -> None:
        """Raise ``HistoryError`` when ``duplicated_output(topic, identity=...)`` finds any."""
        duplicated = self.duplicated_output(topic, identity=identity)
        if duplicated:
            raise HistoryError({f"duplicated_output({topic!r})": list(duplicated)})

    def violations(self, *, include_lost: bool = True) -> dict[str, list[Position]]:
        """Each check's violations (``lost`` only with ``include_lost``)."""
        found = {"reordered": self.reordered(),
                 "committed_beyond_processed": self.committed_beyond_processed()}
        if include_lost:
            found = {"lost": self.lost(), **found}
        return found

    def check(self, *, include_lost: bool = True) -> None:
        """Raise ``HistoryError`` listing every violation (``lost`` needs a run to idle)."""
        found = self.violations(include_lost=include_lost)
        if any(found.values()):
            raise HistoryError({name: list(positions) for name, positions in found.items()})

    def __len__(self) -> int:
        """How many deliveries were recorded."""
        return len(self.deliveries)


def out_of_value_order(messages: TakenMessages, partitioner: Callable[[Any], Any]
                       ) -> list[Position]:
    """Messages taken after a later one with the same partitioner value (None: any order)."""
    latest: dict[Any, int] = {}
    found = []
    for message in messages.taken_in_order:
        try:
            value = partitioner(message)
            hash(value)
        except Exception:  # noqa: BLE001 - the engine reports a partitioner's failure itself
            continue
        if value is None:
            continue
        if message.offset < latest.get(value, -1):
            found.append(Position(messages.topic, messages.partition, message.offset))
        latest[value] = max(message.offset, latest.get(value, -1))
    return found
