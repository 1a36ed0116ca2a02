"""The plan as a pure function of declarations and what the cluster holds, and problem lines."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from engine.admin import AddPartitions, CreateTopic, Plan, SetConfig
from engine.admin.planning import Observed, plan_for, same_value
from engine.admin.problems import problem, unreachable
from engine.routing.declared_topics import DeclaredTopic
from engine.routing.topic_config import TopicConfig


def declared(name: str, partitions: int | None = None, replicas: int | None = None,
             **configs: str) -> DeclaredTopic:
    config = {key.replace("_", "."): value for key, value in configs.items()}
    shape = {"partitions": partitions, "replication_factor": replicas}
    config.update({key: value for key, value in shape.items() if value is not None})
    return DeclaredTopic(name, TopicConfig.build(config), "test")


def test_missing_topics_are_created() -> None:
    orders = declared("orders", 6)
    plan = plan_for([orders], {"orders": None})
    assert plan == Plan((CreateTopic(orders),), (), topics=1)
    assert plan.lines() == ["orders: create (6 partitions, default replication factor)"]


def test_fewer_partitions_are_added_and_more_are_only_noted() -> None:
    plan = plan_for([declared("a", 6), declared("b", 2), declared("c")],
                    {"a": Observed(3, 1, {}), "b": Observed(4, 1, {}), "c": Observed(9, 1, {})})
    assert plan.changes == (AddPartitions("a", 3, 6),)
    assert plan.notices == ("b: has 4 partitions, declares 2 (partitions are never removed)",)
    assert plan.lines() == ["a: partitions 3 -> 6",
                            "note: b: has 4 partitions, declares 2 (partitions are never removed)"]


def test_another_replication_factor_is_noted_never_changed() -> None:
    plan = plan_for([declared("a", None, 3)], {"a": Observed(1, 1, {})})
    assert plan.nothing_to_do
    assert plan.notices == ("a: replication factor 1, declares 3 (engine does not move"
                            " replicas: use kafka-reassign-partitions)",)


def test_config_drift_and_unset_configs_are_set() -> None:
    plan = plan_for([declared("a", retention_ms="86400000", cleanup_policy="compact")],
                    {"a": Observed(1, 1, {"retention.ms": "604800000"})})
    assert plan.changes == (SetConfig("a", "cleanup.policy", None, "compact"),
                            SetConfig("a", "retention.ms", "604800000", "86400000"))
    assert plan.lines() == ["a: cleanup.policy (unset) -> compact",
                            "a: retention.ms 604800000 -> 86400000"]
    assert plan.of_kind(SetConfig) == plan.changes and plan.of_kind(CreateTopic) == ()


def test_an_aligned_cluster_has_nothing_to_do() -> None:
    plan = plan_for([declared("a", 3, 1, retention_ms="1")],
                    {"a": Observed(3, 1, {"retention.ms": "1", "segment.ms": "9"})})
    assert plan.nothing_to_do
    assert plan.lines() == ["nothing to do: 1 declared topic(s) match the cluster"]


@pytest.mark.parametrize(("current", "wanted", "same"), [
    ("compact,delete", "delete,compact", True), ("delete", "delete ", True),
    ("compact", "compact,delete", False), (None, "x", False), ("1", "2", False)])
def test_values_compare_as_kafka_means_them(current: str | None, wanted: str,
                                            same: bool) -> None:
    assert same_value(current, wanted) is same


def refusal(code: int) -> KafkaException:
    return KafkaException(KafkaError(code, "refused here"))


def test_problem_lines_name_the_subject_and_end_with_a_hint() -> None:
    assert problem("orders", "creating it", refusal(KafkaError.TOPIC_AUTHORIZATION_FAILED)) == (
        "orders: not authorised for creating it: refused here (hint: grant this principal the"
        " ACL for it (kafka-acls --add), or ask the operators)")
    assert problem("orders", "creating it", refusal(KafkaError.INVALID_CONFIG)).endswith(
        "(hint: fix the value in config= (Kafka's topic config reference lists what each"
        " key takes))")
    assert problem("orders", "creating it", refusal(KafkaError.UNKNOWN)).endswith(
        "(hint: see the broker's log)")
    assert problem("orders", "creating it", RuntimeError("odd")) == (
        "orders: creating it failed: RuntimeError('odd') (hint: see the broker's log)")
    assert unreachable("127.0.0.1:9", 2.0, refusal(KafkaError._TRANSPORT)) == (
        "no Kafka broker answered at 127.0.0.1:9 within 2s (refused here) (hint: start a"
        " broker (engine broker) or fix bootstrap.servers in the app's kafka settings)")


class Future:
    def __init__(self, error: BaseException | None = None, value: object = None) -> None:
        self.error, self.value = error, value

    def result(self, timeout: float) -> object:
        if self.error is not None:
            raise self.error
        return self.value


class Racing:
    """An admin client on a cluster where another process adds the partitions first."""

    def __init__(self, partitions_now: int) -> None:
        self.partitions_now = partitions_now

    def create_partitions(self, new: list[object], **_: object) -> dict[str, Future]:
        refusal = KafkaException(KafkaError(KafkaError.INVALID_PARTITIONS, "not an increase"))
        return {"orders": Future(refusal)}

    def list_topics(self, timeout: float) -> object:
        from types import SimpleNamespace

        partition = SimpleNamespace(replicas=[1], leader=1)
        topic = SimpleNamespace(error=None, partitions=dict.fromkeys(
            range(self.partitions_now), partition))
        return SimpleNamespace(topics={"orders": topic}, brokers={1: None})

    def describe_configs(self, resources: list[object], **_: object) -> dict[object, Future]:
        return {resource: Future(value={}) for resource in resources}


def test_partitions_another_process_added_first_are_no_problem() -> None:
    from engine.admin.cluster import Cluster

    cluster = Cluster({"bootstrap.servers": "127.0.0.1:9"}, timeout=1.0)
    cluster.client = Racing(partitions_now=6)
    assert cluster.add_partitions([AddPartitions("orders", 3, 6)]) == ([], [])
    cluster.client = Racing(partitions_now=3)  # refused, and still too few: a problem
    done, problems = cluster.add_partitions([AddPartitions("orders", 3, 6)])
    assert done == [] and problems[0].startswith("orders: adding partitions failed:")
