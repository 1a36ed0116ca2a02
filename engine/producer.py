"""One producer per app, shared by every consumer (``produce``) and by dead-letter dispatch."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from engine.aio.sends import AsyncSends
from engine.config.kafka import common_config, logged
from engine.errors import NotRunningError, ProduceError

if TYPE_CHECKING:
    from engine.instrumentation.monitor import Monitor
    from engine.messages import Message

HeaderSource = Callable[[], "list[tuple[str, bytes]]"]
"""Headers to add to every message sent (a tracing plugin's ``traceparent``, say)."""

ProducerClientFactory = Callable[[dict[str, Any]], Any]
"""Builds the producer client from its librdkafka settings (``confluent_kafka.Producer``)."""


def kafka_producer(config: dict[str, Any]) -> Any:
    """The real client (imported on first use: an app that never produces never loads it)."""
    from confluent_kafka import Producer as KafkaProducer

    return KafkaProducer(logged(config))


ERROR_TYPE_LIMIT = 256
ERROR_MESSAGE_LIMIT = 1024
"""Bytes at most of a dead-letter copy's ``error_type`` and ``error_message`` headers."""


def error_headers(error: BaseException | None) -> list[tuple[str, bytes]]:
    """``error_type`` (module and qualified class name) and ``error_message`` (its text)."""
    if error is None:
        return []
    kind = type(error)
    name = kind.__qualname__ if kind.__module__ == "builtins" else (
        f"{kind.__module__}.{kind.__qualname__}")
    return [("error_type", clipped(name, ERROR_TYPE_LIMIT)),
            ("error_message", clipped(str(error), ERROR_MESSAGE_LIMIT))]


def clipped(text: str, limit: int) -> bytes:
    """``text`` as UTF-8 in at most ``limit`` bytes; a cut one ends with '...'."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return data
    return data[:limit - 3].decode("utf-8", "ignore").encode() + b"..."


class Producer:
    """A lazily created ``confluent_kafka.Producer``; async sends report failures as events.

    ``client_factory`` builds the client (the testing kit passes an in-memory one). Once
    closed it stays closed: a send then raises ``NotRunningError`` instead of building a
    client nobody would flush.
    """

    def __init__(self, kafka: Mapping[str, Any], client_id: str, monitor: Monitor, *,
                 client_factory: ProducerClientFactory = kafka_producer) -> None:
        self._config = common_config(kafka)
        self._config.setdefault("client.id", client_id)
        self._monitor = monitor
        self._client_factory = client_factory
        self._producer: Any = None
        self._lock = threading.Lock()
        self._header_sources: list[HeaderSource] = []
        self._closed = False
        self._async_sends: AsyncSends | None = None  # made by the first async send

    @property
    def has_client(self) -> bool:
        """Whether the client was built (by a send) and not closed since."""
        return self._producer is not None

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called (sends raise ``NotRunningError`` from then on)."""
        return self._closed

    def rebuilt(self, *, client_factory: ProducerClientFactory) -> Producer:
        """A producer with these settings and header sources over another client."""
        twin = Producer({}, "", self._monitor, client_factory=client_factory)
        twin._config = dict(self._config)
        twin._header_sources = self._header_sources  # shared: a source added later counts
        return twin

    def add_header_source(self, source: HeaderSource) -> None:
        """Add ``source()``'s headers to every message sent from now on.

        A header the message already carries is kept as it is (a dead-letter copy keeps the
        original's ``traceparent``).
        """
        self._header_sources.append(source)

    def produce(
        self, topic: str, value: Any, *, key: Any = None, headers: Any = None,
        partition: int | None = None, sync: bool = False, timeout: float = 30.0,
    ) -> None:
        """Send one message; with ``sync`` wait for the acknowledgement or raise."""
        done = threading.Event() if sync else None
        outcome: list[Any] = []

        def delivered(error: Any, message: Any) -> None:
            if done is not None:
                outcome.append(error)
                done.set()
            elif error is not None:
                self._monitor.instrument("error.occurred", self, type="producer.delivery.error",
                                         error=error, topic=topic)

        options = self._options(key, headers, partition, delivered)
        producer = self._client()
        deadline = time.monotonic() + timeout
        self._enqueue(producer, topic, encode(value), options, deadline, timeout)
        producer.poll(0)
        if self._closed and done is None:  # closed while this send was on its way in
            self._flush_late(producer, timeout)
        if done is not None:
            self._await(producer, done, deadline, timeout, topic)
            if outcome and outcome[0] is not None:
                raise ProduceError(f"sending to {topic!r} failed: {outcome[0]}")

    def produce_async(
        self, topic: str, value: Any, *, key: Any = None, headers: Any = None,
        partition: int | None = None, timeout: float = 30.0,
    ) -> asyncio.Task[None]:
        """Send one message from the running event loop (``engine.aio.sends``).

        Enqueued at once; the task returned resolves once the broker acknowledged it, or
        raises ``ProduceError``.
        """
        if self._async_sends is None:
            self._async_sends = AsyncSends(self._client, self._options, self._failed_late)
        return self._async_sends.send(topic, encode(value), key=key, headers=headers,
                                      partition=partition, timeout=timeout)

    def _failed_late(self, error: Any, topic: str) -> None:
        self._monitor.instrument("error.occurred", self, type="producer.delivery.error",
                                 error=error, topic=topic)

    def _options(self, key: Any, headers: Any, partition: int | None,
                 delivered: Callable[[Any, Any], None]) -> dict[str, Any]:
        """The client's ``produce`` options: headers (with the sources'), key, report."""
        if self._header_sources:
            headers = self._added_headers(headers)
        options: dict[str, Any] = {"key": encode(key), "headers": headers,
                                   "on_delivery": delivered}
        if partition is not None:
            options["partition"] = partition
        return options

    def _added_headers(self, headers: Any) -> list[tuple[str, Any]]:
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        present = {name for name, _ in pairs}
        for source in self._header_sources:
            pairs += [(name, value) for name, value in source() if name not in present]
        return pairs

    @staticmethod
    def _enqueue(producer: Any, topic: str, value: bytes | None, options: dict[str, Any],
                 deadline: float, timeout: float) -> None:
        """Hand a message to librdkafka; a full queue is waited on (serving deliveries)."""
        while True:
            try:
                producer.produce(topic, value, **options)
                return
            except BufferError:
                if time.monotonic() >= deadline:
                    raise ProduceError(
                        f"sending to {topic!r}: the producer queue stayed full for {timeout}s"
                    ) from None
                producer.poll(0.05)  # deliveries make room

    def dispatch(self, message: Message, topic: str, consumer_group: str,
                 error: BaseException | None = None) -> None:
        """Copy a failed message to a dead-letter topic: key and headers kept, source added.

        ``error`` (what the last attempt raised) is named in ``error_type`` and
        ``error_message``, each cut to a bounded size.
        """
        headers = [*message.raw_headers, *[
            ("source_topic", message.topic.encode()),
            ("source_partition", str(message.partition).encode()),
            ("source_offset", str(message.offset).encode()),
            ("source_consumer_group", consumer_group.encode()),
        ], *error_headers(error)]
        self.produce(topic, message.raw_payload, key=message.raw_key, headers=headers, sync=True)

    def flush(self, timeout: float, report: bool = True) -> int:
        """Wait up to ``timeout`` for what is in flight; return (and report) what is left.

        Messages still undelivered are reported as ``error.occurred`` type
        ``producer.delivery.error`` with their ``count``: never dropped silently. A flush
        that is followed by ``close`` may leave the reporting to it (``report=False``).
        """
        with self._lock:
            producer = self._producer
        left = int(producer.flush(timeout)) if producer is not None else 0
        if left and report:
            self._monitor.instrument(
                "error.occurred", self, type="producer.delivery.error", count=left,
                error=ProduceError(f"{left} message(s) not delivered within {timeout}s"),
            )
        return left

    def close(self, timeout: float = 10.0) -> int:
        """Flush (reporting what could not be delivered) and let go of the client.

        Closed first, flushed then: a send that slipped past the check meanwhile sees the
        mark after it enqueued and flushes its own message (never a silent drop).
        """
        with self._lock:
            self._closed = True
        left = self.flush(timeout)
        with self._lock:
            self._producer = None
        return left

    def _flush_late(self, producer: Any, timeout: float) -> None:
        left = int(producer.flush(timeout))
        if left:
            self._monitor.instrument(
                "error.occurred", self, type="producer.delivery.error", count=left,
                error=ProduceError(f"{left} message(s) sent while the producer closed were"
                                   f" not delivered within {timeout}s"),
            )

    def _client(self) -> Any:
        with self._lock:
            if self._closed:
                raise NotRunningError("the producer is closed (its app stopped): nothing"
                                      " can be sent through it any more")
            if self._producer is None:
                self._producer = self._client_factory(self._config)
            return self._producer

    @staticmethod
    def _await(producer: Any, done: threading.Event, deadline: float, timeout: float,
               topic: str) -> None:
        # poll() returns as soon as any delivery is served: only the clock says when to stop
        while not done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            producer.poll(min(remaining, 0.05))
        if not done.is_set():
            raise ProduceError(f"sending to {topic!r} was not acknowledged within {timeout}s")


def encode(value: Any) -> bytes | None:
    """Bytes as they are, text as UTF-8, anything else as JSON; None stays None."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()

