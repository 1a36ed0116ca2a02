"""``engine broker``: the embedded Tansu broker in the foreground, for development."""

from __future__ import annotations

import sys

from engine.broker import BrokerError, EmbeddedBroker, create_topics


def run_broker(port: int, topics: list[str]) -> int:
    """Run until interrupted, with ``topics`` ("name" or "name:partitions") created; exit code."""
    wanted = dict(_topic(spec) for spec in topics)
    broker = EmbeddedBroker(port=port).start()
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


def _topic(spec: str) -> tuple[str, int]:
    name, _, count = spec.partition(":")
    if not name or (count and not count.isdigit()) or count == "0":
        raise BrokerError(f"--topic takes NAME or NAME:PARTITIONS (got {spec!r})")
    return name, int(count or 1)
