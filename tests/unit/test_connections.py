"""Several connections per subscription group: the setting, their ids, their silence."""

from __future__ import annotations

from typing import Any

import pytest

from engine import ConfigError, Consumer, Messages
from engine.config.settings import Settings
from engine.connection.assignment_watch import GroupHolding
from engine.connection.listener import Listener
from engine.routing.subscription_group import SubscriptionGroup
from tests.conftest import BOOTSTRAP
from tests.fakes_client import FakeClient
from tests.served import fake_listener


class Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


def test_one_connection_unless_transactional_then_one_per_worker() -> None:
    assert Settings.build(kafka=BOOTSTRAP).connections_per_group == 1
    transactional = Settings.build(kafka=BOOTSTRAP, transactional_id="t", concurrency=3)
    assert transactional.connections_per_group == 3
    chosen = Settings.build(kafka=BOOTSTRAP, transactional_id="t", connections=2)
    assert chosen.connections_per_group == 2
    assert Settings.build(kafka=BOOTSTRAP, connections=4).connections_per_group == 4


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "3"])
def test_connections_must_be_a_whole_number_of_at_least_one(value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.build(kafka=BOOTSTRAP, connections=value)
    assert caught.value.problems == (f"connections must be an integer >= 1 (got {value!r})",)


def _group(**kafka: Any) -> SubscriptionGroup:
    return SubscriptionGroup(id="shop/default", name="default", consumer_group="shop",
                             topics=(), max_messages=10, max_wait_time=1.0,
                             initial_offset="earliest", kafka={"group.id": "shop", **kafka})


def test_a_connection_is_the_group_with_its_own_id_and_static_member_id() -> None:
    alone = _group(**{"group.instance.id": "pod-1"})
    assert alone.connection(1, 1) is alone
    second = alone.connection(2, 3)
    assert second.id == "shop/default#2"
    assert second.name == "default" and second.consumer_group == "shop"
    assert second.kafka == {"group.id": "shop", "group.instance.id": "pod-1-2"}
    assert alone.kafka["group.instance.id"] == "pod-1"  # the group itself is unchanged
    assert "group.instance.id" not in _group().connection(3, 3).kafka


def _connections(count: int, now: list[float]) -> list[tuple[Listener, FakeClient]]:
    holding = GroupHolding(count)
    built = []
    for index in range(count):
        listener, client, workers = fake_listener(
            Idle, clock=lambda: now[0], assignment_timeout=30.0,
            listener_options={"holding": (holding, index)})
        workers._queue.close()
        built.append((listener, client))
    return built


def test_a_connection_without_partitions_is_quiet_while_another_of_its_group_holds_some(
) -> None:
    now = [0.0]
    (first, first_client), (second, second_client) = _connections(2, now)
    seen: list[object] = []
    for listener, _ in ((first, first_client), (second, second_client)):
        listener.monitor.subscribe("connection.listener.unassigned",
                                   lambda sender, **event: seen.append(sender))
    second_client.rebalance.assigned([("t", 0)])
    for moment in (0.0, 31.0, 62.0):
        now[0] = moment
        second.iterate()
        first.iterate()
    assert seen == []  # the first connection holds nothing, but its group does
    second_client.rebalance.revoked([("t", 0)], lost=False)
    for moment in (63.0, 94.0):
        now[0] = moment
        second.iterate()
        first.iterate()
    assert seen == [first]  # none holds any: the first connection speaks, once, for all
