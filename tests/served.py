"""Build what a listener serves for one partition (state, executor, strategy) around a fake."""

from __future__ import annotations

from typing import Any

from engine import App, Consumer
from engine.connection.listener import Listener
from engine.connection.partition_effects import apply_effects
from engine.processing.jobs import Consume
from engine.processing.jobs_queue import JobsQueue
from engine.processing.partition_builder import PartitionBuilder
from engine.processing.partitions import Served
from engine.processing.workers_pool import WorkersPool
from engine.routing.subscription_group import group_topics
from engine.routing.topic import Topic
from tests.conftest import BOOTSTRAP
from tests.fakes_client import FakeClient


def served(app: App, route: Topic, number: int, client: Any, clock: Any = None,
           consumer_group: str = "g", **options: Any) -> Served:
    """What ``PartitionBuilder`` builds for a listener, with an injected client and clock.

    ``options`` go to the builder (``transactional_factory``, say).
    """
    (group,) = group_topics(consumer_group, [route], app.settings)
    timing = {} if clock is None else {"clock": clock}
    builder = PartitionBuilder(group, app.monitor, app.settings, app.producer, **timing,
                               **options)
    return builder.build((route.name, number), client)


def run_batch(entry: Served, raws: list[Any], polled_at: float = 0.0, client: Any = None
              ) -> bool:
    """Start and run one batch as the listener and a worker would; False if refused.

    With ``client``, the effects the batch left are applied to it, as the listener does.
    """
    messages = entry.executor.batch(raws, polled_at)
    if not entry.state.start(messages.metadata.first_offset, messages.metadata.last_offset):
        return False
    try:
        Consume(entry.executor, "g", entry.strategy, messages).run()
    finally:  # a job that raises is reported by its worker; the listener applies all the same
        if client is not None:
            apply_effects(client, entry.state, entry.context.take_effects())
    return True


def resume_due(entry: Served, client: Any, now: float) -> float | None:
    """End a pause that is over, as the listener does before a poll; seconds left otherwise."""
    until = entry.state.paused_until
    if until is not None and until <= now:
        apply_effects(client, entry.state, entry.state.end_pause())
        until = entry.state.paused_until
    return None if until is None else until - now


def fake_listener(consumer: type[Consumer], clock: Any = None,
                  listener_options: dict[str, Any] | None = None, **options: Any
                  ) -> tuple[Listener, FakeClient, WorkersPool]:
    """A listener of one topic "t" on a ``FakeClient``, with one worker running its jobs.

    ``options`` go to the ``App``, ``listener_options`` to the ``Listener``.
    """
    app = App(kafka=BOOTSTRAP, **options)
    app.topic("t", consumer)
    (group,) = app.subscription_groups()
    queue = JobsQueue()
    workers = WorkersPool(queue, app.monitor)
    workers.scale(1)
    timing = {} if clock is None else {"clock": clock}
    listener = Listener(group, queue, app.monitor, app.settings, app.producer,
                        client_factory=FakeClient,  # type: ignore[arg-type]
                        **timing, **(listener_options or {}))
    client = listener.client
    assert isinstance(client, FakeClient)
    return listener, client, workers
