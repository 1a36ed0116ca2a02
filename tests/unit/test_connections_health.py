"""Several connections of one subscription group as the health plugin sees them."""

from __future__ import annotations

from engine import App, Consumer, Messages
from engine.connection.assignment_watch import GroupHolding
from engine.connection.listener import Listener
from engine.processing.jobs_queue import JobsQueue
from engine_plugins.health import HealthPlugin
from tests.conftest import BOOTSTRAP
from tests.fakes_client import FakeClient


class Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


def test_ready_again_once_another_connection_of_the_group_gets_partitions() -> None:
    now = [0.0]
    app = App(kafka=BOOTSTRAP, client_id="shop", connections=2, assignment_timeout=30.0)
    app.topic("t", Idle)
    health = HealthPlugin(clock=lambda: now[0])
    app.use(health)
    (group,) = app.subscription_groups()
    holding = GroupHolding(2)
    first, second = (
        Listener(group.connection(index + 1, 2), JobsQueue(), app.monitor, app.settings,
                 app.producer, client_factory=FakeClient,  # type: ignore[arg-type]
                 clock=lambda: now[0], holding=(holding, index))
        for index in range(2))
    for moment in (0.0, 31.0):  # neither connection holds a partition
        now[0] = moment
        first.iterate()
        second.iterate()
    assert [problem["subscription_group"] for problem in health.ready()[1]["problems"]
            if problem["reason"] == "no partitions assigned"] == [first.id]
    # the partition goes to the second connection: its rebalance callback announces it
    second.client.rebalance.assigned([("t", 0)])
    app.monitor.instrument("rebalance.partitions_assigned", second,
                           subscription_group=second.id, consumer_group="shop",
                           partitions=[("t", 0)])
    for moment in (40.0, 80.0):
        now[0] = moment
        second.iterate()
        first.iterate()
    assert [problem for problem in health.ready()[1]["problems"]
            if problem["reason"] == "no partitions assigned"] == []
