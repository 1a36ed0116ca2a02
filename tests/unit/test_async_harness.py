"""Async consumers in the testing kit's harness: the engine's own async path, on its loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from engine import App, Consumer, DeadLetterQueue, Messages, ProduceError, VirtualPartitions
from engine.errors import LoopBlockedError
from engine.testing import ConsumerMachine, Harness, ScheduleError

KAFKA = {"bootstrap.servers": "127.0.0.1:1"}


def async_app(consumer: type[Consumer], **route: Any) -> App:
    """An app whose one topic, "orders", runs the async ``consumer``."""
    app = App(kafka=KAFKA, client_id="shop", **route.pop("app_options", {}))
    app.topic("orders", consumer, **route)
    return app


def test_an_async_consumer_runs_awaits_produces_and_is_committed() -> None:
    seen: list[tuple[int, int]] = []
    threads: set[str] = set()

    class Enrich(Consumer):
        async def initialized(self) -> None:  # type: ignore[override]
            self.loop = asyncio.get_running_loop()  # loop-bound, kept across batches

        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            assert asyncio.get_running_loop() is self.loop
            for message in messages:
                await asyncio.sleep(0)
                await self.produce_async("enriched", {"id": message.payload["id"], "ok": 1},
                                         key=message.raw_key)
                seen.append((message.partition, message.offset))
            threads.add(threading.current_thread().name)

    with Harness(async_app(Enrich), partitions={"orders": 2}) as kafka:
        kafka.create_topic("enriched")
        for number in range(6):
            kafka.produce("orders", {"id": number}, key=f"c{number % 3}")
        kafka.run()
        assert sorted(seen) == sorted((m.partition, m.offset) for m in kafka.topic("orders"))
        assert [m.payload["ok"] for m in kafka.topic("enriched")] == [1] * 6
        kafka.stop()
        for partition in range(2):
            count = sum(1 for m in kafka.topic("orders") if m.partition == partition)
            assert kafka.committed("orders", partition) == (count or None)
        kafka.history.check()
    assert threads == {threading.current_thread().name}  # the harness runs it inline


def test_a_failing_async_consume_is_retried_with_back_off_then_dead_lettered() -> None:
    attempts: list[int] = []

    class Orders(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            for message in messages:
                if message.payload == "poison":
                    attempts.append(self.attempt)
                    await asyncio.sleep(0)
                    raise ValueError("poison")
                self.mark_as_consumed(message)

    app = async_app(Orders, dead_letter_queue=DeadLetterQueue("orders.dlq", max_retries=2))
    with Harness(app) as kafka:
        for payload in ("ok", "poison", "after"):
            kafka.produce("orders", payload)
        kafka.run()
        assert attempts == [1, 2, 3]
        (dead,) = kafka.topic("orders.dlq")
        assert dead.payload == "poison" and dead.headers["error_type"] == b"ValueError"
        retries = kafka.events.named("consumer.consuming.retry")
        assert [event.payload["attempt"] for event in retries] == [1, 2]
        kafka.stop()
        assert kafka.committed("orders", 0) == 3
        kafka.history.check()


def test_every_hook_and_an_async_wrap_are_awaited_in_order() -> None:
    calls: list[str] = []

    class Orders(Consumer):
        async def initialized(self) -> None:  # type: ignore[override]
            calls.append("initialized")

        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            calls.append("consume")

        async def shutdown(self) -> None:  # type: ignore[override]
            await asyncio.sleep(0)
            calls.append("shutdown")

        def revoked(self) -> None:  # a plain hook of an async consumer runs on the loop too
            calls.append("revoked")

        @asynccontextmanager
        async def wrap(self, action: str) -> AsyncIterator[None]:  # type: ignore[override]
            calls.append(f"<{action}")
            yield
            calls.append(f"{action}>")

    with Harness(async_app(Orders)) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        kafka.revoke("orders", 0)
        kafka.stop()
    assert calls == ["initialized", "<consume", "consume", "consume>",
                     "<revoked", "revoked", "revoked>"]


def test_a_consumer_that_blocks_the_loop_is_reported_with_its_stall() -> None:
    class Blocking(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            time.sleep(0.05)  # a sync call inside async def: the loop stalls
            await asyncio.sleep(0)

    app = async_app(Blocking, app_options={"loop_stall_threshold": 0.01})
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        (event,) = [event for event in kafka.events.named("error.occurred")
                    if event.payload["type"] == "consumer.loop.blocked"]
        assert event.payload["stalled"] >= 0.05 and event.payload["action"] == "consume"
        assert isinstance(event.payload["error"], LoopBlockedError)
        assert "Blocking.consume held the event loop" in str(event.payload["error"])
        assert event.payload["topic"] == "orders" and event.payload["partition"] == 0
        kafka.stop()
        assert kafka.committed("orders", 0) == 1  # reported, not failed


def test_a_failed_produce_async_raises_produce_error_in_the_consumer() -> None:
    raised: list[BaseException] = []

    class Orders(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            try:
                await self.produce_async("out", "x")
            except ProduceError as error:
                raised.append(error)

    with Harness(async_app(Orders)) as kafka:
        kafka.create_topic("out")
        kafka.fail_produce(topic="out")
        kafka.produce("orders", 1)
        kafka.run()
    assert len(raised) == 1 and "'out'" in str(raised[0])


def test_routing_refuses_an_async_generator_hook_even_on_an_async_consumer() -> None:
    from engine import RoutingError

    class Orders(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            pass

        async def shutdown(self) -> AsyncIterator[None]:  # type: ignore[override]
            yield

    with pytest.raises(RoutingError, match=r"Orders\.shutdown is an async generator"):
        async_app(Orders)


def test_async_virtual_partitions_keep_key_order_and_share_an_async_lock() -> None:
    seen: dict[str, list[int]] = {}
    shared: list[int] = []

    class Keyed(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            for message in messages:
                await asyncio.sleep(0)
                seen.setdefault(message.key, []).append(message.offset)
                async with self.synchronize():  # tasks of one loop: the asyncio lock
                    before = len(shared)
                    await asyncio.sleep(0)
                    shared.append(before)

    app = async_app(Keyed, virtual_partitions=VirtualPartitions(max_partitions=4))
    with Harness(app, partitions={"orders": 1}, interleave=7) as kafka:
        for number in range(24):
            kafka.produce("orders", number, key=f"k{number % 5}", partition=0)
        kafka.run()
        kafka.stop()
        assert kafka.committed("orders", 0) == 24
        kafka.history.check()
    for key, offsets in seen.items():
        assert offsets == sorted(offsets), key
    assert shared == list(range(24))


def test_the_opentelemetry_span_covers_the_awaited_work_of_an_async_consumer() -> None:
    from engine_plugins.opentelemetry import OpenTelemetryPlugin
    from tests.unit.test_operations_plugins import tracing

    class Replying(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            for message in messages:
                await asyncio.sleep(0)  # the span stays current across the await
                await self.produce_async("replies", {"to": message.offset})

    provider, exporter = tracing()
    app = async_app(Replying)
    app.use(OpenTelemetryPlugin(tracer_provider=provider))
    with Harness(app) as kafka:
        kafka.create_topic("replies")
        kafka.produce("orders", 1)
        kafka.produce("orders", 2)
        kafka.run()
        replies = kafka.topic("replies")
    (span,) = exporter.get_finished_spans()  # one batch, one span
    assert span.name == "process orders"
    for reply in replies:
        traceparent = reply.headers["traceparent"].decode()  # type: ignore[union-attr]
        assert traceparent.split("-")[1:3] == [f"{span.context.trace_id:032x}",
                                               f"{span.context.span_id:016x}"]
    assert len(replies) == 2


def test_the_opentelemetry_span_of_a_transactional_async_batch_ends_cleanly(
        caplog: pytest.LogCaptureFixture) -> None:
    from engine_plugins.opentelemetry import OpenTelemetryPlugin
    from tests.unit.test_operations_plugins import tracing

    class Copying(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            async with self.transaction():  # its batch is settled off the loop
                for message in messages:
                    await asyncio.sleep(0)
                    self.produce("copies", message.payload)
                self.mark_as_consumed(messages.last())  # type: ignore[arg-type]

    provider, exporter = tracing()
    app = async_app(Copying, app_options={"transactional_id": "shop"})
    app.use(OpenTelemetryPlugin(tracer_provider=provider))
    with Harness(app) as kafka:
        kafka.create_topic("copies")
        kafka.produce("orders", 1)
        kafka.run()
        assert len(kafka.topic("copies")) == 1
    (span,) = exporter.get_finished_spans()
    assert span.name == "process orders"
    # consumer.consumed came from the settling thread: the span's context stays the task's
    assert not [record for record in caplog.records if record.name == "opentelemetry.context"]


def test_routing_refuses_a_wrap_that_returns_no_context_manager_or_the_wrong_kind() -> None:
    from engine import RoutingError

    class Undecorated(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            pass

        async def wrap(self, action: str) -> None:  # type: ignore[override]
            pass

    class SyncWithAsyncWrap(Consumer):
        def consume(self, messages: Messages) -> None:
            pass

        @asynccontextmanager
        async def wrap(self, action: str) -> AsyncIterator[None]:  # type: ignore[override]
            yield

    with pytest.raises(RoutingError, match=r"Undecorated\.wrap is 'async def' without"):
        async_app(Undecorated)
    with pytest.raises(RoutingError, match=r"SyncWithAsyncWrap\.wrap is an async context"):
        async_app(SyncWithAsyncWrap)


@pytest.mark.parametrize("call", ["produce_sync", "commit_sync", "mark_sync"])
def test_a_blocking_call_in_an_async_consumer_fails_its_batch_with_a_clear_error(
        call: str) -> None:
    from engine import BlockingCallError

    class Blocking(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            if call == "produce_sync":
                self.produce_sync("out", 1)
            elif call == "commit_sync":
                self.commit_offsets(sync=True)
            else:
                self.mark_as_consumed(messages[0], sync=True)

    with Harness(async_app(Blocking)) as kafka:
        kafka.create_topic("out")
        kafka.produce("orders", 1)
        kafka.poll()
        (error,) = [event.payload["error"] for event in kafka.events.named("error.occurred")]
        assert isinstance(error, BlockingCallError) and "await self." in str(error)
        assert kafka.topic("out") == []


def test_produce_async_in_a_sync_consumer_fails_its_batch_with_a_clear_error() -> None:
    from engine import NotRunningError

    class Plain(Consumer):
        def consume(self, messages: Messages) -> None:
            self.produce_async("out", 1)

    with Harness(async_app(Plain)) as kafka:
        kafka.create_topic("out")
        kafka.produce("orders", 1)
        kafka.poll()
        (error,) = [event.payload["error"] for event in kafka.events.named("error.occurred")]
        assert isinstance(error, NotRunningError) and "async consumers" in str(error)


def test_a_plain_with_synchronize_in_an_async_consumer_is_refused() -> None:
    from engine import EngineError

    class Shared(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            with self.synchronize():
                pass

    app = async_app(Shared, virtual_partitions=VirtualPartitions(max_partitions=2))
    with Harness(app) as kafka:
        kafka.produce("orders", 1, key="a")
        kafka.poll()
        (error,) = [event.payload["error"] for event in kafka.events.named("error.occurred")]
        assert isinstance(error, EngineError) and "async with self.synchronize()" in str(error)


@pytest.mark.parametrize("awaiting", [False, True])
def test_an_initialized_hook_that_fails_is_retried_on_a_fresh_instance(awaiting: bool) -> None:
    built: list[int] = []
    consumed: list[int] = []

    def setup(consumer: Consumer) -> None:
        built.append(id(consumer))
        if len(built) == 1:
            raise ConnectionError("database not reachable yet")
        consumer.client = "connected"  # type: ignore[attr-defined]

    class Plain(Consumer):
        def initialized(self) -> None:
            setup(self)

        def consume(self, messages: Messages) -> None:
            assert self.client == "connected"  # type: ignore[attr-defined]
            consumed.extend(message.offset for message in messages)

    class Awaiting(Consumer):
        async def initialized(self) -> None:  # type: ignore[override]
            await asyncio.sleep(0)
            setup(self)

        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            assert self.client == "connected"  # type: ignore[attr-defined]
            consumed.extend(message.offset for message in messages)

    with Harness(async_app(Awaiting if awaiting else Plain)) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        (failure,) = [e.payload for e in kafka.events.named("error.occurred")]
        assert failure["type"] == "consumer.initialized.error" and failure["offset"] == 0
        assert consumed == [0] and len(built) == 2
        kafka.stop()
        assert kafka.committed("orders", 0) == 1


def test_a_plain_hook_of_an_async_consumer_that_stalls_the_loop_is_reported() -> None:
    class SlowHook(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            pass

        def shutdown(self) -> None:
            time.sleep(0.05)  # runs on the loop: all of it a stall

    app = async_app(SlowHook, app_options={"loop_stall_threshold": 0.01})
    with Harness(app) as kafka:
        kafka.produce("orders", 1)
        kafka.run()
        kafka.stop()
        (event,) = [e.payload for e in kafka.events.named("error.occurred")]
        assert event["type"] == "consumer.loop.blocked" and event["action"] == "shutdown"
        assert event["stalled"] >= 0.05


def test_the_runtime_methods_work_from_an_async_consume() -> None:
    seen: list[int] = []
    state = {"sought": False}

    class Manual(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            for message in messages:
                await asyncio.sleep(0)
                seen.append(message.offset)
                self.produce("copies", message.payload)
                self.mark_as_consumed(message)
            self.commit_offsets()
            if not state["sought"] and messages.last().offset >= 3:  # type: ignore[union-attr]
                state["sought"] = True
                self.seek(1)
                self.pause(offset=1, timeout=3600.0)
                self.resume()  # at once: the virtual clock never reaches the pause's end

    app = async_app(Manual, manual_offset_management=True)
    with Harness(app) as kafka:
        kafka.create_topic("copies")
        for number in range(4):
            kafka.produce("orders", number)
        kafka.run()
        assert seen == [0, 1, 2, 3, 1, 2, 3]
        assert kafka.clock.now() < 3600.0
        assert [message.payload for message in kafka.topic("copies")] == [0, 1, 2, 3, 1, 2, 3]
        kafka.stop()
        assert kafka.committed("orders", 0) == 4
        kafka.history.check()


def ledger_app(idempotent: bool) -> App:
    """Orders booked by an async consumer; by message position when ``idempotent``."""
    ledger: dict[Any, int] = {}

    class Orders(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            for message in messages:
                await asyncio.sleep(0)  # the booking's I/O
                if idempotent:
                    ledger[(message.partition, message.offset)] = message.payload
                else:
                    ledger["total"] = ledger.get("total", 0) + message.payload

    app = async_app(Orders, app_options={"max_messages": 5})
    app.ledger = ledger  # type: ignore[attr-defined]
    return app


class AsyncLedgerMachine(ConsumerMachine):
    """``ConsumerMachine`` as it is, on an async consumer."""

    app = partial(ledger_app, True)
    topic = "orders"
    partitions = 2
    values = st.integers(1, 9)

    def check_at_end(self, kafka: Harness) -> None:
        ledger = kafka.app.ledger  # type: ignore[attr-defined]
        total = ledger["total"] if "total" in ledger else sum(ledger.values())
        produced = sum(message.payload for message in kafka.topic("orders"))
        assert total == produced, f"ledger {total} != produced {produced}"


class CarelessAsyncMachine(AsyncLedgerMachine):
    app = partial(ledger_app, False)
    shrink_budget = 20  # found is the point here, not the shortest schedule


MACHINE_BUDGET = settings(max_examples=100, deadline=None, database=None, derandomize=True)


def test_the_consumer_machine_passes_an_idempotent_async_consumer() -> None:
    run_state_machine_as_test(AsyncLedgerMachine, settings=MACHINE_BUDGET)


def test_the_consumer_machine_catches_a_non_idempotent_async_consumer_with_a_crash() -> None:
    with pytest.raises(ScheduleError) as failure:
        run_state_machine_as_test(CarelessAsyncMachine, settings=MACHINE_BUDGET)
    text = str(failure.value)
    assert "!= produced" in text and "kafka.crash(" in text, text


def test_an_async_def_event_receiver_is_refused_naming_it_and_the_event() -> None:
    app = async_app(type("Quiet", (Consumer,), {"consume": lambda self, messages: None}))

    async def on_consumed(sender: Any, **event: Any) -> None:
        pass  # would never run: blinker calls it and drops the coroutine

    class Subscriber:
        async def on_app_running(self, sender: Any, **event: Any) -> None:
            pass

    class Awaitable:
        async def __call__(self, sender: Any, **event: Any) -> None:
            pass

    with pytest.raises(TypeError, match=r"on_consumed' for 'consumer\.consumed' is async def"):
        app.monitor.subscribe("consumer.consumed", on_consumed)
    with pytest.raises(TypeError, match=r"on_app_running' for 'app\.running'"):
        app.monitor.subscribe(Subscriber())
    with pytest.raises(TypeError, match=r"'consumer\.consume'"):
        app.monitor.subscribe("consumer.consume")(Awaitable())
    assert not app.monitor.listening("consumer.consumed")


def test_commit_offsets_async_commits_what_was_marked_and_answers() -> None:
    answers: list[bool] = []

    class Orders(Consumer):
        async def consume(self, messages: Messages) -> None:  # type: ignore[override]
            self.mark_as_consumed(messages.first())  # type: ignore[arg-type]
            answers.append(await self.commit_offsets_async())

    with Harness(async_app(Orders, manual_offset_management=True)) as kafka:
        for number in range(3):
            kafka.produce("orders", number)
        kafka.run()
        assert answers == [True]
        assert kafka.committed("orders", 0) == 1  # before any stop: the commit was made
