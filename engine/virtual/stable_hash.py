"""A hash of a partitioner's value that is the same in every process and on every run.

Python's ``hash`` of a str or bytes is salted per process, so ``consistent`` would send a key to
another virtual partition after each restart. This hashes a canonical byte encoding with CRC-32
(in C, cheap, and well spread for this use: it picks one of a few dozen buckets, not a secret).

Supported values: ``None``, ``str`` (UTF-8), ``bytes`` (and ``bytearray``/``memoryview`` as
their bytes), ``int`` (``bool`` as the int it equals, since ``True == 1`` must land with ``1``),
and tuples of those. Anything else raises ``TypeError`` naming the type: a ``repr`` fallback
would silently be unstable (the default ``repr`` holds a memory address) or split equal values
(``1.0 == 1`` but their reprs differ), so the user is asked to return a supported value.
"""

from __future__ import annotations

import zlib
from typing import Any


def stable_index(value: Any, partitions: int) -> int:
    """The virtual partition, in ``range(partitions)``, that ``value`` always lands in."""
    return zlib.crc32(canonical_bytes(value)) % partitions


def canonical_bytes(value: Any) -> bytes:
    """A byte encoding of ``value`` that equal supported values share; ``TypeError`` otherwise."""
    if value is None:
        return b"n"
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b"b" + bytes(value)
    if isinstance(value, int):
        number = int(value)
        return b"i" + number.to_bytes(number.bit_length() // 8 + 1, "big", signed=True)
    if isinstance(value, tuple):
        # Length prefixes keep ("ab", "c") apart from ("a", "bc").
        parts = [canonical_bytes(item) for item in value]
        return b"t" + b"".join(len(part).to_bytes(4, "big") + part for part in parts)
    raise TypeError(f"a virtual partitioner's value must be None, str, bytes, int or a tuple "
                    f"of those (got {type(value).__name__}: {value!r})")
