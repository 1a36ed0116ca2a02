"""The in-memory transactional producer: Kafka transactions over the harness's log.

``MemoryTransactions`` is the harness's transaction coordinator; its ``client`` is the
``transactional_factory`` of the harness's partitions. Records a transaction produces are
appended at once (they take offsets) but ``read_committed`` readers see them only once it
commits, never once it aborts; the offsets it carries reach the group only at its commit.
Its end writes a marker to each partition it appended to, taking an offset, as Kafka's do.
``init_transactions`` with a ``transactional.id`` already in use fences the previous
producer: its open transaction aborts, and its later calls raise librdkafka's fatal
``_FENCED``. While a simulated death unwinds (``dying``), the dead process's calls do nothing,
as after a SIGKILL: its transaction stays open until the next owner's ``init_transactions``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException

from engine.testing.log import TransactionRecords
from engine.testing.memory_producer import DeliveryCallback, DeliveryReports, encode_headers

if TYPE_CHECKING:
    from engine.testing.faults import Faults
    from engine.testing.history import History
    from engine.testing.log import Log

OUTCOMES = ("committed", "aborted", "fenced")
"""How a transaction ends: committed, aborted by its producer, or aborted by fencing."""


def _error(code: int, reason: str, *, fatal: bool = False) -> KafkaException:
    return KafkaException(KafkaError(code, reason, fatal=fatal))


class MemoryTransactions:
    """The harness's transaction coordinator: producers by ``transactional.id``, outcomes.

    ``outcomes`` lists ``(transactional_id, outcome)`` per ended transaction, in order (an
    outcome of ``OUTCOMES``).
    """

    def __init__(self, log: Log, faults: Faults, history: History) -> None:
        self.log = log
        self.faults = faults
        self.history = history
        self.dying = False
        self.outcomes: list[tuple[str, str]] = []
        self._owners: dict[str, MemoryTransactionalProducer] = {}

    def client(self, config: dict[str, Any]) -> MemoryTransactionalProducer:
        """A transactional producer client (a ``ProducerClientFactory``)."""
        return MemoryTransactionalProducer(self, str(config["transactional.id"]))

    def die(self) -> None:
        """A simulated death starts unwinding: calls do nothing until ``buried``."""
        self.dying = True

    def buried(self) -> None:
        """The harness handled the death: the live processes' calls count again."""
        self.dying = False

    def register(self, producer: MemoryTransactionalProducer) -> None:
        """``producer`` owns its id now; the previous owner is fenced (its transaction aborts)."""
        previous = self._owners.get(producer.transactional_id)
        if previous is not None and previous is not producer:
            previous.fence()
        self._owners[producer.transactional_id] = producer


class MemoryTransactionalProducer(DeliveryReports):
    """One transactional producer client, as ``engine.transactions`` drives librdkafka's."""

    def __init__(self, coordinator: MemoryTransactions, transactional_id: str) -> None:
        super().__init__()
        self._coordinator = coordinator
        self.transactional_id = transactional_id
        self._ready = False
        self._fenced = False
        self._open: TransactionRecords | None = None
        self._offsets: dict[tuple[str, str, int], int] = {}
        self._needs_abort: KafkaError | None = None

    # -- the transaction -----------------------------------------------------------------------

    def init_transactions(self, timeout: float) -> None:
        """Take the id over: a previous producer with it is fenced, its transaction aborted."""
        if self._live():
            self._coordinator.register(self)
            self._ready = True

    def begin_transaction(self) -> None:
        """Open a transaction (``_STATE`` when one is open or the producer is not ready)."""
        if not self._live():
            return
        if not self._ready or self._open is not None:
            raise _error(KafkaError._STATE, "Local: Erroneous state: no transaction can begin")
        self._open, self._offsets, self._needs_abort = TransactionRecords(), {}, None

    def send_offsets_to_transaction(self, offsets: list[Any], group_metadata: Any,
                                    timeout: float) -> None:
        """Carry the group's next offsets; they reach the group only at the commit."""
        if self._live():
            self._check_open()
            group = group_metadata[1]
            for position in offsets:
                self._offsets[(group, position.topic, position.partition)] = position.offset

    def commit_transaction(self, timeout: float) -> None:
        """Make the records visible and commit the offsets, atomically.

        An armed ``crash(at="commit")`` dies first (the transaction stays open); a failed
        produce in it refuses the commit (the transaction must abort).
        """
        if not self._live():
            return
        self._check_open()
        faults = self._coordinator.faults
        faults.committing()
        if self._needs_abort is not None:
            raise KafkaException(self._needs_abort)
        for (group, topic, partition), offset in self._offsets.items():
            # the consume call running now processed what it took below the offset
            self._coordinator.history.stored(group, (topic, partition), offset)
            self._coordinator.log.commit(group, (topic, partition), offset)
        self._end("committed")
        faults.committed()

    def abort_transaction(self, timeout: float) -> None:
        """Abort: its records are never visible to ``read_committed`` readers, no offset moves."""
        if self._live() and self._open is not None:
            self._end("aborted")

    def fence(self) -> None:
        """A newer producer took the id: the open transaction aborts, every later call fails."""
        if self._open is not None:
            self._end("fenced")
        self._fenced = True

    # -- producing -----------------------------------------------------------------------------

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                headers: Any = None, on_delivery: DeliveryCallback | None = None,
                partition: int | None = None) -> None:
        """Append the record to the open transaction (an armed fault dies or fails it)."""
        if not self._live():
            return
        self._check_open()
        error = self._coordinator.faults.producing(topic)
        record = None
        if error is None:
            record = self._coordinator.log.append(
                topic, value, key=key, headers=encode_headers(headers), partition=partition,
                transaction=self._open)
        else:
            self._needs_abort = KafkaError(error.code(), f"{error.str()}: the transaction must"
                                           " be aborted", txn_requires_abort=True)
        self._owe(on_delivery, error, record)

    # -- internals -----------------------------------------------------------------------------

    def _live(self) -> bool:
        """False while a death unwinds (the call never happened); fenced: librdkafka's error."""
        if self._coordinator.dying:
            return False
        if self._fenced:
            raise _error(KafkaError._FENCED,
                         "Local: This instance has been fenced by a newer instance", fatal=True)
        return True

    def _check_open(self) -> None:
        if self._open is None:
            raise _error(KafkaError._STATE, "Local: Erroneous state: no transaction is open")

    def _end(self, outcome: str) -> None:
        assert self._open is not None
        self._coordinator.log.end_transaction(
            self._open, "committed" if outcome == "committed" else "aborted")
        self._open, self._offsets, self._needs_abort = None, {}, None
        self._coordinator.outcomes.append((self.transactional_id, outcome))
