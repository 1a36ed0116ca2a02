"""Transactions (API.md section 14, first step) against a fake transactional producer."""

from __future__ import annotations

import asyncio
import time
import typing
from typing import Any

import pytest
from confluent_kafka import KafkaError

from engine import App, Consumer, DeadLetterQueue, Messages
from engine.connection.partition_effects import apply_effects
from engine.errors import BlockingCallError, ConfigError, RoutingError, TransactionError
from engine.messages.deserializers import deserializers_of
from engine.processing.jobs import Consume
from engine.processing.partitions import Served
from engine.transactions.ids import (
    RETRY_BACKOFF_MS,
    TRANSACTION_TIMEOUT_MS,
    producer_config,
    transactional_id_of,
)
from tests.conftest import BOOTSTRAP
from tests.fakes import FakeRaw
from tests.fakes_client import FakeClient
from tests.fakes_transactions import FakeTransactionalClients
from tests.served import resume_due, run_batch, served


def raws(first: int, last: int, partition: int = 0) -> list[Any]:
    return [FakeRaw("t", partition, offset) for offset in range(first, last + 1)]


class Pipeline(Consumer):
    """Copies each message to "out" inside a transaction and marks the last one."""

    raise_inside: typing.ClassVar[list[BaseException]] = []

    def consume(self, messages: Messages) -> None:
        with self.transaction():
            for message in messages:
                self.produce("out", f"copy-{message.offset}")
            self.mark_as_consumed(messages.last())
            if Pipeline.raise_inside:
                raise Pipeline.raise_inside.pop(0)


class AsyncPipeline(Consumer):
    """``Pipeline`` as an async consumer: ``async with``, a plain and an awaited send."""

    raise_inside: typing.ClassVar[list[BaseException]] = []

    async def consume(self, messages: Messages) -> None:  # type: ignore[override]
        async with self.transaction():
            for message in messages:
                self.produce("out", f"copy-{message.offset}")
            await self.produce_async("out", "acked")
            self.mark_as_consumed(messages.last())
            if AsyncPipeline.raise_inside:
                raise AsyncPipeline.raise_inside.pop(0)


class Plain(Consumer):
    """Never opens a transaction: the strategy marks its batches."""

    def consume(self, messages: Messages) -> None:
        pass


class Misuse(Consumer):
    """Runs ``Misuse.action`` and records what it raised."""

    action: typing.ClassVar[Any] = None
    raised: typing.ClassVar[list[BaseException]] = []

    def consume(self, messages: Messages) -> None:
        try:
            Misuse.action(self, messages)
        except TransactionError as error:
            Misuse.raised.append(error)
            raise


@pytest.fixture(autouse=True)
def _reset() -> None:
    Pipeline.raise_inside, AsyncPipeline.raise_inside, Misuse.raised = [], [], []


def transactional(consumer: type[Consumer], **topic: Any
                  ) -> tuple[App, Served, FakeClient, FakeTransactionalClients]:
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    clients = FakeTransactionalClients()
    client = FakeClient()
    entry = served(app, app.topic("t", consumer, **topic), 0, client,
                   transactional_factory=clients)
    return app, entry, client, clients


def errors_of(app: App, kind: str) -> list[Any]:
    found: list[Any] = []
    app.monitor.subscribe("error.occurred", lambda sender, **event:
                          found.append(event) if event["type"] == kind else None)
    return found


# -- settings, ids, routing ----------------------------------------------------------------------

def test_the_partition_id_is_derived_from_the_app_group_topic_and_partition() -> None:
    assert transactional_id_of("svc", "g", "orders", 3) == "svc.g.orders.3"


def test_the_producer_config_drops_consumer_keys_and_derives_the_timeout() -> None:
    kafka = {"bootstrap.servers": "b:9092", "isolation.level": "read_committed",
             "session.timeout.ms": 10000}
    config = producer_config(kafka, "cid", "svc.g.t.0")
    assert config == {"bootstrap.servers": "b:9092", "client.id": "cid",
                      "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
                      "retry.backoff.ms": RETRY_BACKOFF_MS, "transactional.id": "svc.g.t.0"}
    mine = producer_config({**kafka, "transaction.timeout.ms": 9000, "retry.backoff.ms": 50},
                           "c", "x")
    assert (mine["transaction.timeout.ms"], mine["retry.backoff.ms"]) == (9000, 50)


