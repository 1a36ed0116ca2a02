"""``engine broker``: the embedded Tansu broker in the foreground, for development."""

from __future__ import annotations

import sys

from engine.broker import EmbeddedBroker, create_topics
from engine.cli.stopping import Stopped, StopSignals


def run_broker(port: int, topics: list[tuple[str, int]]) -> int:
    """Run until SIGINT, SIGTERM or SIGHUP, with ``topics`` (name, partitions) created.

    The exit code: 0 after such a stop (the broker is stopped first), else the broker's own
    when it exits by itself. ``port`` 0 picks a free port.
    """
    wanted = dict(topics)
    try:
        with StopSignals(), EmbeddedBroker(port=port or None) as broker:
            if wanted:
                create_topics(broker.bootstrap, wanted)
            _announce(broker.bootstrap, wanted)
            assert broker.process is not None
            return broker.process.wait()
    except Stopped:
        return 0


def _announce(bootstrap: str, created: dict[str, int]) -> None:
    sys.stdout.write(f"broker listening on {bootstrap} (in memory; Ctrl-C stops it)\n")
    if created:
        topics = ", ".join(f"{name} ({count} partitions)" for name, count in created.items())
        sys.stdout.write(f"created {topics}\n")
    sys.stdout.flush()
