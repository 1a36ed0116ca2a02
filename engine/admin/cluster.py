"""One admin connection to the app's cluster: what it holds and the calls that change it.

Every refusal becomes a problem line (``engine.admin.problems``); nothing is retried blindly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from confluent_kafka import KafkaError, KafkaException

# confluent_kafka.admin re-exports these without declaring them: mypy cannot see it
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from engine.admin.changes import AddPartitions, CreateTopic, DeleteTopic, SetConfig
from engine.admin.leaders import wait_for_leaders
from engine.admin.planning import Observed, same_value
from engine.admin.problems import FAILURES, HINTS, kafka_error, problem, unreachable
from engine.config.kafka import common_config, logged, refused
from engine.errors import AdminError

AdminResult = tuple[list[Any], list[str]]  # (what was done, problem lines)
_ABSENT = ("UNKNOWN_TOPIC_OR_PART", "UNKNOWN_TOPIC_ID")
INVALID_REPLICATION_FACTOR = KafkaError.INVALID_REPLICATION_FACTOR


class Cluster:
    """An ``AdminClient`` on the app's brokers, with a timeout for every request."""

    def __init__(self, kafka: Mapping[str, Any], timeout: float) -> None:
        self.servers = kafka.get("bootstrap.servers")
        self.timeout = timeout
        # held for the client's whole use: its futures fail once it is destroyed
        try:
            self.client = AdminClient(cast(Any, logged(common_config(kafka))))
        except KafkaException as error:  # a misspelt setting: the broker was never asked
            raise AdminError([refused("kafka", error) + " (hint: fix the App(kafka=...)"
                              " settings)"]) from error

    def metadata(self) -> Any:
        """The cluster metadata, or ``AdminError`` when no broker answers."""
        try:
            return self.client.list_topics(timeout=self.timeout)
        except FAILURES as error:
            raise AdminError([unreachable(self.servers, self.timeout, error)]) from error

    def observe(self, names: Iterable[str]) -> dict[str, Observed | None]:
        """Each named topic's partitions, replication factor and configs (None: missing)."""
        topics = self.metadata().topics
        present = [name for name in names if _exists(topics.get(name))]
        configs = self._configs(present)
        found: dict[str, Observed | None] = {name: None for name in names}
        for name in present:
            partitions = topics[name].partitions.values()
            replicas = min(len(partition.replicas) for partition in partitions)
            found[name] = Observed(len(partitions), replicas, configs[name])
        return found

    def broker_count(self) -> int:
        """How many brokers the metadata lists."""
        return len(self.metadata().brokers)

    def create(self, changes: Sequence[CreateTopic]) -> AdminResult:
        """Create the topics; one already there (created meanwhile) counts as done."""
        brokers = self.broker_count()
        done: list[Any] = []
        problems: list[str] = []
        wanted: list[CreateTopic] = []
        for change in changes:
            replicas = change.topic.config.replication_factor
            if replicas is not None and replicas > brokers:
                problems.append(
                    f"{change.topic.name}: replication factor {replicas} is above the {brokers}"
                    f" broker(s) the cluster has (hint: {HINTS[INVALID_REPLICATION_FACTOR]})")
            else:
                wanted.append(change)
        if not wanted:
            return done, problems
        futures = self.client.create_topics(
            [_new_topic(change) for change in wanted],
            operation_timeout=self.timeout, request_timeout=self.timeout)
        for change in wanted:
            error = self._failure(futures[change.topic.name])
            if error is None or _code(error) == "TOPIC_ALREADY_EXISTS":
                done.append(change)
            else:
                problems.append(problem(change.topic.name, "creating it", error))
        counts = {c.topic.name: c.topic.config.partitions or 1 for c in done}
        return done, problems + self._leaders(counts)

    def add_partitions(self, changes: Sequence[AddPartitions]) -> AdminResult:
        """Raise each topic's partition count to the declared one."""
        if not changes:
            return [], []
        futures = self.client.create_partitions(
            [NewPartitions(change.topic, change.wanted) for change in changes],
            operation_timeout=self.timeout, request_timeout=self.timeout)
        done, problems, raced = [], [], []
        for change in changes:
            error = self._failure(futures[change.topic])
            if error is None:
                done.append(change)
            elif _code(error) == "INVALID_PARTITIONS":
                raced.append((change, error))
            else:
                problems.append(problem(change.topic, "adding partitions", error))
        problems += self._raced(raced)
        return done, problems + self._leaders({c.topic: c.wanted for c in done})

    def _raced(self, refused: list[tuple[AddPartitions, BaseException]]) -> list[str]:
        """Refusals because another process added the partitions first are no problem."""
        if not refused:
            return []
        found = self.observe([change.topic for change, _ in refused])
        return [problem(change.topic, "adding partitions", error) for change, error in refused
                if (now := found[change.topic]) is None or now.partitions < change.wanted]

    def set_configs(self, changes: Sequence[SetConfig]) -> AdminResult:
        """Set the drifted configs, one incremental alter per topic (other keys untouched)."""
        by_topic: dict[str, list[SetConfig]] = {}
        for change in changes:
            by_topic.setdefault(change.topic, []).append(change)
        if not by_topic:
            return [], []
        resources = [ConfigResource("topic", topic, incremental_configs=[
            ConfigEntry(c.key, c.wanted, incremental_operation=AlterConfigOpType.SET)
            for c in topic_changes]) for topic, topic_changes in by_topic.items()]
        futures = self.client.incremental_alter_configs(resources, request_timeout=self.timeout)
        done: list[Any] = []
        problems = []
        for resource, future in futures.items():
            error = self._failure(future)
            if error is None:
                done += by_topic[resource.name]
            else:
                problems.append(problem(resource.name, "setting its configs", error))
        return done, problems + self._visible(done)

    def _visible(self, changes: Sequence[SetConfig]) -> list[str]:
        """Wait until describing the topics shows the set values.

        Kafka applies them a moment after it acknowledges: a plan made at once would still see
        the drift.
        """
        deadline = time.monotonic() + self.timeout
        waiting = list(changes)
        while waiting:
            described = self._configs(sorted({change.topic for change in waiting}))
            waiting = [change for change in waiting
                       if not same_value(described[change.topic].get(change.key), change.wanted)]
            if waiting and time.monotonic() > deadline:
                return [f"{change.topic}: {change.key} set, but still described as"
                        f" {described[change.topic].get(change.key)!r} after {self.timeout:g}s"
                        " (hint: check the brokers' health)" for change in waiting]
            if waiting:
                time.sleep(0.05)  # describing is the only way to see it: nothing to wait on
        return []

    def delete(self, names: Sequence[str]) -> AdminResult:
        """Delete the topics; one already gone is neither done nor a problem."""
        if not names:
            return [], []
        futures = self.client.delete_topics(
            list(names), operation_timeout=self.timeout, request_timeout=self.timeout)
        done, problems = [], []
        for name in names:
            error = self._failure(futures[name])
            if error is None:
                done.append(DeleteTopic(name))
            elif _code(error) not in _ABSENT:
                problems.append(problem(name, "deleting it", error))
        return done, problems

    def _configs(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        if not names:
            return {}
        futures = self.client.describe_configs(
            [ConfigResource("topic", name) for name in names], request_timeout=self.timeout)
        found, problems = {}, []
        for resource, future in futures.items():
            try:
                entries = future.result(self.timeout)
            except FAILURES as error:
                problems.append(problem(resource.name, "describing its configs", error))
                continue
            found[resource.name] = {key: entry.value for key, entry in entries.items()
                                    if entry.value is not None}
        if problems:
            raise AdminError(problems)
        return found

    def _failure(self, future: Any) -> BaseException | None:
        try:
            future.result(self.timeout)
        except FAILURES as error:
            return error
        return None

    def _leaders(self, counts: dict[str, int]) -> list[str]:
        """Wait until metadata shows every partition with a leader (producers need that)."""
        if not counts:
            return []
        try:
            wait_for_leaders(self.client, counts, self.timeout)
        except FAILURES as error:
            return [f"{', '.join(sorted(counts))}: partitions not all led after"
                    f" {self.timeout:g}s ({error}) (hint: check the brokers' health)"]
        return []


def _exists(topic: Any) -> bool:
    return topic is not None and topic.error is None and bool(topic.partitions)


def _new_topic(change: CreateTopic) -> NewTopic:
    config = change.topic.config
    return NewTopic(change.topic.name, config.partitions or -1, config.replication_factor or -1,
                    config=dict(config.configs))


def _code(error: BaseException) -> str | None:
    found = kafka_error(error)
    return found.name() if found is not None else None
