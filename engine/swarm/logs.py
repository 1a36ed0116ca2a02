"""Which node logged it: every log record of a swarm node names the node and its pid.

In a node every record (the engine's, librdkafka's routed lines, the user's own loggers)
carries ``swarm_node`` (the index) and ``swarm_tag`` (``"node=N pid=P"``), set by a log-record
factory installed in the node right after the fork. Nothing else is changed: handlers,
formatters and messages stay as the user configured them, and a format can show the tag with
``%(swarm_tag)s``. ``NodeFormatter`` (what ``engine server`` and ``engine swarm`` log with when
logging is not configured) puts it before each line.
"""

from __future__ import annotations

import logging
import os
from typing import Any

__all__ = ["NodeFormatter", "tag_records"]


def tag_records(index: int) -> None:
    """In a node process: give every log record from now on this node's index and pid."""
    make_record = logging.getLogRecordFactory()  # kept: a factory set before still runs
    tag = f"node={index} pid={os.getpid()}"

    def tagged(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.swarm_node = index
        record.swarm_tag = tag
        return record

    logging.setLogRecordFactory(tagged)


class NodeFormatter(logging.Formatter):
    """A formatter that starts a swarm node's lines with ``node=N pid=P`` (others unchanged).

    Several nodes write to one stream; the tag first reads like a process manager's prefix.
    """

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - stdlib's name
        """The formatted line, after the record's ``swarm_tag`` when it has one."""
        line = super().formatMessage(record)
        tag = record.__dict__.get("swarm_tag")
        return line if tag is None else f"{tag} {line}"
