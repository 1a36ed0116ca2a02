"""librdkafka's default partitioner (``consistent_random``), so tests see real placement."""

from __future__ import annotations

import zlib


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition librdkafka picks for a non-empty key: CRC32 of its bytes, modulo.

    An empty or missing key counts as unkeyed (librdkafka then picks at random; the harness
    goes round-robin instead, so runs are deterministic).
    """
    return zlib.crc32(key) % partitions
