"""An app for the subprocess tests; configured by environment variables.

BOOTSTRAP, TOPIC, GROUP: where to consume; OUT: a file to append "partition offset pid" lines;
HANG_AT: an offset at which consume blocks forever; DELAY: seconds to sleep per message;
SESSION_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS: the group settings (conftest.GROUP_ENV).
"""

from __future__ import annotations

import os
import threading
import time

from engine import App, Consumer, Messages

app = App(
    kafka={"bootstrap.servers": os.environ["BOOTSTRAP"],
           "session.timeout.ms": int(os.environ.get("SESSION_TIMEOUT_MS", "6000")),
           "heartbeat.interval.ms": int(os.environ.get("HEARTBEAT_INTERVAL_MS", "1000"))},
    client_id=os.environ["GROUP"],
    concurrency=2,
    max_messages=20,
    shutdown_timeout=float(os.environ.get("SHUTDOWN_TIMEOUT", "30")),
)
hang_at = int(os.environ.get("HANG_AT", "-1"))
delay = float(os.environ.get("DELAY", "0"))


class Recording(Consumer):
    """Writes what it consumed to OUT, line by line."""

    def consume(self, messages: Messages) -> None:
        """Record each message (and hang or slow down when asked to)."""
        lines = []
        for message in messages:
            if message.offset == hang_at:
                with open(os.environ["OUT"] + ".hang", "w") as marker:
                    marker.write("hanging\n")
                threading.Event().wait()
            time.sleep(delay)
            lines.append(f"{self.partition} {message.offset} {os.getpid()}\n")
        with open(os.environ["OUT"], "a") as out:
            out.write("".join(lines))


app.topic(os.environ["TOPIC"], Recording)
