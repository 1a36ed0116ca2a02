"""Logs lifecycle changes, listener states, errors and (at debug) every processed batch."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from engine.app import App
from engine.lifecycle import AppState, ListenerState


class LoggerPlugin:
    """Writes the engine's story to stdlib ``logging`` (logger ``engine`` by default)."""

    name = "logger"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("engine")

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
        for change in ("assigned", "revoked", "lost"):
            monitor.subscribe(f"rebalance.partitions_{change}", partial(self.on_rebalance, change))

    def on_app_state(self, sender: Any, **event: Any) -> None:
        """An app state change."""
        self.log.info("app %s (was %s)", event["state"], event["previous"])

    def on_listener_state(self, sender: Any, **event: Any) -> None:
        """A listener state change."""
        self.log.info("listener %s %s", event["subscription_group"], event["state"])

    def on_error_occurred(self, sender: Any, **event: Any) -> None:
        """Any error the engine caught, with its traceback."""
        error = event.get("error")
        context = {k: v for k, v in event.items() if k not in ("type", "error") and _short(v)}
        self.log.error(
            "%s: %r %s", event.get("type"), error, context,
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

    def on_process_notice_signal(self, sender: Any, **event: Any) -> None:
        """A signal the process received."""
        self.log.info("received %s", event["signal"])

    def on_rebalance(self, change: str, sender: Any, **event: Any) -> None:
        """Partitions assigned, revoked or lost."""
        self.log.info("%s: partitions %s %s", event["subscription_group"], change,
                      event["partitions"])


def _short(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool, tuple, list)) and len(repr(value)) < 200
