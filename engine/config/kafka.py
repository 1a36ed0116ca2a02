"""librdkafka settings: what the engine injects, forces and refuses, and how it merges them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

LIBRDKAFKA_LOGGER = "engine.librdkafka"
"""The stdlib logger that librdkafka's own log lines go to, for every client the engine makes."""

PROBE_LOGGER = LIBRDKAFKA_LOGGER + ".probe"
"""Where the settings check's throw-away client logs (it never dials a broker)."""

INJECTED_DEFAULTS: dict[str, tuple[Any, str]] = {
    "fetch.queue.backoff.ms": (
        10,
        "librdkafka's 1000 ms back-off stalls catch-up consumption once the local queue fills;"
        " 10 ms keeps fetching while costing a wake-up per 10 ms only when the queue is full",
    ),
    "fetch.wait.max.ms": (
        100,
        "the broker parks a fetch up to 500 ms when no data is ready, adding that much latency"
        " (and random stalls) to a quiet partition; 100 ms costs 10 fetches/s per idle broker",
    ),
}
"""Defaults the engine sets unless the user sets the key; value and why, for the settings page."""

FORCED: dict[str, Any] = {"enable.auto.offset.store": False}
"""Values the engine always sets: offsets are stored only after processing (at-least-once)."""

OWNED: dict[str, str] = {
    "group.id": "the consumer group comes from routing: use app.consumer_group(name)"
    " (the default group is named after client_id)",
    "error_cb": "the engine owns it: subscribe to 'error.occurred' (type librdkafka.error)",
    "stats_cb": "the engine owns it: set statistics.interval.ms and subscribe to"
    " 'statistics.emitted'",
    "on_commit": "the engine owns offset commits",
}
"""Keys a user may not set, with the way to get what they wanted."""

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_SECRET_MARKERS = ("password", "secret", "sasl.oauthbearer.config", ".key.pem", "key.password")


def as_bool(value: Any) -> bool | None:
    """librdkafka's reading of a boolean setting; None when it is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def kafka_problems(kafka: object, where: str, *, require_bootstrap: bool) -> list[str]:
    """Every problem with a librdkafka settings mapping, each naming ``where`` it was given."""
    if not isinstance(kafka, Mapping):
        return [f"{where} must be a dict of librdkafka settings (got {type(kafka).__name__})"]
    problems = [
        f"{where}: setting names must be strings (got {key!r})"
        for key in kafka if not isinstance(key, str)
    ]
    problems += [
        f"{where}: {key} cannot be set ({why})" for key, why in OWNED.items() if key in kafka
    ]
    store = kafka.get("enable.auto.offset.store")
    if store is not None and as_bool(store) is not False:
        problems.append(
            f"{where}: enable.auto.offset.store={store!r} breaks at-least-once delivery (offsets"
            " would be stored before processing); the engine stores them after processing"
        )
    problems += _value_problems(kafka, where)
    if require_bootstrap and not str(kafka.get("bootstrap.servers", "")).strip():
        problems.append(f"{where}: bootstrap.servers is required (e.g. '127.0.0.1:9092')")
    return problems


def _value_problems(kafka: Mapping[Any, Any], where: str) -> list[str]:
    allowed = (str, int, float, bool)
    return [
        f"{where}: {key} must be a string, number or boolean (got {type(value).__name__})"
        for key, value in kafka.items()
        if key not in OWNED and not isinstance(value, allowed) and not callable(value)
    ]


def consumer_config(
    app_kafka: Mapping[str, Any],
    topic_kafka: Mapping[str, Any],
    *,
    group_id: str,
    client_id: str,
    initial_offset: str,
    transactional: bool = False,
) -> dict[str, Any]:
    """The effective settings of one subscription group's consumer, highest priority last.

    A ``transactional`` app's consumers read committed records only, so a new owner never
    starts from a killed member's still-open transaction.
    """
    config: dict[str, Any] = {key: value for key, (value, _) in INJECTED_DEFAULTS.items()}
    config["client.id"] = client_id
    config["auto.offset.reset"] = initial_offset
    config.update(app_kafka)
    config.update(topic_kafka)
    config.update(FORCED)
    if transactional:
        config[ISOLATION] = READ_COMMITTED
    config["group.id"] = group_id
    return config


ISOLATION = "isolation.level"
READ_COMMITTED = "read_committed"


def isolation_problems(kafka: Mapping[str, Any], where: str) -> list[str]:
    """On an app with ``transactional_id``: an ``isolation.level`` other than read_committed."""
    value = kafka.get(ISOLATION)
    if value is None or value == READ_COMMITTED:
        return []
    return [f"{where}: {ISOLATION}={value!r} cannot be used with transactional_id (its"
            f" consumers read {READ_COMMITTED}; drop the setting)"]


def transactional_problems(transactional_id: Any, kafka: Any) -> list[str]:
    """Problems with the ``transactional_id`` setting and the app kafka settings it governs."""
    if transactional_id is None:
        return []
    if not isinstance(transactional_id, str) or not transactional_id.strip():
        return [f"transactional_id must be None or a non-empty string (got {transactional_id!r})"]
    return isolation_problems(kafka, "kafka") if isinstance(kafka, Mapping) else []


_CONSUMER_ONLY = (
    "fetch.", "group.", "session.timeout.ms", "heartbeat.interval.ms", "auto.offset.reset",
    "enable.auto.commit", "auto.commit.interval.ms", "max.poll.interval.ms",
    "partition.assignment.strategy", "isolation.level", "enable.partition.eof", "queued.",
    "check.crcs", "enable.auto.offset.store", "allow.auto.create.topics", "statistics.",
)


def common_config(kafka: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that also apply to a producer or an admin client (no consumer-only keys).

    librdkafka warns about every consumer property a producer is given.
    """
    return {key: value for key, value in kafka.items() if not key.startswith(_CONSUMER_ONLY)}


def logged(config: Mapping[str, Any], logger: str = LIBRDKAFKA_LOGGER) -> dict[str, Any]:
    """``config`` with librdkafka's log lines routed to stdlib logging (never raw stderr).

    Every client the engine creates goes through it, probes too: without a ``logger``
    librdkafka writes its lines (``debug=...`` ones included) straight to the process's
    stderr. confluent-kafka maps librdkafka's syslog levels to logging's (3 ERROR, 4 WARNING,
    5-6 INFO, 7 DEBUG). A ``logger`` the user set wins.
    """
    return {"logger": logging.getLogger(logger), **config}


def refused(where: str, error: BaseException) -> str:
    """The problem line for settings librdkafka refused when a client was created.

    Names the setting, with the closest valid name for an unknown one.
    """
    from engine.config.librdkafka_names import suggestion

    found = error.args[0] if error.args else error
    why = found.str() if hasattr(found, "str") else str(found)
    return f"{where}: librdkafka refused the kafka settings: {why}{suggestion(why)}"


def masked(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to print: secret values replaced by '***'."""
    return {
        key: "***" if any(marker in key for marker in _SECRET_MARKERS) else value
        for key, value in config.items()
    }
