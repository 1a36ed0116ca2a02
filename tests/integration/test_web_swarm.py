"""The ``web`` plugin in a swarm: every node reports as a process of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka import Consumer as KafkaConsumer

from engine.web.codec import REPORTS_TOPIC, decode
from tests.integration.conftest import GROUP_ENV, produce, wait_until

APP = Path(__file__).with_name("swarm_app.py")


def test_each_swarm_node_reports_with_its_own_pid(bootstrap: str, tmp_path: Path,
                                                  make_topic: Callable[..., str],
                                                  unique: Callable[[str], str]) -> None:
    topic, group = make_topic(2), unique("web-swarm")
    environment = {**os.environ, "BOOTSTRAP": bootstrap, "TOPIC": topic, "GROUP": group,
                   "OUT": str(tmp_path / "processed.txt"), "ENGINE_WEB_INTERVAL": "0.5",
                   **GROUP_ENV}
    with (tmp_path / "swarm.log").open("w") as log:
        swarm = subprocess.Popen([sys.executable, "-m", "engine", "swarm", str(APP), "--nodes",
                                  "2", "--plugin", "web"], env=environment, stderr=log,
                                 stdout=subprocess.DEVNULL)
        reader = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                                "enable.auto.commit": False})
        running: dict[int, dict[str, int]] = {}  # pid -> the last counters of a running node
        nodes: set[int] = set()

        def both_nodes_counted(total: int) -> bool:
            for message in reader.consume(100, 0.2):
                record = decode(message.value()) if message.error() is None else {}
                process = record.get("process", {})
                if process.get("client_id") == group and process.get("state") == "running":
                    running[process["pid"]] = record["counters"]
                    nodes.add(process["node"])
            return (len(running) == 2
                    # a rebalance may deliver a message twice, never less than once
                    and sum(counters["messages"] for counters in running.values()) >= total)

        try:
            # the nodes create the topic at their start; then read it from its beginning
            wait_until(lambda: REPORTS_TOPIC in reader.list_topics(timeout=10).topics,
                       message=f"{REPORTS_TOPIC} to exist")
            reader.assign([TopicPartition(REPORTS_TOPIC, 0, OFFSET_BEGINNING)])
            produce(bootstrap, topic, [(str(i).encode(), b"x") for i in range(40)])
            wait_until(lambda: both_nodes_counted(40),
                       message="two nodes reporting, 40 messages at least between them")
        finally:
            reader.close()
            swarm.send_signal(signal.SIGTERM)
            code = swarm.wait(90)
    assert code == 0, (tmp_path / "swarm.log").read_text()[-3000:]
    assert nodes == {0, 1}  # each says which node it is