@pytest.mark.parametrize("value", ["", "  ", 3, b"svc"])
def test_a_transactional_id_that_is_not_a_non_empty_string_is_refused(value: Any) -> None:
    with pytest.raises(ConfigError, match="transactional_id must be None or a non-empty"):
        App(kafka=BOOTSTRAP, transactional_id=value)


def test_consumers_of_a_transactional_app_read_committed() -> None:
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    app.topic("t", Plain)
    (group,) = app.subscription_groups()
    assert group.kafka["isolation.level"] == "read_committed"
    plain = App(kafka=BOOTSTRAP)
    plain.topic("t", Plain)
    assert "isolation.level" not in plain.subscription_groups()[0].kafka


def test_another_isolation_level_is_refused_in_app_and_topic_settings() -> None:
    with pytest.raises(ConfigError, match=r"isolation\.level=.read_uncommitted."):
        App(kafka={**BOOTSTRAP, "isolation.level": "read_uncommitted"}, transactional_id="svc")
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    app.topic("t", Plain, kafka={"isolation.level": "read_uncommitted"})
    with pytest.raises(RoutingError, match=r"topic .t..*isolation\.level"):
        app.subscription_groups()


def test_long_running_jobs_are_refused_and_async_consumers_accepted_with_transactions(
) -> None:
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    app.topic("long", Plain, long_running_job=True)
    with pytest.raises(RoutingError, match=r"topic 'long'.*not supported with trans"):
        app.subscription_groups()
    app = App(kafka=BOOTSTRAP, transactional_id="svc")
    app.topic("async", AsyncPipeline)
    assert app.subscription_groups()[0].topics[0].is_async


# -- one transaction -----------------------------------------------------------------------------

def test_leaving_the_block_produces_sends_offsets_commits_then_marks() -> None:
    _, entry, client, clients = transactional(Pipeline)
    assert run_batch(entry, raws(0, 2), client=client)
    assert clients.configs[0]["transactional.id"] == "svc.g.t.0"
    assert clients.names() == [
        "init_transactions", "begin_transaction", "produce", "produce", "produce",
        "send_offsets_to_transaction", "commit_transaction"]
    assert clients.calls[5][2:] == ([("t", 0, 3)], "group-metadata")
    assert entry.state.first_unmarked == 3
    assert client.stored == {}  # never stored in the consumer


def test_an_exception_inside_aborts_and_the_batch_is_retried() -> None:
    _, entry, client, clients = transactional(Pipeline)
    Pipeline.raise_inside = [RuntimeError("boom")]
    run_batch(entry, raws(0, 2), client=client)
    assert clients.names()[-1] == "abort_transaction"
    assert "send_offsets_to_transaction" not in clients.names()
    assert entry.state.first_unmarked == 0
    assert client.positions == {("t", 0): 0}  # sought back: retried from the start


def test_a_hanging_send_offsets_fails_the_batch_and_the_producer_is_rebuilt() -> None:
    app, entry, client, clients = transactional(Pipeline)
    reported = errors_of(app, "transaction.error")
    assert entry.context.transactions is not None
    entry.context.transactions._producers.call_timeout = 0.2
    clients.hang = "send_offsets_to_transaction"
    try:
        run_batch(entry, raws(0, 2), client=client)
    finally:
        clients.release.set()
    assert entry.state.first_unmarked == 0 and client.positions == {("t", 0): 0}
    assert [type(event["error"]).__name__ for event in reported] == ["OverdueError"]
    assert "commit_transaction" not in clients.names()
    entry.state.resume()
    entry.state.end_pause()
    run_batch(entry, raws(0, 2), client=client)
    assert len(clients.configs) == 2  # a new producer for the retry
    assert clients.calls[-1] == ("commit_transaction", 2)
    assert entry.state.first_unmarked == 3


def test_a_fenced_producer_is_reported_dropped_and_the_batch_fails() -> None:
    app, entry, client, clients = transactional(Pipeline)
    reported = errors_of(app, "transaction.error")
    clients.fail["commit_transaction"] = KafkaError(KafkaError._FENCED, "fenced", fatal=True)
    run_batch(entry, raws(0, 2), client=client)
    assert len(reported) == 1 and entry.state.first_unmarked == 0
    assert entry.context.transactions is not None
    assert len(entry.context.transactions._producers) == 0
    assert "abort_transaction" not in clients.names()  # the fenced producer can abort nothing


