"""A subscription group long without partitions: a warning, an event, /ready says so."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from engine import App, ConfigError, Consumer, Messages
from engine.testing import Harness
from engine_plugins.health import HealthPlugin
from tests.conftest import BOOTSTRAP
from tests.served import fake_listener


class Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


def test_assignment_timeout_is_a_checked_setting() -> None:
    assert App(kafka=BOOTSTRAP).settings.assignment_timeout == 60.0
    with pytest.raises(ConfigError) as caught:
        App(kafka=BOOTSTRAP, assignment_timeout=0, concurrency=0)
    assert caught.value.problems == (
        "concurrency must be an integer >= 1 (got 0)",
        "assignment_timeout must be a number of seconds > 0 (got 0)",
    )


def test_a_group_without_partitions_warns_once_then_reports_every_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    listener, client, workers = fake_listener(Idle, clock=lambda: now[0],
                                              assignment_timeout=30.0)
    seen: list[dict[str, Any]] = []
    listener.monitor.subscribe("connection.listener.unassigned",
                               lambda sender, **event: seen.append(event))

    def poll_at(moment: float) -> None:
        now[0] = moment
        listener.iterate()

    caplog.set_level(logging.INFO, logger="engine.listener")
    for moment in (0.0, 10.0, 29.9):
        poll_at(moment)
    assert seen == [] and caplog.records == []
    poll_at(30.0)
    assert seen == [{"subscription_group": listener.id, "consumer_group": "engine",
                     "topics": ["t"], "waited": 30.0}]
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING
    assert f"subscription group {listener.id} (consumer group engine, topics t) has had no" \
           " partitions for 30 s" in warning.getMessage()
    for moment in (31.0, 59.9):
        poll_at(moment)
    assert len(seen) == 1
    poll_at(60.0)
    assert [event["waited"] for event in seen] == [30.0, 60.0]
    assert len(caplog.records) == 1  # warned once; the event repeats
    client.rebalance.assigned([("t", 0)])
    poll_at(75.0)
    assert caplog.records[-1].getMessage() == (
        f"subscription group {listener.id}: partitions assigned after 75 s without")
    poll_at(500.0)
    assert len(seen) == 2  # holding partitions: nothing more
    client.rebalance.revoked([("t", 0)], lost=False)  # a new wait starts, warned again
    poll_at(501.0)
    poll_at(531.0)
    assert [event["waited"] for event in seen] == [30.0, 60.0, 30.0]
    assert [r.levelno for r in caplog.records].count(logging.WARNING) == 2
    workers._queue.close()
    assert workers.join(5)


def test_ready_names_a_group_without_partitions_until_some_arrive() -> None:
    app = App(kafka=BOOTSTRAP, client_id="shop", assignment_timeout=60.0)
    app.topic("orders", Idle)
    clock: list[Any] = []
    health = HealthPlugin(clock=lambda: clock[0].now() if clock else 0.0)  # the harness's
    app.use(health)
    with Harness(app) as kafka:
        clock.append(kafka.clock)
        (group,) = kafka.groups
        kafka.revoke("orders", 0)  # the member holds nothing now
        kafka.poll()
        kafka.clock.advance(61.0)
        kafka.poll()
        (event,) = kafka.events.named("connection.listener.unassigned")
        waited = event.payload["waited"]
        assert waited >= 61.0  # an empty poll waits max_wait_time on the virtual clock too
        status, body = health.ready()
        assert status == 503
        assert body["problems"][1:] == [{
            "reason": "no partitions assigned", "subscription_group": group.id,
            "consumer_group": "shop", "topics": ["orders"], "seconds": waited}]
        kafka.assign("orders", 0)
        kafka.poll()
        assert health.ready()[1]["problems"] == [{"reason": "app not running",
                                                 "state": "initialized"}]
