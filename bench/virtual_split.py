"""The cost of splitting a batch into virtual partitions, per message, against reading the key.

    python bench/virtual_split.py [--messages 100000] [--keys 1000] [--partitions 16] [--runs 5]

Builds one batch of ``messages`` with ``keys`` distinct str keys (and no payload: splitting
never reads one), then times, best of ``runs``: a baseline loop that only reads each message's
key, ``consistent`` and ``balanced``. Prints ns per message and the ratio to the baseline; the
ratio is the figure to compare across machines, not the absolute time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.virtual.distributions import balanced, consistent
from engine.virtual.settings import by_key


@dataclass(frozen=True)
class Note:
    """A message as splitting sees it: an offset and a key."""

    offset: int
    key: str


def baseline(batch: list[Note], partitioner: Callable[[Any], Any], partitions: int) -> Any:
    """Read every message's key through the partitioner, and nothing else."""
    return [partitioner(note) for note in batch]


def best_ns(split: Callable[..., Any], batch: list[Note], partitions: int, runs: int) -> float:
    """The fastest of ``runs`` calls, in ns per message."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter_ns()
        split(batch, by_key, partitions)
        best = min(best, time.perf_counter_ns() - started)
    return best / len(batch)


def main() -> None:
    """Parse the options, time the three loops, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    batch = [Note(offset, f"key-{offset % options.keys}") for offset in range(options.messages)]
    base = best_ns(baseline, batch, options.partitions, options.runs)
    print(f"{options.messages} messages, {options.keys} keys, {options.partitions} partitions")
    print(f"{'baseline (read the key)':26}{base:8.1f} ns/message   1.00x")
    for name, split in (("consistent", consistent), ("balanced", balanced)):
        cost = best_ns(split, batch, options.partitions, options.runs)
        print(f"{name:26}{cost:8.1f} ns/message  {cost / base:5.2f}x")


if __name__ == "__main__":
    main()
