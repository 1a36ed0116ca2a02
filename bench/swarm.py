"""Swarm scaling: a CPU-bound consumer on 1 node and on 2, and the memory of N nodes.

    python bench/swarm.py [--messages 4000] [--work-ms 2] [--partitions 8] [--runs 2]

Each message costs a fixed loop of pure-Python work, calibrated here to ``--work-ms`` (the GIL
holds it: threads cannot help).
For 1 and then 2 nodes, ``engine swarm`` starts on the embedded broker; once the group is
stable (every node's last rebalance was an assignment, nothing moved for 2 s) the messages are
produced, and the time from the first processed message to the last is taken. Then the memory:
the proportional set size (PSS: shared pages counted once) of the supervisor and its 2 nodes,
against 2 separate ``engine server`` processes running the same app. Prints msgs/s per node
count, the 2-node speed-up (goal >= 1.6 on a 2-core box) and the memory figures.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.broker import EmbeddedBroker, create_topics

APP = textwrap.dedent('''
    import logging, os, time
    from engine import App, Consumer
    logging.basicConfig(level=logging.INFO, format="%(process)d %(message)s")
    LOOPS = int(os.environ["WORK_LOOPS"])
    class Burn(Consumer):
        def consume(self, messages):
            for message in messages:
                total = 0
                for number in range(LOOPS):   # a fixed amount of pure-Python work (the GIL)
                    total += number * number
            with open(os.environ["OUT"], "a") as out:
                out.write(f"{len(messages)} {time.time()}\\n")
    app = App(kafka={"bootstrap.servers": os.environ["BOOTSTRAP"], "session.timeout.ms": 6000,
                     "heartbeat.interval.ms": 1000}, client_id=os.environ["GROUP"],
              concurrency=1, max_messages=50)
    app.topic(os.environ["TOPIC"], Burn)
''')
REBALANCE = re.compile(r"^(\d+) .*: partitions (assigned|revoked) (\[.*\])$")


def stable(log: Path, nodes: int, partitions: int) -> bool:
    """Every node's last rebalance line is an assignment, they cover all, quiet for 2 s."""
    last: dict[str, tuple[str, str]] = {}
    for line in log.read_text().splitlines():
        match = REBALANCE.match(line)
        if match:
            last[match.group(1)] = (match.group(2), match.group(3))
    if len(last) < nodes or any(kind != "assigned" for kind, _ in last.values()):
        return False
    covered = sum(text.count("(") for _, text in last.values())
    return covered == partitions and time.time() - log.stat().st_mtime > 2.0


def loops_for(work_ms: float) -> int:
    """Iterations of the consumer's loop that take ``work_ms`` here, measured once."""
    loops, started = 200_000, time.perf_counter()
    total = 0
    for number in range(loops):
        total += number * number
    return max(1, int(loops * work_ms / 1000 / (time.perf_counter() - started)))


def pss_mib(pid: int) -> float:
    """A process's proportional set size, MiB."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True,
                           check=False).stdout.split()
    return [int(child) for child in found]


def prepared(bootstrap: str, tag: str, partitions: int, work_loops: int
             ) -> tuple[Path, Path, dict[str, str]]:
    """A fresh folder with the app, its output file, its own topic; (app, out, environment)."""
    folder = Path(tempfile.mkdtemp(prefix=f"swarm-bench-{tag}-"))
    app, out = folder / "app.py", folder / "out.txt"
    app.write_text(APP)
    out.touch()
    topic = f"swarm-{tag}-{os.getpid()}"
    create_topics(bootstrap, {topic: partitions})
    env = {**os.environ, "BOOTSTRAP": bootstrap, "TOPIC": topic, "GROUP": topic,
           "OUT": str(out), "WORK_LOOPS": str(work_loops)}
    return app, out, env


def run(bootstrap: str, nodes: int, count: int, partitions: int, work_loops: int, tag: str,
        measure_memory: bool = False) -> tuple[float, float]:
    """(msgs/s from the first processed message to the last, PSS MiB of the whole swarm)."""
    app, out, env = prepared(bootstrap, tag, partitions, work_loops)
    log = out.with_name("log.txt")
    with log.open("w") as sink:
        swarm = subprocess.Popen([sys.executable, "-m", "engine", "swarm", str(app), "--nodes",
                                  str(nodes)], env=env, stderr=sink, stdout=subprocess.DEVNULL)
        try:
            wait(lambda: stable(log, nodes, partitions), 120, "a stable group")
            produce(bootstrap, env["TOPIC"], count, partitions)
            wait(lambda: done(out) >= count, 600, "every message processed")
            memory = (pss_mib(swarm.pid) + sum(pss_mib(c) for c in children(swarm.pid))
                      if measure_memory else 0.0)
        finally:
            swarm.send_signal(signal.SIGTERM)
            swarm.wait(120)
    stamps = [float(line.split()[1]) for line in out.read_text().splitlines()]
    first_batch = int(out.read_text().splitlines()[0].split()[0])
    return (count - first_batch) / (max(stamps) - min(stamps)), memory


def servers_memory(bootstrap: str, count: int, partitions: int, work_loops: int) -> float:
    """PSS MiB of 2 separate ``engine server`` processes of the same app, once they consumed."""
    app, out, env = prepared(bootstrap, "servers", partitions, work_loops)
    servers = [subprocess.Popen([sys.executable, "-m", "engine", "server", str(app)], env=env,
                                stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
               for _ in range(2)]
    try:
        produce(bootstrap, env["TOPIC"], count, partitions)
        wait(lambda: done(out) >= count, 600, "every message processed")
        return sum(pss_mib(server.pid) for server in servers)
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            server.wait(120)


def done(out: Path) -> int:
    return sum(int(line.split()[0]) for line in out.read_text().splitlines())


def produce(bootstrap: str, topic: str, count: int, partitions: int) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for index in range(count):
        producer.produce(topic, b"{}", partition=index % partitions)
    producer.flush(60)


def wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--work-ms", type=float, default=2.0)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    rates: dict[int, list[float]] = {1: [], 2: []}
    memory = 0.0
    loops = loops_for(args.work_ms)
    with EmbeddedBroker() as broker:
        for index in range(args.runs):  # alternated: both counts see the same machine states
            for nodes in (1, 2):
                rate, pss = run(broker.bootstrap, nodes, args.messages, args.partitions,
                                loops, f"{nodes}-{index}", measure_memory=nodes == 2)
                rates[nodes].append(rate)
                memory = pss or memory
                print(f"  run {index + 1}, {nodes} node(s): {rate:,.0f} msg/s", flush=True)
        separate = servers_memory(broker.bootstrap, args.messages // 4, args.partitions, loops)
    one, two = statistics.median(rates[1]), statistics.median(rates[2])
    print(f"1 node : {one:,.0f} msg/s ({loops:,} loop turns, about {args.work_ms} ms of"
          " pure-Python work, per message)")
    print(f"2 nodes: {two:,.0f} msg/s; speed-up {two / one:.2f} (goal >= 1.6)")
    print(f"memory (PSS): swarm of 2 nodes + supervisor {memory:.0f} MiB;"
          f" 2 separate engine server processes {separate:.0f} MiB")


if __name__ == "__main__":
    main()
