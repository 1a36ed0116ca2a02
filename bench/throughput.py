"""Throughput of the engine against a plain confluent-kafka loop, on the same broker and data.

    python bench/throughput.py [--messages 1000000] [--runs 5] [--bootstrap HOST:PORT]
                               [--baseline OTHER_CHECKOUT] [--plugin NAME]...

Produces N messages of 100 bytes over 6 partitions once, then alternates runs of: the raw
loop (``consume(1000)`` with the settings that make it fastest), the engine at concurrency 1
and the engine at concurrency 4 (its own defaults otherwise). Each run is a fresh process and
a fresh consumer group, timed from the first message to the last. ``--baseline`` adds the
engine variants of another checkout (``git worktree add /tmp/base REV``), run by that
checkout's own bench in the same alternation: an A/B on one machine state. ``--plugin NAME``
adds the engine at concurrency 1 with that first-party plugin installed (its HTTP server, if
any, on a free port), reported as a ratio to the engine without it. Prints the median msgs/s,
the ratio engine/raw, the engine's overhead in ns/message, and each variant's peak RSS; then
the time from SIGTERM to exit of an idle ``engine server``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.broker import EmbeddedBroker, create_topics

TOPIC, PARTITIONS, SIZE = "bench", 6, 100
FAST_GROUP = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}
RAW_FASTEST = {"fetch.queue.backoff.ms": 0, "fetch.wait.max.ms": 10}
VARIANTS = ("raw", "engine-c1", "engine-c4")


def produce(bootstrap: str, count: int) -> None:
    from confluent_kafka import Producer

    create_topics(bootstrap, {TOPIC: PARTITIONS})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                         "batch.size": 1_000_000, "queue.buffering.max.messages": 2_000_000})
    value = b"x" * SIZE
    for index in range(count):
        producer.produce(TOPIC, value, key=str(index).encode())
        if index % 50_000 == 0:
            producer.poll(0)
    producer.flush(120)


def child(variant: str, bootstrap: str, count: int, group: str) -> dict[str, float]:
    """One timed run in this process: (seconds first->last message, peak RSS MiB)."""
    runner = run_raw if variant == "raw" else run_engine
    seconds = runner(variant, bootstrap, count, group)
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "rss_mib": rss}


def run_raw(variant: str, bootstrap: str, count: int, group: str) -> float:
    from confluent_kafka import Consumer as KafkaConsumer

    consumer = KafkaConsumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.offset.store": False,
                         **FAST_GROUP, **RAW_FASTEST})
    consumer.subscribe([TOPIC])
    seen, touched, first = 0, 0, 0.0
    while seen < count:
        batch = consumer.consume(1000, 0.5)
        if batch and not first:
            first = time.perf_counter()
        for message in batch:
            touched += len(message.value())
        seen += len(batch)
    elapsed = time.perf_counter() - first
    consumer.close()
    return elapsed


def run_engine(variant: str, bootstrap: str, count: int, group: str) -> float:
    from engine import App, Consumer, Messages

    state = {"seen": 0, "touched": 0, "first": 0.0, "last": 0.0}

    class Touch(Consumer):
        def consume(self, messages: Messages) -> None:
            if not state["first"]:
                state["first"] = time.perf_counter()
            touched = 0
            for message in messages:
                touched += len(message.raw_payload)
            state["touched"] += touched
            state["seen"] += len(messages)
            if state["seen"] >= count:
                state["last"] = time.perf_counter()

    setup, _, plugin = variant.partition("+")
    os.environ.update({"ENGINE_PROMETHEUS_PORT": "0", "ENGINE_HEALTH_PORT": "0"})
    app = App(kafka={"bootstrap.servers": bootstrap, **FAST_GROUP}, client_id=group,
              concurrency=int(setup.rsplit("c", 1)[1]), plugins=[plugin] if plugin else [])
    app.topic(TOPIC, Touch)
    app.start()
    while not state["last"]:
        time.sleep(0.01)
    app.stop()
    return state["last"] - state["first"]


def stop_latency(bootstrap: str) -> float:
    """Seconds from SIGTERM to exit of an idle ``engine server`` that owns its partitions."""
    app_file = Path(tempfile.mkdtemp()) / "idle_app.py"
    app_file.write_text(
        "from engine import App, Consumer\n"
        "class Idle(Consumer):\n    def consume(self, messages):\n        pass\n"
        f"app = App(kafka={{'bootstrap.servers': '{bootstrap}', 'session.timeout.ms': 6000,"
        " 'heartbeat.interval.ms': 1000}, client_id='bench-idle')\n"
        "app.topic('bench-idle', Idle)\n"
    )
    create_topics(bootstrap, {"bench-idle": 1})
    server = subprocess.Popen([sys.executable, "-m", "engine", "server", str(app_file)],
                              stderr=subprocess.PIPE, text=True)
    assert server.stderr is not None
    for line in server.stderr:
        if "partitions assigned" in line:
            break
    started = time.perf_counter()
    server.send_signal(signal.SIGTERM)
    server.communicate(timeout=60)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--bootstrap")
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with")
    parser.add_argument("--plugin", action="append", default=[],
                        help="also run engine-c1 with this plugin (repeatable)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.bootstrap, args.messages, args.group)))
        return
    broker = None if args.bootstrap else EmbeddedBroker().start()
    bootstrap = args.bootstrap or broker.bootstrap  # type: ignore[union-attr]
    try:
        measure(bootstrap, args.messages, args.runs, args.baseline, args.plugin)
    finally:
        if broker is not None:
            broker.stop()


def measure(bootstrap: str, count: int, runs: int, baseline: Path | None = None,
            plugins: list[str] | None = None) -> None:
    produce(bootstrap, count)
    variants = list(VARIANTS) + [f"engine-c1+{name}" for name in plugins or ()]
    if baseline is not None:
        variants += [f"base-{variant}" for variant in VARIANTS[1:]]
    print(f"{count} messages of {SIZE} bytes over {PARTITIONS} partitions; {runs} runs each,"
          " alternating; median shown")
    results: dict[str, list[dict[str, float]]] = {variant: [] for variant in variants}
    for run in range(runs):
        for variant in variants:
            group = f"bench-{variant}-{run}-{os.getpid()}"
            script, child = Path(__file__), variant
            if variant.startswith("base-") and baseline is not None:
                script, child = baseline / "bench" / "throughput.py", variant[len("base-"):]
            output = subprocess.run(
                [sys.executable, str(script), "--child", child, "--bootstrap", bootstrap,
                 "--messages", str(count), "--group", group],
                check=True, capture_output=True, text=True,
            ).stdout
            results[variant].append(json.loads(output.strip().splitlines()[-1]))
            rate = count / results[variant][-1]["seconds"]
            print(f"  run {run + 1} {variant:24s} {rate:12,.0f} msg/s", flush=True)
    report(results, count)
    print(f"SIGTERM to exit, idle engine server: {stop_latency(bootstrap):.2f} s")


def report(results: dict[str, list[dict[str, float]]], count: int) -> None:
    rate = {v: count / statistics.median(r["seconds"] for r in runs) for v, runs in results.items()}
    rss = {v: max(r["rss_mib"] for r in runs) for v, runs in results.items()}
    print(f"raw confluent-kafka loop : {rate['raw']:12,.0f} msg/s   peak RSS {rss['raw']:.0f} MiB")
    for variant in list(results)[1:]:
        overhead = (1 / rate[variant] - 1 / rate["raw"]) * 1e9
        ratio = rate[variant] / rate["raw"]
        print(f"{variant:25s}: {rate[variant]:12,.0f} msg/s   ratio {ratio:.2f}"
              f"   overhead {overhead:6.0f} ns/msg   peak RSS {rss[variant]:.0f} MiB")
    for variant in [v for v in results if "+" in v]:
        own = rate[variant.split("+", 1)[0]]
        print(f"{variant:25s}: {rate[variant] / own:.2f} of the engine's own throughput"
              " without the plugin")


if __name__ == "__main__":
    main()
