"""A member that gets no partition (another one holds the only one) says so, on a real broker."""

from __future__ import annotations

from collections.abc import Callable

from engine import Consumer, Messages
from engine_plugins.health import HealthPlugin
from tests.integration.conftest import Recorder, make_app, wait_until

UNASSIGNED = "connection.listener.unassigned"


class Idle(Consumer):
    def consume(self, messages: Messages) -> None:
        pass


def test_a_member_left_without_partitions_is_reported_until_it_gets_one(
    bootstrap: str, make_topic: Callable[..., str], unique: Callable[[str], str],
) -> None:
    topic, group = make_topic(1), unique("g")
    apps = [make_app(bootstrap, group, assignment_timeout=2.0) for _ in range(2)]
    recorders, probes = [Recorder(app) for app in apps], [HealthPlugin(port=0) for _ in apps]
    for app, probe in zip(apps, probes, strict=True):
        app.topic(topic, Idle)
        app.use(probe)
    apps[0].start()
    try:
        wait_until(lambda: any(event["partitions"] for event in
                               recorders[0].of("rebalance.partitions_assigned")),
                   message="the first member holding the partition")
        before = [len(recorder.of(UNASSIGNED)) for recorder in recorders]
        apps[1].start()
        # the group gives the only partition to one of the two; the other waits and says so
        idle: list[int] = []

        def one_waits() -> bool:
            idle[:] = [i for i in (0, 1) if len(recorders[i].of(UNASSIGNED)) - before[i] >= 2
                       and probes[i].ready()[0] == 503]
            return bool(idle)

        wait_until(one_waits, message="a member reported twice without partitions")
        waiting = idle[0]
        first, second = recorders[waiting].of(UNASSIGNED)[-2:]
        assert (first["consumer_group"], first["topics"]) == (group, [topic])
        assert second["waited"] > first["waited"] >= 2.0
        problem = probes[waiting].ready()[1]["problems"][0]
        assert (problem["reason"], problem["topics"]) == ("no partitions assigned", [topic])
        apps[1 - waiting].stop()  # the partition moves to the waiting member
        wait_until(lambda: probes[waiting].ready()[0] == 200,
                   message="ready again once it holds the partition")
    finally:
        for app in apps:
            if app.state in ("running", "quiet"):
                app.stop()
