"""What a declared topic should look like on the cluster: partitions, replicas, topic configs."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Topic-level configs of Apache Kafka 4.4 (what DescribeConfigs lists for a topic); a test on
# the real broker keeps this list honest.
KAFKA_TOPIC_CONFIGS = frozenset({
    "cleanup.policy", "compression.gzip.level", "compression.lz4.level", "compression.type",
    "compression.zstd.level", "delete.retention.ms", "errors.deadletterqueue.group.enable",
    "file.delete.delay.ms", "flush.messages", "flush.ms",
    "follower.replication.throttled.replicas", "index.interval.bytes",
    "leader.replication.throttled.replicas", "local.retention.bytes", "local.retention.ms",
    "max.compaction.lag.ms", "max.decompressed.message.bytes", "max.message.bytes",
    "message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
    "message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms",
    "min.insync.replicas", "preallocate", "remote.copy.lag.bytes", "remote.copy.lag.ms",
    "remote.log.copy.disable", "remote.log.delete.on.disable", "remote.storage.enable",
    "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes",
    "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable",
})
SHAPE_KEYS = ("partitions", "replication_factor")


@dataclass(frozen=True)
class TopicConfig:
    """Partitions and replication factor (None: the broker's default) and topic configs.

    Config values are kept as the strings Kafka stores (``True`` -> ``"true"``).
    """

    partitions: int | None = None
    replication_factor: int | None = None
    configs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def build(cls, config: Mapping[str, Any]) -> TopicConfig:
        """The config of a valid mapping (check it first with ``config_problems``)."""
        configs = {key: kafka_value(value) for key, value in config.items()
                   if key not in SHAPE_KEYS}
        return cls(config.get("partitions"), config.get("replication_factor"),
                   MappingProxyType(dict(sorted(configs.items()))))

    def describe(self) -> str:
        """``6 partitions, replication factor 3, retention.ms=86400000`` (defaults said so)."""
        parts = [f"{self.partitions} partitions" if self.partitions else "default partitions",
                 f"replication factor {self.replication_factor}" if self.replication_factor
                 else "default replication factor"]
        return ", ".join(parts + [f"{key}={value}" for key, value in self.configs.items()])


def kafka_value(value: Any) -> str:
    """A config value as Kafka stores it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def config_problems(config: Any) -> list[str]:
    """Every problem of a ``config=`` mapping, each naming the key (with the closest name)."""
    if not isinstance(config, Mapping):
        return [f"config must be a dict of topic settings (got {config!r})"]
    problems = [problem for key in SHAPE_KEYS if key in config
                for problem in [_count_problem(key, config[key])] if problem]
    for key, value in config.items():
        if key in SHAPE_KEYS:
            continue
        if key not in KAFKA_TOPIC_CONFIGS:
            problems.append(_unknown(key))
        elif isinstance(value, (dict, list, tuple, set)) or value is None:
            problems.append(f"config {key!r} must be a string, number or bool (got {value!r})")
    return problems


def _count_problem(key: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"config {key!r} must be an integer >= 1 (got {value!r})"
    return None


def _unknown(key: Any) -> str:
    known = [*SHAPE_KEYS, *sorted(KAFKA_TOPIC_CONFIGS)]
    close = difflib.get_close_matches(str(key), known, n=1) if isinstance(key, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"config {key!r} is not a Kafka topic config{hint}"