def test_a_fenced_partition_is_lost_until_its_retry_and_begins_nothing_meanwhile() -> None:
    app, entry, client, clients = transactional(Pipeline)
    reported = errors_of(app, "transaction.error")
    clients.fail["send_offsets_to_transaction"] = KafkaError(
        KafkaError._FENCED, "fenced by a new owner", fatal=True)
    run_batch(entry, raws(0, 2), client=client)
    assert entry.context.is_revoked and len(reported) == 1
    transactions = entry.context.transactions
    assert transactions is not None
    with pytest.raises(TransactionError, match="no longer this member's"):
        transactions.begin()  # a new producer now would fence the partition's new owner
    assert len(clients.configs) == 1 and entry.state.first_unmarked == 0
    # the batch is retried all the same: a member that still serves the partition after the
    # back-off owns it (the fence came from a timed-out transaction, say) and skips nothing
    assert client.positions == {("t", 0): 0} and entry.state.paused_until is not None
    resume_due(entry, client, entry.state.paused_until)
    run_batch(entry, raws(0, 2), client=client)
    assert not entry.context.is_revoked and len(clients.configs) == 2
    assert clients.calls[-1] == ("commit_transaction", 2)
    assert entry.state.first_unmarked == 3


def test_an_abortable_error_aborts_keeps_the_producer_and_fails_the_batch() -> None:
    app, entry, client, clients = transactional(Pipeline)
    reported = errors_of(app, "transaction.error")
    clients.fail["commit_transaction"] = KafkaError(
        KafkaError._TIMED_OUT, "timed out", txn_requires_abort=True)
    run_batch(entry, raws(0, 2), client=client)
    assert clients.names()[-1] == "abort_transaction" and reported == []
    assert entry.state.first_unmarked == 0
    assert entry.context.transactions is not None
    assert len(entry.context.transactions._producers) == 1


# -- offsets outside transaction() ---------------------------------------------------------------

def test_a_plain_consumers_auto_mark_moves_through_an_offsets_only_transaction() -> None:
    _, entry, client, clients = transactional(Plain)
    assert run_batch(entry, raws(0, 4), client=client)
    assert client.stored == {}
    assert not any(call[0] == "store_offset" for call in client.calls)
    assert clients.names() == ["init_transactions", "begin_transaction",
                               "send_offsets_to_transaction", "commit_transaction"]
    assert clients.calls[2][2] == [("t", 0, 5)]
    assert entry.state.first_unmarked == 5


# -- misuse --------------------------------------------------------------------------------------

def _nested(consumer: Consumer, messages: Messages) -> None:
    with consumer.transaction(), consumer.transaction():
        pass


def _other_partition(consumer: Consumer, messages: Messages) -> None:
    other = Messages([FakeRaw("t", 1, 0)], "t", 1, 0.0, deserializers_of(None, None))
    with consumer.transaction():
        consumer.mark_as_consumed(other.last())


def _commit_inside(consumer: Consumer, messages: Messages) -> None:
    with consumer.transaction():
        consumer.commit_offsets()


@pytest.mark.parametrize(("action", "words"), [
    (_nested, "do not nest"),
    (_other_partition, "t/1@0 inside a transaction of t/0"),
    (_commit_inside, "commit_offsets inside transaction"),
])
def test_misuse_inside_a_transaction_is_a_transaction_error(action: Any, words: str) -> None:
    Misuse.action = action
    _, entry, client, clients = transactional(Misuse)
    run_batch(entry, raws(0, 0), client=client)
    assert len(Misuse.raised) == 1 and words in str(Misuse.raised[0])
    assert clients.names()[-1] == "abort_transaction"
    assert entry.state.first_unmarked == 0


def test_transaction_without_a_transactional_id_is_a_transaction_error() -> None:
    Misuse.action = lambda consumer, messages: consumer.transaction()
    app = App(kafka=BOOTSTRAP)
    entry = served(app, app.topic("t", Misuse), 0, client := FakeClient())
    run_batch(entry, raws(0, 0), client=client)
    assert "needs the app's transactional_id" in str(Misuse.raised[0])


