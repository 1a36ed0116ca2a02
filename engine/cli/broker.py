"""``engine broker``: the embedded Tansu broker in the foreground, for development."""

from __future__ import annotations

import sys

from engine.broker import EmbeddedBroker


def run_broker(port: int) -> int:
    """Run until interrupted; the exit code."""
    broker = EmbeddedBroker(port=port).start()
    sys.stdout.write(f"broker listening on {broker.bootstrap} (in memory; Ctrl-C stops it)\n")
    sys.stdout.flush()
    try:
        assert broker.process is not None
        return broker.process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        broker.stop()
