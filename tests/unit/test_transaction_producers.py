"""The partitions' transactional producers: prepared on assignment, beside the fetching."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError

from engine import App, Consumer, Messages
from engine.transactions.producers import TransactionalProducers
from tests.conftest import BOOTSTRAP
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
    assert found.get(("t", 0)).client.number == 2  # assigned again: a fresh producer


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
