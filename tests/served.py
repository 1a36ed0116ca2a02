"""Build what a listener serves for one partition (state, executor, strategy) around a fake."""

from __future__ import annotations

from typing import Any

from engine import App, Consumer
from engine.connection.listener import Listener
from engine.processing.backoff import Backoff
from engine.processing.executor import Executor
from engine.processing.jobs_queue import JobsQueue
from engine.processing.partition import Partition
from engine.processing.partitions import Served
from engine.processing.runtime import Runtime
from engine.processing.strategies import strategy_for
from engine.processing.workers_pool import WorkersPool
from engine.routing.topic import Topic
from tests.conftest import BOOTSTRAP
from tests.fakes_client import FakeClient


def served(app: App, route: Topic, number: int, client: Any, clock: Any = None,
           consumer_group: str = "g") -> Served:
    """The same wiring as ``Listener._serve``, with an injected client and clock."""
    settings = app.settings
    backoff = Backoff(settings.pause_timeout, settings.pause_max_timeout,
                      settings.pause_with_exponential_backoff)
    state = (Partition(route.name, number, client, backoff) if clock is None
             else Partition(route.name, number, client, backoff, clock))
    runtime = Runtime(state, app.producer, app.monitor)
    executor = Executor(route, number, runtime, app.monitor)
    return Served(state, executor, strategy_for(route, app.monitor, app.producer,
                                                 consumer_group))


def run_batch(entry: Served, raws: list[Any], polled_at: float = 0.0) -> bool:
    """Start and run one batch as the listener and a worker would; False if refused."""
    messages = entry.executor.batch(raws, polled_at)
    if not entry.state.start(messages.metadata.first_offset, messages.metadata.last_offset):
        return False
    from engine.processing.jobs import Consume

    Consume(entry.executor, "g", entry.state, entry.strategy, messages).run()
    return True


def fake_listener(consumer: type[Consumer], clock: Any = None, **options: Any
                  ) -> tuple[Listener, FakeClient, WorkersPool]:
    """A listener of one topic "t" on a ``FakeClient``, with one worker running its jobs."""
    app = App(kafka=BOOTSTRAP, **options)
    app.topic("t", consumer)
    (group,) = app.subscription_groups()
    queue = JobsQueue()
    workers = WorkersPool(queue, app.monitor)
    workers.scale(1)
    timing = {} if clock is None else {"clock": clock}
    listener = Listener(group, queue, app.monitor, app.settings, app.producer,
                        client_factory=FakeClient, **timing)  # type: ignore[arg-type]
    client = listener.client
    assert isinstance(client, FakeClient)
    return listener, client, workers