def test_a_gone_partitions_producer_is_flushed_and_the_next_one_fences_it() -> None:
    _, entry, client, clients = transactional(Pipeline)
    run_batch(entry, raws(0, 0), client=client)
    transactions = entry.context.transactions
    assert transactions is not None
    transactions.close()
    assert clients.calls[-1] == ("flush", 1)
    assert len(transactions._producers) == 0
    transactions._producers.prepare([("t", 0)])  # assigned back
    run_batch(entry, raws(1, 1), client=client)
    assert ("init_transactions", 2) in clients.calls  # a new producer, same id
    assert clients.configs[1]["transactional.id"] == clients.configs[0]["transactional.id"]


def test_an_app_without_transactional_id_stores_offsets_as_before() -> None:
    app = App(kafka=BOOTSTRAP)
    entry = served(app, app.topic("t", Plain), 0, client := FakeClient())
    run_batch(entry, raws(0, 4), client=client)
    assert entry.context.transactions is None
    assert client.stored == {("t", 0): 5}


def test_a_mark_outside_transaction_waits_for_the_batch_then_commits_in_one() -> None:
    class Marking(Consumer):
        def consume(self, messages: Messages) -> None:
            for message in messages:
                self.mark_as_consumed(message)
            assert self.messages.metadata.first_offset == 0
            seen.append(list(clients.names()))

    seen: list[list[str]] = []
    _, entry, client, clients = transactional(Marking, manual_offset_management=True)
    run_batch(entry, raws(0, 2), client=client)
    assert seen == [[]]  # nothing sent while consume ran
    assert clients.names().count("commit_transaction") == 1
    assert clients.calls[2][2] == [("t", 0, 3)] and client.stored == {}


# -- the dead-letter queue -----------------------------------------------------------------------

class Poison(Consumer):
    """Fails every batch."""

    def consume(self, messages: Messages) -> None:
        raise ValueError("poison")


def dead_lettering() -> tuple[App, Served, FakeClient, FakeTransactionalClients,
                              FakeTransactionalClients]:
    """A transactional app whose topic dead-letters at once; the app's producer is a fake."""
    app, entry, client, clients = transactional(
        Poison, dead_letter_queue=DeadLetterQueue("dlq", max_retries=0))
    plain = FakeTransactionalClients()
    app.producer._client_factory = plain
    return app, entry, client, clients, plain


def test_a_dead_letter_copy_and_its_skip_commit_in_one_transaction() -> None:
    app, entry, client, clients, plain = dead_lettering()
    dispatched: list[Any] = []
    app.monitor.subscribe("dead_letter_queue.dispatched",
                          lambda sender, **event: dispatched.append(event["offset"]))
    run_batch(entry, raws(0, 0), client=client)
    assert clients.names() == ["init_transactions", "begin_transaction", "produce",
                               "send_offsets_to_transaction", "commit_transaction"]
    assert clients.calls[2][2] == "dlq"
    assert clients.calls[3][2] == [("t", 0, 1)]
    assert plain.calls == []  # never through the app's ordinary producer
    assert dispatched == [0] and entry.state.first_unmarked == 1
    assert client.stored == {} and client.positions == {("t", 0): 1}


def test_a_failed_dead_letter_transaction_moves_no_offset_and_the_batch_is_retried() -> None:
    app, entry, client, clients, plain = dead_lettering()
    reported = errors_of(app, "dead_letter_queue.dispatch.error")
    clients.fail["commit_transaction"] = KafkaError(
        KafkaError._TIMED_OUT, "timed out", txn_requires_abort=True)
    run_batch(entry, raws(0, 0), client=client)
    assert clients.names()[-2:] == ["commit_transaction", "abort_transaction"]
    assert len(reported) == 1 and isinstance(reported[0]["error"], TransactionError)
    assert entry.state.first_unmarked == 0 and client.positions == {("t", 0): 0}
    assert plain.calls == []


# -- async consumers -----------------------------------------------------------------------------

def run_async_batch(entry: Served, batch: list[Any], client: FakeClient) -> None:
    """``run_batch`` for an async consumer: the job awaited on a fresh event loop."""
    asyncio.run(consume_async(entry, batch, client))


