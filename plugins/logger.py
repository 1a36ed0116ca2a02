"""Logs lifecycle changes, listener states, errors, dead letters and (at debug) every batch.

It also keeps an outage from flooding the log: librdkafka's own lines (logger
``engine.librdkafka``) and repeated errors are logged once per window, then summarised.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any

from engine.app import App
from engine.config.kafka import LIBRDKAFKA_LOGGER
from engine.lifecycle import AppState, ListenerState
from engine.plugin_options import Configurable, Option, positive

from .repeats import RepeatFilter, Repeats, same_text


class LoggerPlugin(Configurable):
    """Writes the engine's story to stdlib ``logging`` (logger ``engine`` by default).

    A message sent to a dead-letter queue is logged at WARNING with its topic, partition,
    offset, the DLQ topic and the error that exhausted its retries.
    Options: ``logger_name`` (``engine``), ``repeat_window`` (seconds, 10): an error of the
    same type and text within the window is counted instead of logged, and the next one after
    it says how many there were (``... repeated 40 times in 10 s``).
    """

    name = "logger"
    OPTIONS = (
        Option("logger_name", str, "engine", help="the stdlib logger to write to"),
        Option("repeat_window", float, 10.0, positive, "seconds a repeated error stays quiet"),
    )

    def __init__(self, logger: logging.Logger | None = None, **options: Any) -> None:
        values = self.configure(options)
        self.log = logger or logging.getLogger(values["logger_name"])
        self._repeats = Repeats(values["repeat_window"])

    def install(self, app: App) -> None:
        """Subscribe this plugin's receivers to ``app``'s monitor."""
        monitor = app.monitor
        for app_state in list(AppState)[1:]:
            monitor.subscribe(f"app.{app_state.value}", self.on_app_state)
        for listener_state in ListenerState:
            monitor.subscribe(f"connection.listener.{listener_state.value}",
                              self.on_listener_state)
        monitor.subscribe("error.occurred", self.on_error_occurred)
        if self.log.isEnabledFor(logging.DEBUG):
            # only then: a per-batch receiver would cost every batch the event's payload
            monitor.subscribe("consumer.consumed", self.on_consumer_consumed)
        monitor.subscribe("process.notice_signal", self.on_process_notice_signal)
        monitor.subscribe("dead_letter_queue.dispatched", self.on_dead_letter_queue_dispatched)
        for change in ("assigned", "revoked", "lost"):
            monitor.subscribe(f"rebalance.partitions_{change}", partial(self.on_rebalance, change))
        _quiet_librdkafka(self._repeats.window)

    def on_app_state(self, sender: Any, **event: Any) -> None:
        """An app state change (a stop also summarises the repeats still held back)."""
        self.log.info("app %s (was %s)", event["state"], event["previous"])
        if event["state"] in (AppState.STOPPED, AppState.TERMINATED):
            for (kind, _), count, text in self._repeats.drain():
                self.log.error("%s: %s %s", kind, text, self._repeats.summary(count))

    def on_listener_state(self, sender: Any, **event: Any) -> None:
        """A listener state change."""
        self.log.info("listener %s %s", event["subscription_group"], event["state"])

    def on_error_occurred(self, sender: Any, **event: Any) -> None:
        """Any error the engine caught, with its traceback (repeats summarised)."""
        error = event.get("error")
        text = repr(error)
        admitted, held = self._repeats.admit((event.get("type"), same_text(text)), text)
        if not admitted:
            return
        context = {k: v for k, v in event.items() if k not in ("type", "error") and _short(v)}
        summary = f" {self._repeats.summary(held)}" if held else ""
        if isinstance(error, asyncio.CancelledError):  # the engine's own cancel: no fault
            self.log.warning("%s: cancelled (a stop past shutdown_timeout, or its partition"
                             " taken away); what it did not mark is consumed again %s%s",
                             event.get("type"), context, summary)
            return
        self.log.error(
            "%s: %r %s%s", event.get("type"), error, context, summary,
            exc_info=(type(error), error, error.__traceback__)
            if isinstance(error, BaseException) else None,
        )

    def on_consumer_consumed(self, sender: Any, **event: Any) -> None:
        """One processed batch (subscribed only when DEBUG is enabled at install)."""
        self.log.debug(
            "consumed %d message(s) of %s/%s in %.3f s (attempt %d)",
            len(event["messages"]), event["topic"], event["partition"], event["time"],
            event["attempt"],
        )

    def on_dead_letter_queue_dispatched(self, sender: Any, **event: Any) -> None:
        """A message was sent to its dead-letter topic (and skipped): where from, and why."""
        error = event.get("error")
        self.log.warning(
            "dead-lettered %s/%s offset %s to %s (consumer group %s): %s", event["topic"],
            event["partition"], event["offset"], event["dlq_topic"],
            _group(sender) or "?",
            "error unknown" if error is None else _error_text(error),
        )

    def on_process_notice_signal(self, sender: Any, **event: Any) -> None:
        """A signal the process received."""
        self.log.info("received %s", event["signal"])

    def on_rebalance(self, change: str, sender: Any, **event: Any) -> None:
        """Partitions assigned, revoked or lost."""
        self.log.info("%s: partitions %s %s", event["subscription_group"], change,
                      event["partitions"])


def _quiet_librdkafka(window: float) -> None:
    """One repeat filter on librdkafka's logger (process-wide, as that logger is)."""
    logger = logging.getLogger(LIBRDKAFKA_LOGGER)
    if not any(isinstance(existing, RepeatFilter) for existing in logger.filters):
        logger.addFilter(RepeatFilter(window))


def _group(sender: Any) -> str:
    """The sender's consumer group: a consumer's, else "" (an event sent by the app, say)."""
    consumer_group = getattr(sender, "consumer_group", "")
    return consumer_group if isinstance(consumer_group, str) else ""


def _error_text(error: Any) -> str:
    """An exception as its repr (type and text); anything else (a header's text) as is."""
    return repr(error) if isinstance(error, BaseException) else str(error)


def _short(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, tuple, list)) and len(repr(value)) < 200
