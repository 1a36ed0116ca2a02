"""``VirtualPartitions``: defaults and every validation problem, each naming its culprit."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from engine.errors import RoutingError
from engine.virtual.settings import VirtualPartitions


def test_the_defaults_partition_by_key_up_to_the_apps_concurrency() -> None:
    settings = VirtualPartitions()
    assert settings.partitioner(SimpleNamespace(key=b"k")) == b"k"
    assert settings.distribution == "consistent"
    assert settings.partitions(concurrency=5) == 5
    assert VirtualPartitions(max_partitions=3).partitions(concurrency=5) == 3
    assert settings.validated("orders") is settings


@pytest.mark.parametrize("limit", [0, -1, 2.0, True, "4"])
def test_max_partitions_below_one_or_not_an_int_is_named(limit: object) -> None:
    problems = VirtualPartitions(max_partitions=limit).problems()  # type: ignore[arg-type]
    assert problems == [f"virtual_partitions max_partitions must be an int >= 1 (got {limit!r})"]


def test_an_unknown_distribution_is_named_with_the_known_ones() -> None:
    problems = VirtualPartitions(distribution="random").problems()
    assert problems == ["virtual_partitions distribution must be one of 'consistent', "
                        "'balanced' (got 'random')"]


def test_a_partitioner_that_is_not_callable_is_named() -> None:
    problems = VirtualPartitions(partitioner="key").problems()  # type: ignore[arg-type]
    assert problems == ["virtual_partitions partitioner must be callable (got 'key')"]


def test_routing_gets_every_problem_at_once_naming_the_topic() -> None:
    settings = VirtualPartitions(partitioner=None, max_partitions=0,  # type: ignore[arg-type]
                                 distribution="x")
    with pytest.raises(RoutingError) as raised:
        settings.validated("orders")
    message = str(raised.value)
    assert message.startswith("topic 'orders': ")
    assert all(word in message for word in ("partitioner", "max_partitions", "distribution"))


@pytest.mark.parametrize("concurrency", [0, None, 1.5])
def test_an_unresolved_concurrency_is_refused(concurrency: object) -> None:
    with pytest.raises(ValueError, match="concurrency must be an int >= 1"):
        VirtualPartitions().partitions(concurrency)  # type: ignore[arg-type]