async def consume_async(entry: Served, batch: list[Any], client: FakeClient) -> None:
    messages = entry.executor.batch(batch, 0.0)
    assert entry.state.start(messages.metadata.first_offset, messages.metadata.last_offset)
    try:
        await Consume(entry.executor, "g", entry.strategy, messages).run_async()
    finally:
        apply_effects(client, entry.state, entry.context.take_effects())


async def hanging_in_begin(entry: Served, batch: list[Any], client: FakeClient,
                           clients: FakeTransactionalClients) -> asyncio.Task[None]:
    """The batch's job, started with ``begin_transaction`` hanging; returned once it hangs.

    The loop must be free meanwhile, or this sees the call only after it ended.
    """
    clients.hang = "begin_transaction"
    job = asyncio.get_running_loop().create_task(consume_async(entry, batch, client))
    deadline = time.monotonic() + 30
    while "begin_transaction" not in clients.names() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return job


def test_async_with_commits_plain_and_awaited_sends_with_the_offset() -> None:
    _, entry, client, clients = transactional(AsyncPipeline)
    run_async_batch(entry, raws(0, 1), client)
    assert clients.names() == [
        "init_transactions", "begin_transaction", "produce", "produce", "produce",
        "send_offsets_to_transaction", "commit_transaction"]
    assert [call[3] for call in clients.calls[2:5]] == [b"copy-0", b"copy-1", b"acked"]
    assert clients.calls[5][2] == [("t", 0, 2)]
    assert entry.state.first_unmarked == 2 and client.stored == {}


def test_an_exception_inside_async_with_aborts_and_the_batch_is_retried() -> None:
    _, entry, client, clients = transactional(AsyncPipeline)
    AsyncPipeline.raise_inside = [RuntimeError("boom")]
    run_async_batch(entry, raws(0, 1), client)
    assert clients.names()[-1] == "abort_transaction"
    assert "send_offsets_to_transaction" not in clients.names()
    assert entry.state.first_unmarked == 0 and client.positions == {("t", 0): 0}


def loop_free_while_begin_hangs(entry: Served, batch: list[Any], client: FakeClient,
                                clients: FakeTransactionalClients) -> bool:
    """Run the batch; whether the loop saw its job still waiting in ``begin_transaction``."""

    async def main() -> bool:
        job = await hanging_in_begin(entry, batch, client, clients)
        waiting = not job.done()
        clients.release.set()
        await job
        return waiting

    try:
        return asyncio.run(main())
    finally:
        clients.release.set()


def test_the_loop_runs_on_while_a_transaction_waits_for_the_broker() -> None:
    _, entry, client, clients = transactional(AsyncPipeline)
    assert loop_free_while_begin_hangs(entry, raws(0, 0), client, clients)
    assert clients.names()[-1] == "commit_transaction"
    assert entry.state.first_unmarked == 1


def test_a_plain_with_in_an_async_consumer_is_refused() -> None:
    class Blocking(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            try:
                with self.transaction():
                    pass
            except BlockingCallError as error:
                refused.append(error)
                raise

    refused: list[BaseException] = []
    _, entry, client, clients = transactional(Blocking)
    run_async_batch(entry, raws(0, 0), client)
    assert "use 'async with self.transaction():'" in str(refused[0])
    assert "begin_transaction" not in clients.names()
    assert entry.state.first_unmarked == 0


def test_an_async_consumers_auto_mark_commits_off_the_loop() -> None:
    class AsyncPlain(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            self.commit_offsets()  # on the loop: left to the batch's settling

    _, entry, client, clients = transactional(AsyncPlain)
    assert loop_free_while_begin_hangs(entry, raws(0, 2), client, clients)
    assert clients.names().count("commit_transaction") == 1
    assert clients.calls[2][2] == [("t", 0, 3)] and entry.state.first_unmarked == 3


def test_a_cancel_while_a_transaction_begins_aborts_it_once_begun() -> None:
    _, entry, client, clients = transactional(AsyncPipeline)

    async def main() -> None:
        job = await hanging_in_begin(entry, raws(0, 0), client, clients)
        job.cancel()
        clients.release.set()
        await asyncio.gather(job, return_exceptions=True)

    try:
        asyncio.run(main())
    finally:
        clients.release.set()
    assert clients.names() == ["init_transactions", "begin_transaction", "abort_transaction"]
    assert entry.context.transactions is not None
    assert not entry.context.transactions.is_open
    assert entry.state.first_unmarked == 0
