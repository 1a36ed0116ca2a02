"""The partitions' transactional producers: prepared on assignment, beside the fetching."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError

from engine import App, Consumer, Messages
from engine.connection.listener import Listener
from engine.errors import TransactionError
from engine.processing.workers_pool import WorkersPool
from engine.transactions.bounded import OverdueError
from engine.transactions.producers import BuildLocks, TransactionalProducers, at_once
from engine.transactions.transaction import Transaction
from tests.conftest import BOOTSTRAP
from tests.fakes_client import FakeClient
from tests.fakes_transactions import FakeTransactionalClients
from tests.served import fake_listener


class Builds:
    """A warm-up that keeps the builds until the test runs them."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, build: Callable[[], None]) -> None:
        self.pending.append(build)

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for build in pending:
            build()


def producers(warm_up: Callable[[Callable[[], None]], None]
              ) -> tuple[TransactionalProducers, FakeTransactionalClients]:
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    clients = FakeTransactionalClients()
    return TransactionalProducers(app.settings, "g", app.producer, client_factory=clients,
                                  warm_up=warm_up), clients


def test_prepared_producers_are_initialised_before_and_reused_by_the_first_transaction() -> None:
    builds = Builds()
    found, clients = producers(builds)
    found.prepare([("t", 0), ("t", 1)])
    found.prepare([("t", 0)])  # already under way: not built twice
    assert clients.calls == []  # prepare itself never waits for the broker
    builds.run()
    assert clients.names() == ["init_transactions", "init_transactions"]
    assert found.get(("t", 0)).client.number == 1
    assert found.get(("t", 1)).client.number == 2
    assert len(clients.configs) == 2


def test_a_first_transaction_waits_for_the_preparation_under_way() -> None:
    found, clients = producers(lambda build: threading.Thread(target=build).start())
    clients.hang = "init_transactions"
    found.prepare([("t", 0)])
    got: list[int] = []
    first = threading.Thread(target=lambda: got.append(found.get(("t", 0)).client.number))
    first.start()
    first.join(0.2)
    assert first.is_alive() and got == []  # still waiting for init_transactions
    clients.release.set()
    first.join(10)
    assert got == [1] and len(clients.configs) == 1


def test_a_partition_revoked_while_preparing_closes_what_was_built() -> None:
    builds = Builds()
    found, clients = producers(builds)
    found.prepare([("t", 0)])
    found.close([("t", 0)])
    builds.run()
    assert clients.names() == ["init_transactions", "flush"]
    assert len(found) == 0
    found.prepare([("t", 0)])  # assigned again: a fresh producer
    builds.run()
    assert found.get(("t", 0)).client.number == 2


def test_a_failed_preparation_is_made_again_by_the_first_transaction() -> None:
    builds = Builds()
    found, clients = producers(builds)
    clients.fail["init_transactions"] = KafkaError(KafkaError._TIMED_OUT)
    found.prepare([("t", 0)])
    builds.run()
    assert len(found) == 0
    assert found.get(("t", 0)).client.number == 2
    assert clients.names() == ["init_transactions", "init_transactions"]


def test_close_all_closes_the_producers_being_prepared_too() -> None:
    builds = Builds()
    found, clients = producers(builds)
    found.prepare([("t", 0), ("t", 1)])
    builds.pending.pop(0)()  # partition 0 ready, partition 1 still under way
    found.close_all()
    builds.run()
    assert sorted(clients.calls) == [("flush", 1), ("flush", 2), ("init_transactions", 1),
                                     ("init_transactions", 2)]
    assert len(found) == 0


class Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


