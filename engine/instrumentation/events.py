"""The event catalogue: every event the engine emits, with its sender and payload.

One line per event. ``../shared/design/EVENTS.md`` and this table are checked against each
other by ``tests/unit/test_events_catalogue.py``; the site's events reference is rendered from it.
"""

from __future__ import annotations

from typing import NamedTuple


class EventSpec(NamedTuple):
    """One catalogued event: its name, who sends it and the payload keys it carries."""

    name: str
    sender: str
    payload: str


_LISTENER = "subscription_group"
_PARTITION = "topic, partition"

EVENTS: tuple[EventSpec, ...] = (
    # lifecycle
    EventSpec("app.initialized", "app", "state, previous"),
    EventSpec("app.supervising", "app", "state, previous"),
    EventSpec("app.running", "app", "state, previous"),
    EventSpec("app.quieting", "app", "state, previous"),
    EventSpec("app.quiet", "app", "state, previous"),
    EventSpec("app.stopping", "app", "state, previous"),
    EventSpec("app.stopped", "app", "state, previous"),
    EventSpec("app.terminated", "app", "state, previous"),
    EventSpec("process.notice_signal", "server", "signal"),
    # connection
    EventSpec("connection.listener.pending", "listener", f"{_LISTENER}, state, previous"),
    EventSpec("connection.listener.starting", "listener", f"{_LISTENER}, state, previous"),
    EventSpec("connection.listener.running", "listener", f"{_LISTENER}, state, previous"),
    EventSpec("connection.listener.quieting", "listener", f"{_LISTENER}, state, previous"),
    EventSpec("connection.listener.quiet", "listener", f"{_LISTENER}, state, previous"),
    EventSpec("connection.listener.stopping", "listener", f"{_LISTENER}, state, previous"),
    EventSpec("connection.listener.stopped", "listener", f"{_LISTENER}, state, previous"),
    EventSpec("connection.listener.before_fetch_loop", "listener", _LISTENER),
    EventSpec("connection.listener.fetch_loop", "listener", _LISTENER),
    EventSpec("connection.listener.after_fetch_loop", "listener", _LISTENER),
    EventSpec("connection.listener.fetch_loop.received", "listener",
              f"{_LISTENER}, messages_count, time"),
    EventSpec("client.pause", "client", f"{_LISTENER}, {_PARTITION}, offset, timeout"),
    EventSpec("client.resume", "client", f"{_LISTENER}, {_PARTITION}"),
    EventSpec("client.reset", "client", _LISTENER),
    EventSpec("rebalance.partitions_assigned", "listener",
              f"{_LISTENER}, consumer_group, partitions"),
    EventSpec("rebalance.partitions_revoked", "listener",
              f"{_LISTENER}, consumer_group, partitions"),
    EventSpec("rebalance.partitions_lost", "listener",
              f"{_LISTENER}, consumer_group, partitions"),
    EventSpec("statistics.emitted", "listener", f"{_LISTENER}, consumer_group, statistics"),
    # processing
    EventSpec("consumer.initialized", "consumer", f"{_PARTITION}, time"),
    EventSpec("consumer.consume", "consumer", f"{_PARTITION}, messages, attempt"),
    EventSpec("consumer.consumed", "consumer", f"{_PARTITION}, messages, attempt, time, marked"),
    EventSpec("consumer.revoke", "consumer", _PARTITION),
    EventSpec("consumer.revoked", "consumer", f"{_PARTITION}, time"),
    EventSpec("consumer.shutting_down", "consumer", _PARTITION),
    EventSpec("consumer.shutdown", "consumer", f"{_PARTITION}, time"),
    EventSpec("consumer.eof", "consumer", _PARTITION),
    EventSpec("consumer.eofed", "consumer", f"{_PARTITION}, time"),
    EventSpec("consumer.consuming.pause", "consumer",
              f"{_PARTITION}, offset, timeout, attempt, manual"),
    EventSpec("consumer.consuming.retry", "consumer", f"{_PARTITION}, offset, timeout, attempt"),
    EventSpec("consumer.consuming.seek", "consumer", f"{_PARTITION}, offset"),
    EventSpec("dead_letter_queue.dispatched", "consumer",
              f"{_PARTITION}, offset, dlq_topic, message, error"),
    EventSpec("worker.process", "worker", "job"),
    EventSpec("worker.processed", "worker", "job, time"),
    EventSpec("worker.completed", "worker", "job"),
    EventSpec("worker.scaling.up", "workers pool", "from_size, to_size"),
    EventSpec("worker.scaling.down", "workers pool", "from_size, to_size"),
    # errors
    EventSpec("error.occurred", "the component that caught it", "type, error, context..."),
)

# Beyond the design: events the engine needs that EVENTS.md does not list (yet). The
# catalogue test accepts exactly these on top of the design; anything else still fails it.
BEYOND_DESIGN_EVENTS: tuple[EventSpec, ...] = (
    # a subscription group without partitions for longer than assignment_timeout (then every
    # assignment_timeout again); waited: seconds so far
    EventSpec("connection.listener.unassigned", "listener",
              f"{_LISTENER}, consumer_group, topics, waited"),
)
"""Events beyond the design catalogue (the site's events reference lists them with the rest)."""

EVENT_NAMES: tuple[str, ...] = tuple(spec.name for spec in (*EVENTS, *BEYOND_DESIGN_EVENTS))

ERROR_TYPES: tuple[str, ...] = (
    "runner.call.error",
    "app.stopping.error",
    "connection.listener.fetch_loop.error",
    "connection.client.poll.error",
    "connection.client.commit.error",
    "librdkafka.error",
    "callbacks.rebalance.error",
    "callbacks.statistics.error",
    "consumer.consume.error",
    "consumer.initialized.error",
    "consumer.revoked.error",
    "consumer.shutdown.error",
    "consumer.wrap.error",
    "consumer.eofed.error",
    "producer.delivery.error",
    "consumer.deserialize.error",
    "dead_letter_queue.dispatch.error",
    "worker.process.error",
    "monitor.subscriber.error",
    "swarm.node.error",
    "consumer.loop.blocked",
    "transaction.error",
)
"""Every ``type`` an ``error.occurred`` event can carry."""

BEYOND_DESIGN: frozenset[str] = frozenset({
    # API.md section 13 names it; EVENTS.md does not list it yet
    "consumer.loop.blocked",
    # API.md section 14 asks for a fenced producer's own type; EVENTS.md does not list it yet
    "transaction.error",
})
"""Error types the code uses that the design catalogue lacks (API.md names each)."""
