"""The wire format the ``web`` plugin writes and the dashboard reads: versioned, compressed JSON.

Stdlib only, so every process can report without the ``web`` extra. A record is one JSON
object with ``schema`` (``SCHEMA_VERSION``) and ``kind`` (``"report"``, ``"error"`` or
``"command"``), compressed with zlib. A reader refuses a record of another schema with
``RecordError`` naming the versions, rather than showing half-understood fields.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from typing import Any

REPORTS_TOPIC = "engine_reports"
"""Where every process publishes its periodic report (key: the process id)."""

ERRORS_TOPIC = "engine_errors"
"""Where every process publishes its errors, each with its traceback."""

COMMANDS_TOPIC = "engine_commands"
"""Where the dashboard sends commands (key: the process id they are for)."""

PROCESS_COMMANDS = ("quiet", "stop")
"""What a command may ask of a whole process."""

PARTITION_COMMANDS = ("pause", "resume")
"""What a command may ask of one partition (the record names ``topic`` and ``partition``)."""

COMMANDS = PROCESS_COMMANDS + PARTITION_COMMANDS
"""Every command a process obeys."""

SCHEMA_VERSION = 1
"""The version of the records' layout; a reader refuses any other."""

REPORTS_CONFIG: Mapping[str, Any] = {"partitions": 1, "cleanup.policy": "delete",
                                     "retention.ms": 3600 * 1000}
"""How ``engine_reports`` is declared: the last hour rebuilds a dashboard (its charts too),
and is all a dashboard reads at its start."""

ERRORS_CONFIG: Mapping[str, Any] = {"partitions": 1, "cleanup.policy": "delete",
                                    "retention.ms": 7 * 24 * 3600 * 1000}
"""How ``engine_errors`` is declared: a week of errors."""

COMMANDS_CONFIG: Mapping[str, Any] = {"partitions": 1, "cleanup.policy": "delete",
                                      "retention.ms": 3600 * 1000}
"""How ``engine_commands`` is declared: a command is read when sent or never."""

MAX_RECORD = 16 * 2**20
"""Bytes a record may take once decompressed; a reader refuses a bigger one."""

HEADERS = [("schema", str(SCHEMA_VERSION).encode()), ("content-encoding", b"zlib")]
"""Headers on every record, so a person reading the topic knows what it holds."""


class RecordError(ValueError):
    """A record that is not one this version of the dashboard can read."""


def encode(kind: str, body: Mapping[str, Any]) -> bytes:
    """``body`` as a compressed record of ``kind``."""
    record = {"schema": SCHEMA_VERSION, "kind": kind, **body}
    return zlib.compress(json.dumps(record, separators=(",", ":"), default=str).encode(), 6)


def decode(data: bytes | None) -> dict[str, Any]:
    """The record in ``data``; ``RecordError`` saying why it cannot be read."""
    if not data:
        raise RecordError("an empty record")
    try:
        inflater = zlib.decompressobj()
        text = inflater.decompress(data, MAX_RECORD)
        if inflater.unconsumed_tail:  # a few kilobytes can inflate to gigabytes
            raise RecordError(f"a record above {MAX_RECORD} bytes once decompressed")
        record = json.loads(text)
    except (zlib.error, ValueError) as error:
        if isinstance(error, RecordError):
            raise
        raise RecordError(f"not a zlib-compressed JSON record: {error}") from error
    if not isinstance(record, dict):
        raise RecordError(f"a record is a JSON object, not {type(record).__name__}")
    version = record.get("schema")
    if version != SCHEMA_VERSION:
        raise RecordError(f"schema {version!r} is not the schema this dashboard reads"
                          f" ({SCHEMA_VERSION})")
    return record
