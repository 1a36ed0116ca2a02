"""The app's settings: keyword-only, validated all at once, frozen after construction."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from engine.config.kafka import kafka_problems, transactional_problems
from engine.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Validated app settings; durations are seconds. Build with ``Settings.build(**options)``."""

    kafka: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Dict of librdkafka settings, passed through; ``bootstrap.servers`` is required."""
    client_id: str = "engine"
    """Non-empty; librdkafka's ``client.id`` and the default consumer group's name."""
    concurrency: int = 5
    """Integer >= 1: worker threads shared by all listeners."""
    connections: int | None = None
    """None or an integer >= 1: Kafka connections per subscription group, each a
    member of the consumer group with its own listener thread, so batches of partitions held
    by different connections run at the same time. None: 1, or ``concurrency`` on an app with
    ``transactional_id`` (a partition's transactions run one after another and one poll mostly
    brings one partition, so transactions of different partitions overlap only across
    connections)."""
    max_messages: int = 500
    """Integer >= 1: most messages in one polled batch."""
    max_wait_time: float = 1.0
    """Seconds > 0, lower than ``shutdown_timeout``: longest wait for a message."""
    shutdown_timeout: float = 60.0
    """Seconds > 0: a graceful stop longer than this is forced."""
    pause_timeout: float = 1.0
    """Seconds > 0, at most ``pause_max_timeout``: first back-off after a failure."""
    pause_max_timeout: float = 30.0
    """Seconds > 0: the back-off's cap."""
    pause_with_exponential_backoff: bool = True
    """True or False: the back-off doubles on each retry when true."""
    node_report_timeout: float = 60.0
    """Seconds > 0 a swarm node may go without reporting progress (or report a
    listener stuck that long) before the supervisor kills and restarts it."""
    assignment_timeout: float = 60.0
    """Seconds > 0 a subscription group may hold no partitions before it is
    reported: one warning in the log (logger ``engine.listener``, naming the subscription group,
    consumer group, topics and how long), ``connection.listener.unassigned`` then and every
    ``assignment_timeout`` again, and the health plugin's ``/ready`` answers 503 while it lasts
    (an info line says when partitions arrive)."""
    max_async_jobs: int = 1000
    """Integer >= 1: async consumers' jobs running at once on the app's event loop
    (the rest wait, in order)."""
    loop_stall_threshold: float = 0.5
    """Seconds > 0: a step of an async consumer's hook longer than this (no
    ``await`` in between) is reported as ``consumer.loop.blocked``."""
    plugins: tuple[str, ...] = ()
    """Plugin names from the ``engine.plugins`` entry-point group."""
    transactional_id: str | None = None
    """None or a non-empty string: turns on transactions; the app's consumers then
    read ``isolation.level=read_committed`` (another value is refused)."""

    @property
    def connections_per_group(self) -> int:
        """How many connections each subscription group runs (``connections`` resolved)."""
        if self.connections is not None:
            return self.connections
        return self.concurrency if self.transactional_id is not None else 1

    @classmethod
    def build(cls, **options: Any) -> Settings:
        """Validate ``options`` and return frozen settings, or raise one ``ConfigError``."""
        problems = _unknown_options(options)
        values = {key: value for key, value in options.items() if key in _NAMES}
        merged = {**_DEFAULTS, **values}
        problems += _problems(merged)
        if problems:
            raise ConfigError(problems)
        merged["kafka"] = MappingProxyType(dict(merged["kafka"]))
        merged["plugins"] = tuple(merged["plugins"])
        merged["max_wait_time"] = float(merged["max_wait_time"])
        return cls(**merged)


_NAMES = tuple(f.name for f in fields(Settings))
_DEFAULTS = {
    f.name: f.default for f in fields(Settings) if f.name not in ("kafka",)
} | {"kafka": {}}


def _unknown_options(options: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in options:
        if key not in _NAMES:
            close = difflib.get_close_matches(key, _NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{key} is not a setting{hint}")
    return problems


def _problems(s: Mapping[str, Any]) -> list[str]:
    problems = kafka_problems(s["kafka"], "kafka", require_bootstrap=True)
    problems += _whole("concurrency", s["concurrency"], 1)
    problems += _whole("max_messages", s["max_messages"], 1)
    problems += _whole("max_async_jobs", s["max_async_jobs"], 1)
    if s["connections"] is not None:
        problems += _whole("connections", s["connections"], 1)
    for name in ("max_wait_time", "shutdown_timeout", "pause_timeout", "pause_max_timeout",
                 "node_report_timeout", "assignment_timeout", "loop_stall_threshold"):
        problems += _positive(name, s[name])
    if not isinstance(s["client_id"], str) or not s["client_id"].strip():
        problems.append(f"client_id must be a non-empty string (got {s['client_id']!r})")
    if not isinstance(s["pause_with_exponential_backoff"], bool):
        value = s["pause_with_exponential_backoff"]
        problems.append(f"pause_with_exponential_backoff must be True or False (got {value!r})")
    problems += _plugin_names(s["plugins"])
    problems += transactional_problems(s["transactional_id"], s["kafka"])
    return problems + _relations(s)


def _relations(s: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    names = ("max_wait_time", "shutdown_timeout", "pause_timeout", "pause_max_timeout")
    if not all(_is_number(s[name]) for name in names):
        return problems
    if s["max_wait_time"] >= s["shutdown_timeout"]:
        problems.append(
            f"max_wait_time ({float(s['max_wait_time'])}) must be lower than shutdown_timeout"
            f" ({float(s['shutdown_timeout'])})"
        )
    if s["pause_timeout"] > s["pause_max_timeout"]:
        problems.append(
            f"pause_timeout ({float(s['pause_timeout'])}) must not exceed pause_max_timeout"
            f" ({float(s['pause_max_timeout'])})"
        )
    return problems


def _whole(name: str, value: Any, minimum: int) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return [f"{name} must be an integer >= {minimum} (got {value!r})"]
    return []


def _positive(name: str, value: Any) -> list[str]:
    if not _is_number(value) or not value > 0:  # NaN is not > 0 either
        return [f"{name} must be a number of seconds > 0 (got {value!r})"]
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plugin_names(plugins: Any) -> list[str]:
    if isinstance(plugins, (str, bytes)) or not isinstance(plugins, (list, tuple)):
        return [f"plugins must be a list of plugin names (got {plugins!r})"]
    return [
        f"plugins: {name!r} is not a plugin name (a string)"
        for name in plugins if not isinstance(name, str)
    ]
