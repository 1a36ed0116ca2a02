"""A transactional pipeline for the chaos tests, run by ``engine server``; set by environment.

BOOTSTRAP, GROUP, SOURCE, TARGET: each input of SOURCE becomes ``out-<partition>-<offset>`` on
TARGET, produced and marked in one transaction per batch. HANG_FROM (optional): the first
batch reaching that offset produces the first half of its outputs (each acknowledged, so in
the log), writes ``<first offset of the batch> <offsets produced>...`` to MARKER, then
blocks for ever inside its transaction: only a kill ends this member.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from engine import App, Consumer, Messages

TARGET = os.environ["TARGET"]
HANG_FROM = int(os.environ.get("HANG_FROM", "-1"))
MARKER = os.environ.get("MARKER", "")


def hang(messages: Messages, produced: list[int]) -> None:
    """Tell the test where this member stopped, then block until it is killed."""
    staging = Path(MARKER + ".tmp")
    staging.write_text(" ".join(map(str, [messages.metadata.first_offset, *produced])))
    staging.rename(MARKER)  # whole or absent: the test never reads half a line
    threading.Event().wait()


class Pipeline(Consumer):
    """One output per input, and the batch's mark, in one transaction."""

    def consume(self, messages: Messages) -> None:
        """Transform the batch (hanging half-way through it when asked to)."""
        hangs = 0 <= HANG_FROM <= messages.metadata.last_offset
        half = max(1, len(messages) // 2)
        with self.transaction():
            for index, message in enumerate(messages):
                self.produce_sync(TARGET, f"out-{message.partition}-{message.offset}".encode())
                if hangs and index + 1 == half:
                    hang(messages, [m.offset for m in list(messages)[:half]])
            self.mark_as_consumed(messages.last())  # type: ignore[arg-type]


app = App(
    kafka={"bootstrap.servers": os.environ["BOOTSTRAP"], "session.timeout.ms": 6000,
           "heartbeat.interval.ms": 1000},
    client_id=os.environ["GROUP"],
    transactional_id=os.environ["GROUP"],
    max_messages=10,
    shutdown_timeout=30.0,
)
app.topic(os.environ["SOURCE"], Pipeline)
