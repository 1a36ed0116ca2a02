"""The dashboard's own engine app: consumes ``engine_reports`` and ``engine_errors`` into a State.

It reads both topics from their beginning in a consumer group of its own (one per dashboard
process), so a dashboard started later still sees every process that reported recently.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from engine.consumer import Consumer
from engine.errors import AdminError
from engine.messages import Messages
from engine.web.browse import Browser
from engine.web.codec import (
    COMMANDS_CONFIG,
    COMMANDS_TOPIC,
    ERRORS_CONFIG,
    ERRORS_TOPIC,
    HEADERS,
    REPORTS_CONFIG,
    REPORTS_TOPIC,
    RecordError,
    decode,
    encode,
)
from engine.web.state import State

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.app import App

log = logging.getLogger("engine.web")
DLQ_HEADERS = ("source_", "error_type", "error_message")
"""The headers a dead-letter dispatch adds, left out when a dead letter is sent back."""


class RecordsConsumer(Consumer):
    """Applies each record of a batch to the dashboard's ``state`` (set on a subclass)."""

    state: State

    def consume(self, messages: Messages) -> None:
        """Decode and apply; a record that cannot be read is counted and skipped."""
        for message in messages:
            try:
                record = decode(message.raw_payload)
            except RecordError as error:
                log.warning("web: %s/%s@%s skipped: %s", message.topic, message.partition,
                            message.offset, error)
                self.state.count_unreadable()
                continue
            self.state.apply(record)


def group_name() -> str:
    """A consumer group of this dashboard process alone."""
    return f"engine-web-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Feed:
    """An ``App`` on the target app's Kafka settings that fills ``state``; ``start``/``stop``."""

    def __init__(self, target: App, state: State, *, group: str | None = None) -> None:
        from engine.app import App

        self.group = group or group_name()
        kafka: dict[str, Any] = dict(target.settings.kafka)
        self.app = App(kafka=kafka, client_id=self.group, shutdown_timeout=10.0,
                       max_wait_time=0.5)
        consumer = type("DashboardRecords", (RecordsConsumer,), {"state": state})
        routes = self.app.consumer_group(self.group)
        for topic, config in ((REPORTS_TOPIC, REPORTS_CONFIG), (ERRORS_TOPIC, ERRORS_CONFIG)):
            routes.topic(topic, consumer, initial_offset="earliest", config=config)
        self.app.declare_topic(COMMANDS_TOPIC, config=COMMANDS_CONFIG)

    def start(self) -> None:
        """Create the three topics if missing (a dashboard may start first), then consume."""
        from engine import admin

        try:
            for change in admin.create(self.app, timeout=10.0):
                log.info("web: %s", change)
        except AdminError as error:  # the processes' plugin creates them too
            log.warning("web: could not create the dashboard's topics: %s", error)
        self.app.start()

    def stop(self) -> None:
        """Stop consuming."""
        self.app.stop()

    def resend(self, browser: Browser, topic: str, partition: int, offset: int,
               sources: Collection[str]) -> str:
        """Send the dead letter at ``topic/partition@offset`` back to its ``source_topic``.

        Its key, value and own headers go; the headers the dead-letter dispatch added
        (``source_*``, ``error_*``) stay behind. Says where it went. ``LookupError`` says why
        not: nothing there, no ``source_topic``, or one that is not in ``sources`` (the
        topics whose routes dead-letter to ``topic``: a header could name any topic).
        """
        message = browser.message(topic, partition, offset)
        if message is None:
            raise LookupError(f"nothing at {topic}/{partition}@{offset}")
        headers = list(message.headers() or [])
        source = dict(headers).get("source_topic")
        if not source:
            raise LookupError(f"{topic}/{partition}@{offset} has no source_topic header")
        target = source.decode("utf-8", "replace") if isinstance(source, bytes) else str(source)
        if target not in sources:
            raise LookupError(f"{topic}/{partition}@{offset} names {target!r}, no route of"
                              f" which dead-letters to {topic}")
        kept = [(name, value) for name, value in headers if not name.startswith(DLQ_HEADERS)]
        self.app.produce_sync(target, message.value(), key=message.key(), headers=kept)
        return f"{topic}/{partition}@{offset} re-sent to {target}"

    def send(self, process: str, action: str, target: Mapping[str, Any] | None = None) -> None:
        """Send a command to one process (``engine_commands``, keyed by its id); wait for it.

        ``target`` names the partition of a partition command (``topic``, ``partition``).
        """
        record = encode("command", {"action": action, "process": process, "at": time.time(),
                                    **(target or {})})
        self.app.produce_sync(COMMANDS_TOPIC, record, key=process, headers=list(HEADERS))
