"""The dashboard's commands to this process (``engine_commands``).

Quiet or stop the process, pause or resume one of its partitions.

Every process reads the topic from its end when it starts (a command sent before is not for
this run) with a client of its own and no consumer group, so every process sees every command
and takes those keyed with its id. The command runs on a thread of its own: ``app.quiet()``,
``app.stop()``, ``app.pause(topic, partition)`` (until resumed) or ``app.resume(...)``, as a
program embedding the app would call them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.config.kafka import common_config, logged
from engine.lifecycle import AppState
from engine.web.codec import COMMANDS, COMMANDS_TOPIC, RecordError, decode

if TYPE_CHECKING:
    from engine.app import App

log = logging.getLogger("engine.web")
_FINAL = (AppState.STOPPING.value, AppState.STOPPED.value, AppState.TERMINATED.value)


class Commands:
    """Reads ``engine_commands`` on thread ``engine.web.commands`` until the app stops."""

    def __init__(self, app: App, process_id: str, state: Callable[[], str]) -> None:
        self._app = app
        self._process_id = process_id.encode()
        self._state = state

    def start(self) -> None:
        """Start reading."""
        threading.Thread(target=self._run, name="engine.web.commands", daemon=True).start()

    def _run(self) -> None:
        from confluent_kafka import OFFSET_END, TopicPartition
        from confluent_kafka import Consumer as KafkaConsumer

        config = {**common_config(self._app.settings.kafka), "group.id": "engine-web-commands",
                  "enable.auto.commit": False, "enable.auto.offset.store": False}
        reader = KafkaConsumer(logged(config))
        try:
            reader.assign([TopicPartition(COMMANDS_TOPIC, 0, OFFSET_END)])
            while self._state() not in _FINAL:
                for message in reader.consume(10, 0.5):
                    if message.error() is None and message.key() == self._process_id:
                        self.obey(message.value())
        finally:
            reader.close()

    def obey(self, data: bytes | None) -> None:
        """Run one command record's action on a thread of its own (a bad record is logged)."""
        try:
            record = decode(data)
        except RecordError as error:
            log.warning("web: a command could not be read: %s", error)
            return
        action = record.get("action")
        if record.get("kind") != "command" or action not in COMMANDS:
            log.warning("web: unknown command %r ignored", action)
            return
        act = self._action(action, record)
        if act is None:
            log.warning("web: %s without a topic and partition ignored", action)
            return
        log.info("web: the dashboard asked this process to %s", action)
        threading.Thread(target=_logged(act, action), name=f"engine.web.{action}",
                         daemon=True).start()

    def _action(self, action: str, record: dict[str, Any]) -> Callable[[], Any] | None:
        """What ``action`` calls on the app; None for a partition command naming none."""
        app = self._app
        if action == "quiet":
            return app.quiet
        if action == "stop":
            return app.stop
        topic, partition = record.get("topic"), record.get("partition")
        if not isinstance(topic, str) or not isinstance(partition, int):
            return None
        if action == "pause":
            return lambda: app.pause(topic, partition)
        return lambda: app.resume(topic, partition)


def _logged(act: Callable[[], Any], action: str) -> Callable[[], None]:
    def run() -> None:
        try:
            act()
        except Exception:  # reported, never raised on a thread nobody joins
            log.exception("web: %s failed", action)
    return run
