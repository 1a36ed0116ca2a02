"""``engine broker``: the embedded Tansu broker in the foreground, for development."""

from __future__ import annotations

import sys

from engine.broker import EmbeddedBroker, create_topics


def run_broker(port: int, topics: list[tuple[str, int]]) -> int:
    """Run until interrupted, with ``topics`` (name, partitions) created; the exit code.

    ``port`` 0 picks a free port.
    """
    wanted = dict(topics)
    broker = EmbeddedBroker(port=port or None).start()
    if wanted:
        create_topics(broker.bootstrap, wanted)
    created = ", ".join(f"{name} ({count} partitions)" for name, count in wanted.items())
    sys.stdout.write(f"broker listening on {broker.bootstrap} (in memory; Ctrl-C stops it)\n")
    if created:
        sys.stdout.write(f"created {created}\n")
    sys.stdout.flush()
    try:
        assert broker.process is not None
        return broker.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()

