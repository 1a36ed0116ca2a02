"""A transform pipeline at-least-once against the same pipeline in transactions, same run.

    python bench/transactions.py [--messages 200000] [--runs 5] [--warm-ups 2]
                                 [--bootstrap HOST:PORT] [--pin]

Produces N messages of 100 bytes over 6 partitions once, as ``bench/throughput.py`` does, to
Apache Kafka (a local single-node broker, its JVM tuned for throughput as production brokers
run, not for a quick start as the test suite's is, unless ``--bootstrap`` names one: then a
run reads the first N messages of topic ``bench``), runs each variant ``--warm-ups`` times
unmeasured (the broker's JIT compiler warms up on the transactional requests too, as a
production broker's long has: one warm-up left transactional runs still speeding up), then
alternates runs of the pipelines that produce one output per input to a fresh 6-partition
topic, with the engine's default concurrency and batch sizes:

- ``at-least-once``: ``self.produce`` per input, the batch marked automatically;
- ``transactional``: the same inside ``with self.transaction():`` per batch, the batch's
  last message marked inside (``App(transactional_id=...)``), with the default connections
  per subscription group (``concurrency`` on a transactional app);
- ``transactional-1``: the same on one connection (``connections=1``), as every app ran
  before connections: a listener's polls mostly bring one partition, so its transactions
  run one after another.

``--pin`` gives the broker a CPU of its own (the machine's last; the runs get the others), as
a broker on its own machine has: on a small machine the broker's work per transaction
otherwise competes with the pipeline's for the same cores.

Each run is a fresh process and consumer group, timed from the first message consumed to the
moment every output is acknowledged (at-least-once: the producer flushed after the last
batch; transactional: the last batch's transaction committed). Prints the median msgs/s of
each and the ratio transactional / at-least-once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.throughput import FAST_GROUP, PARTITIONS, SIZE, TOPIC, produce
from engine.broker import create_topics

VARIANTS = ("at-least-once", "transactional", "transactional-1")


def run_pipeline(variant: str, bootstrap: str, count: int, group: str, target: str) -> float:
    """One timed run in this process: seconds from the first input to the last output."""
    from engine import App, Consumer, Messages

    state = {"seen": 0, "first": 0.0}
    lock, done = threading.Lock(), threading.Event()

    def begin() -> None:
        with lock:  # batches of different partitions run on different workers
            if not state["first"]:
                state["first"] = time.perf_counter()

    def count_batch(messages: Messages) -> None:
        with lock:
            state["seen"] += len(messages)
            if state["seen"] >= count:
                done.set()

    class AtLeastOnce(Consumer):
        def consume(self, messages: Messages) -> None:
            begin()
            for message in messages:
                self.produce(target, message.raw_payload, key=message.raw_key)
            count_batch(messages)

    class Transactional(Consumer):
        def consume(self, messages: Messages) -> None:
            begin()
            with self.transaction():
                for message in messages:
                    self.produce(target, message.raw_payload, key=message.raw_key)
                self.mark_as_consumed(messages.last())  # type: ignore[arg-type]
            count_batch(messages)  # after the commit: its outputs are acknowledged

    transactional = variant.startswith("transactional")
    app = App(kafka={"bootstrap.servers": bootstrap, **FAST_GROUP}, client_id=group,
              transactional_id=group if transactional else None,
              connections=1 if variant == "transactional-1" else None)
    app.topic(TOPIC, Transactional if transactional else AtLeastOnce)
    app.start()
    try:
        if not done.wait(600):
            raise RuntimeError(f"{variant}: {state['seen']} of {count} inputs in 600 s")
        app.producer.flush(120)  # at-least-once: outputs still queued count in the time
        return time.perf_counter() - state["first"]
    finally:
        app.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm-ups", type=int, default=2)
    parser.add_argument("--bootstrap")
    parser.add_argument("--pin", action="store_true",
                        help="the broker on the last CPU, the runs on the others")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        seconds = run_pipeline(args.child, args.bootstrap, args.messages, args.group,
                               args.target)
        print(json.dumps({"seconds": seconds}))
        return
    if args.bootstrap:
        measure(args.bootstrap, args.messages, args.runs, args.warm_ups)
        return
    from tests.brokers.kafka import KafkaBroker

    with KafkaBroker(quick_start=False) as kafka:
        if args.pin:
            assert kafka.process is not None
            pin(kafka.process.pid)
        measure(kafka.bootstrap, args.messages, args.runs, args.warm_ups)


def pin(broker: int) -> None:
    """Every thread of the ``broker`` process on the last CPU, this process on the others."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("--pin needs 2 CPUs at least")
    for thread in Path(f"/proc/{broker}/task").iterdir():
        os.sched_setaffinity(int(thread.name), {cpus[-1]})
    os.sched_setaffinity(0, set(cpus[:-1]))  # the runs' processes inherit it
    print(f"broker on CPU {cpus[-1]}, the runs on {cpus[:-1]}", flush=True)


def one_run(bootstrap: str, count: int, variant: str, run: str) -> float:
    """One run of ``variant`` in a fresh process, group and output topic: its seconds."""
    group = f"bench-{variant}-{run}-{os.getpid()}"
    target = f"{group}-out"
    create_topics(bootstrap, {target: PARTITIONS})
    output = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--bootstrap", bootstrap,
         "--messages", str(count), "--group", group, "--target", target],
        check=True, capture_output=True, text=True,
    ).stdout
    return float(json.loads(output.strip().splitlines()[-1])["seconds"])


def measure(bootstrap: str, count: int, runs: int, warm_ups: int) -> None:
    """Alternate the variants ``runs`` times, each in a fresh process; print the medians."""
    produce(bootstrap, count)
    print(f"{count} messages of {SIZE} bytes over {PARTITIONS} partitions, one output each;"
          f" {warm_ups} warm-up runs each, then {runs} runs each, alternating; median shown",
          flush=True)
    rates: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for warm_up in range(warm_ups):
        for variant in VARIANTS:
            one_run(bootstrap, count, variant, f"warm-up-{warm_up}")
    for run in range(runs):
        for variant in VARIANTS:
            rates[variant].append(count / one_run(bootstrap, count, variant, str(run)))
            print(f"  run {run + 1} {variant:15s} {rates[variant][-1]:10,.0f} msg/s", flush=True)
    median = {variant: statistics.median(found) for variant, found in rates.items()}
    for variant in VARIANTS:
        print(f"{variant:15s}: {median[variant]:10,.0f} msg/s")
    for variant in VARIANTS[1:]:
        print(f"ratio {variant} / at-least-once: "
              f"{median[variant] / median['at-least-once']:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