def test_the_listener_prepares_the_producers_of_partitions_assigned() -> None:
    clients, builds = FakeTransactionalClients(), Builds()
    listener, client, workers = fake_listener(
        Idle, transactional_id="svc",
        listener_options={"transactional_factory": clients, "transactional_warm_up": builds})
    client.rebalance.assigned([("t", 0), ("t", 1)])
    assert listener.after_rebalance([]) == []
    builds.run()
    assert clients.names() == ["init_transactions", "init_transactions"]
    ids = sorted(config["transactional.id"] for config in clients.configs)
    assert ids == ["svc.engine.t.0", "svc.engine.t.1"]
    workers._queue.close()
    assert workers.join(5)


def test_a_call_thread_hands_back_results_and_errors_and_bounds_a_hung_call() -> None:
    from engine.transactions.bounded import CallThread, OverdueError

    calls = CallThread("test-calls")
    assert calls.call("add", lambda: 1 + 1, 5) == 2
    with pytest.raises(ZeroDivisionError):
        calls.call("fail", lambda: 1 // 0, 5)
    release = threading.Event()
    with pytest.raises(OverdueError, match=r"hang did not return within 0.1s"):
        calls.call("hang", lambda: release.wait(30), 0.1)
    calls.stop()
    release.set()
    calls._thread.join(10)
    assert not calls._thread.is_alive()  # stopped: it ends once the hung call returns


# -- review: leaks and races around revocation -------------------------------------------------

def listening() -> tuple[Listener, FakeClient, WorkersPool, FakeTransactionalClients]:
    """A transactional listener whose producers are built at once, on assignment."""
    clients = FakeTransactionalClients()
    listener, client, workers = fake_listener(
        Idle, transactional_id="svc",
        listener_options={"transactional_factory": clients, "transactional_warm_up": at_once})
    return listener, client, workers, clients


def producers_of(listener: Listener) -> TransactionalProducers:
    transactional = listener._builder.transactional
    assert transactional is not None
    return transactional

def test_a_partition_assigned_then_revoked_before_any_message_closes_its_prepared_producer(
) -> None:
    listener, client, workers, clients = listening()
    client.rebalance.assigned([("t", 0)])
    listener.after_rebalance([])  # prepared; no message yet, so nothing is served
    client.rebalance.revoked([("t", 0)], lost=False)
    listener.after_rebalance([])
    assert clients.names() == ["init_transactions", "flush"]  # closed, not kept open
    assert len(producers_of(listener)) == 0
    workers._queue.close()
    assert workers.join(5)


def test_a_client_reset_closes_the_producers_prepared_for_its_assignment() -> None:
    listener, client, workers, clients = listening()
    client.rebalance.assigned([("t", 0)])
    listener.after_rebalance([])
    listener.reset_client()  # not running: the reset closes and does not reconnect
    assert len(producers_of(listener)) == 0
    assert clients.names() == ["init_transactions", "flush"]
    workers._queue.close()
    assert workers.join(5)


def test_a_partition_revoked_and_assigned_back_in_one_poll_gets_a_fresh_prepared_producer(
) -> None:
    listener, client, workers, clients = listening()
    client.rebalance.assigned([("t", 0)])
    listener.after_rebalance([])
    listener.partitions.get(("t", 0))  # served: a message came
    client.rebalance.revoked([("t", 0)], lost=False)
    client.rebalance.assigned([("t", 0)])
    listener.after_rebalance([])
    assert len(producers_of(listener)) == 1
    assert clients.names() == ["init_transactions", "flush", "init_transactions"]
    workers._queue.close()
    assert workers.join(5)


def test_a_first_transaction_waiting_for_a_preparation_revoked_meanwhile_builds_nothing(
) -> None:
    builds = Builds()
    found, clients = producers(builds)
    found.prepare([("t", 0)])
    outcome: list[BaseException] = []

    def first_transaction() -> None:
        try:
            found.get(("t", 0))
        except TransactionError as error:
            outcome.append(error)

    waiting = threading.Thread(target=first_transaction)
    waiting.start()
    found.close([("t", 0)])  # revoked, before or while the first transaction waits
    builds.run()
    waiting.join(10)
    assert not waiting.is_alive() and len(outcome) == 1
    assert len(clients.configs) == 1 and len(found) == 0  # nothing built for the next owner
    found.prepare([("t", 0)])  # assigned back: served again
    builds.run()
    assert found.get(("t", 0)).client.number == 2


def test_a_revoked_transactions_late_failure_drops_not_the_new_owners_producer() -> None:
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    clients = FakeTransactionalClients()
    found = TransactionalProducers(app.settings, "g", app.producer, client_factory=clients,
                                   warm_up=at_once, call_timeout=5.0)
    found.prepare([("t", 0)])
    old = Transaction(found, ("t", 0), app.monitor, lambda: None, lambda: None)
    old.begin()
    found.close([("t", 0)])  # revoked while its long job's transaction is open
    found.prepare([("t", 0)])  # and assigned back: a fresh producer
    fresh = found.get(("t", 0))
    with pytest.raises(TransactionError) as failed:
        old.commit(None)  # the old producer is closed: fails at once
    assert not isinstance(failed.value, OverdueError)
    assert found.get(("t", 0)) is fresh and fresh.client.number == 2
    assert fresh.calls.call("ping", lambda: 1, 5) == 1  # its call thread still serves


def test_dropping_a_broken_producer_leaves_the_partitions_newer_one() -> None:
    builds = Builds()
    found, clients = producers(builds)
    found.prepare([("t", 0)])
    builds.run()
    old = found.get(("t", 0))
    found.close([("t", 0)])  # revoked while a call of ``old`` hung
    found.prepare([("t", 0)])  # assigned back
    builds.run()
    fresh = found.get(("t", 0))
    found.drop(("t", 0), old)  # the hung call is overdue at last
    assert found.get(("t", 0)) is fresh and len(clients.configs) == 2


def test_a_producer_built_while_its_partition_was_revoked_and_assigned_back_is_closed() -> None:
    builds = Builds()
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    clients = FakeTransactionalClients()

    def rebalanced_while_building(config: dict[str, Any]) -> Any:
        if not clients.configs:  # the old consumer's first transaction builds
            found.close([("t", 0)])
            found.prepare([("t", 0)])
        return clients(config)

    found = TransactionalProducers(app.settings, "g", app.producer,
                                   client_factory=rebalanced_while_building, warm_up=builds)
    with pytest.raises(TransactionError, match="revoked while its producer was built"):
        found.get(("t", 0))
    builds.run()
    assert found.get(("t", 0)).client.number == 2 and len(found) == 1
    assert ("flush", 1) in clients.calls  # the stale one closed, not left open


def test_a_connections_build_of_an_id_waits_for_another_connections_build_under_way() -> None:
    """Connection 1's late init_transactions must never fence connection 2's producer."""
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    clients = FakeTransactionalClients()
    locks = BuildLocks()
    old, new = (TransactionalProducers(app.settings, "g", app.producer, client_factory=clients,
                                       warm_up=lambda build: threading.Thread(target=build).start(),
                                       build_locks=locks) for _ in range(2))
    clients.hang = "init_transactions"
    old.prepare([("t", 0)])  # connection 1 was assigned t/0: its build hangs in init
    deadline = time.monotonic() + 10
    while clients.names() != ["init_transactions"] and time.monotonic() < deadline:
        time.sleep(0.01)
    old.close([("t", 0)])  # the partition moves to connection 2
    new.prepare([("t", 0)])
    waiting = threading.Thread(target=lambda: new.get(("t", 0)))
    waiting.start()
    waiting.join(0.3)
    assert clients.names() == ["init_transactions"]  # the second waits for the first
    clients.release.set()
    waiting.join(10)
    assert not waiting.is_alive()
    inits = [call[1] for call in clients.calls if call[0] == "init_transactions"]
    assert inits == [1, 2]  # the new owner's init last: it fences the old one
    assert new.get(("t", 0)).client.number == 2
