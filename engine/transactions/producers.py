"""The transactional producers of one listener's partitions: one per partition.

A partition's producer is built (and ``init_transactions`` called, which fences the
partition's previous owner) as soon as the partition is assigned, beside the fetching, so its
first batch rarely waits for it (``prepare``); one not prepared is built on its first
transaction. A producer is dropped when broken, and closed when the partition is revoked or
lost or the listener stops; none is built for such a partition until it is assigned again.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from engine.errors import TransactionError
from engine.producer import ProducerClientFactory, kafka_producer
from engine.transactions.bounded import CallThread, OverdueError
from engine.transactions.ids import producer_config, transactional_id_of

if TYPE_CHECKING:
    from engine.config.settings import Settings
    from engine.producer import Producer

CALL_TIMEOUT = 30.0
"""Seconds any one transactional call may take before the producer counts as broken."""

CLOSE_TIMEOUT = 5.0
"""Seconds a closing producer may flush what it still holds."""

_log = logging.getLogger(__name__)

PartitionKey = tuple[str, int]

WarmUp = Callable[[Callable[[], None]], None]
"""How ``prepare`` runs a build: on a thread of its own (the engine), or at once (the harness)."""


def in_background(build: Callable[[], None]) -> None:
    """Run ``build`` on a daemon thread (``init_transactions`` waits for the coordinator)."""
    threading.Thread(target=build, name="engine-txn-warm-up", daemon=True).start()


def at_once(build: Callable[[], None]) -> None:
    """Run ``build`` on the calling thread (the testing kit's listener: a replay repeats it)."""
    build()


class BuildLocks:
    """One lock per ``transactional.id``, shared by the listeners of one app (thread-safe).

    Connections of one process hand partitions to one another, and the partition's producer
    is built (``init_transactions``) beside the fetching: a build of the old owner still under
    way when the new owner's starts would fence the new owner's producer once it ended. Under
    the id's lock the new owner's build waits for it, and its own ``init_transactions`` then
    fences the old one, as the order of ownership says.
    """

    __slots__ = ("_guard", "_locks")

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def of(self, transactional_id: str) -> threading.Lock:
        """The lock of ``transactional_id``'s builds."""
        with self._guard:
            return self._locks.setdefault(transactional_id, threading.Lock())


class PartitionProducer:
    """A partition's transactional client and what uses it.

    ``sender`` is the ``Producer`` that sends through it; ``calls`` the thread that makes
    its transactional calls, each bounded.
    """

    __slots__ = ("calls", "client", "sender")

    def __init__(self, client: Any, sender: Producer, calls: CallThread) -> None:
        self.client = client
        self.sender = sender
        self.calls = calls


class TransactionalProducers:
    """One transactional producer per partition of a consumer group (thread-safe)."""

    def __init__(self, settings: Settings, consumer_group: str, app_producer: Producer, *,
                 client_factory: ProducerClientFactory = kafka_producer,
                 call_timeout: float = CALL_TIMEOUT, warm_up: WarmUp = in_background,
                 build_locks: BuildLocks | None = None) -> None:
        assert settings.transactional_id is not None
        self._settings = settings
        self._transactional_id = settings.transactional_id
        self._group = consumer_group
        self._app_producer = app_producer
        self._factory = client_factory
        self.call_timeout = call_timeout
        self._warm_up = warm_up
        self._build_locks = build_locks if build_locks is not None else BuildLocks()
        self._producers: dict[PartitionKey, PartitionProducer] = {}
        self._building: dict[PartitionKey, Future[PartitionProducer | None]] = {}
        self._closed: set[PartitionKey] = set()  # revoked or lost, until assigned again
        self._closings: dict[PartitionKey, int] = {}  # how often each was closed
        self._lock = threading.Lock()

    def prepare(self, keys: Iterable[PartitionKey]) -> None:
        """Build the producers of partitions just assigned, each beside the fetching.

        Their ``init_transactions`` (fencing the partitions' previous owners) then overlap
        one another and the first fetch, instead of each delaying its partition's first batch.
        """
        for key in keys:
            with self._lock:
                self._closed.discard(key)
                if key in self._producers or key in self._building:
                    continue
                building: Future[PartitionProducer | None] = Future()
                self._building[key] = building
            self._warm_up(functools.partial(self._warm, key, building))

    def get(self, key: PartitionKey) -> PartitionProducer:
        """The partition's producer: the one prepared (waited for), else built now.

        A preparation that failed is tried again here, so its error reaches the batch. A
        partition closed (revoked or lost) gets none: a new producer would fence its next
        owner's.
        """
        with self._lock:
            self._refuse_if_closed(key)
            found = self._producers.get(key)
            building = self._building.get(key)
        if found is not None:
            return found
        if building is not None:
            try:
                prepared = building.result(self.call_timeout + 1.0)
            except FutureTimeout:
                raise OverdueError(f"the producer of {key[0]}/{key[1]} was not prepared"
                                   f" within {self.call_timeout + 1.0}s") from None
            if prepared is not None:
                return prepared
        with self._lock:
            self._refuse_if_closed(key)  # revoked while its preparation was waited for
            closings = self._closings.get(key, 0)
        built = self._build(key)
        with self._lock:  # revoked meanwhile, even if assigned back: a stale producer
            kept = self._closings.get(key, 0) == closings
            if kept:
                self._producers[key] = built
        if not kept:  # revoked while it was built
            _close(built)
            raise TransactionError(f"{key[0]}/{key[1]} was revoked while its producer was"
                                   " built")
        return built

    def _refuse_if_closed(self, key: PartitionKey) -> None:
        if key in self._closed:
            raise TransactionError(f"{key[0]}/{key[1]} was revoked: no producer is built for"
                                   " it (it would fence the partition's next owner)")

    def _warm(self, key: PartitionKey, building: Future[PartitionProducer | None]) -> None:
        """Build a prepared producer; one no longer wanted (revoked meanwhile) is closed."""
        try:
            built = self._build(key)
        except Exception:  # noqa: BLE001 - the first transaction builds it again, and reports
            _log.debug("preparing the transactional producer of %s failed", key, exc_info=True)
            with self._lock:
                if self._building.get(key) is building:
                    del self._building[key]
            building.set_result(None)
            return
        with self._lock:
            wanted = self._building.get(key) is building
            if wanted:
                del self._building[key]
                self._producers[key] = built
        building.set_result(built if wanted else None)
        if not wanted:
            _close(built)

    def _build(self, key: PartitionKey) -> PartitionProducer:
        txn_id = transactional_id_of(self._transactional_id, self._group, *key)
        config = producer_config(self._settings.kafka, self._settings.client_id, txn_id)
        timeout = self.call_timeout
        with self._build_locks.of(txn_id):  # after another connection's build of the id
            client = self._factory(config)
            calls = CallThread(f"engine-txn#{txn_id}")
            try:
                calls.call("init_transactions", lambda: client.init_transactions(timeout),
                           timeout)
            except BaseException:
                calls.stop()
                raise
        sender = self._app_producer.rebuilt(client_factory=lambda _config: client)
        return PartitionProducer(client, sender, calls)

    def drop(self, key: PartitionKey, broken: PartitionProducer) -> None:
        """Forget the broken producer of ``key`` (never flushed: it may hang).

        Only that one: the partition, revoked and assigned back meanwhile, may have a new one.
        The next use builds anew.
        """
        with self._lock:
            if self._producers.get(key) is broken:
                del self._producers[key]
        broken.calls.stop()

    def close(self, keys: Iterable[PartitionKey]) -> None:
        """Close the producers of partitions no longer served (each flush bounded)."""
        keys = list(keys)
        with self._lock:
            gone = [self._producers.pop(key) for key in keys if key in self._producers]
            self._closed.update(keys)
            for key in keys:
                self._closings[key] = self._closings.get(key, 0) + 1
                self._building.pop(key, None)  # a preparation under way closes its own
        for producer in gone:
            _close(producer)

    def close_all(self) -> None:
        """Close every producer (the listener stops)."""
        with self._lock:
            keys = [*self._producers, *self._building]
        self.close(keys)

    def __len__(self) -> int:
        """How many producers are open."""
        return len(self._producers)


def _close(producer: PartitionProducer) -> None:
    """Flush what the producer still holds, for ``CLOSE_TIMEOUT`` at most."""
    client = producer.client
    try:
        producer.calls.call("flush", lambda: client.flush(CLOSE_TIMEOUT), CLOSE_TIMEOUT + 1.0)
    except Exception:  # noqa: BLE001 - a broken producer is left for the garbage collector
        _log.warning("a transactional producer did not close cleanly", exc_info=True)
    finally:
        producer.calls.stop()
