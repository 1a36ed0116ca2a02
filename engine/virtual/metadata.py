"""The processed offsets above a commit's watermark, encoded into the commit's metadata string.

Format: ``vp1`` + kind + the watermark + ``:`` + payload + ``:`` + CRC-32 (8 hex digits) of what
precedes it. The kind is ``r`` (run lengths: varint pairs of gap and run, relative to the
watermark) or ``b`` (a bitmap: bit ``i`` is offset ``watermark + 1 + i``), whichever is smaller;
the payload is URL-safe base64 without padding, so the whole string is ASCII and its length is
its size in bytes. The watermark inside lets a reader check the metadata belongs to the offset
it was committed with.

``decode`` never raises: metadata that is not ours (another tool's, a future ``vp2``), corrupt,
or about another offset reads as None, and the reader then replays from the committed offset
(duplicates, never loss). ``encode`` returns None when the set does not fit ``budget`` bytes
(Kafka's ``offset.metadata.max.bytes`` defaults to 4096) or holds more than ``max_offsets``
offsets (a bound on what a decode may build); the caller then commits the watermark alone.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterable

PREFIX = "vp1"
BUDGET = 4096
MAX_OFFSETS = 1_000_000


def encode(watermark: int, completed: Iterable[int], budget: int = BUDGET,
           max_offsets: int = MAX_OFFSETS) -> str | None:
    """``completed`` (offsets above ``watermark``) as metadata of at most ``budget`` bytes."""
    if budget < 1:
        raise ValueError(f"budget must be >= 1 byte (got {budget!r})")
    if watermark < 0:
        raise ValueError(f"watermark must be >= 0 (got {watermark!r})")
    relative = sorted({offset - watermark - 1 for offset in completed})
    if relative and relative[0] < 0:
        raise ValueError(f"completed offset {relative[0] + watermark + 1} is not above "
                         f"the watermark {watermark}")
    if len(relative) > max_offsets:
        return None
    room = budget - len(f"{PREFIX}r{watermark}::") - 8
    payload_room = room * 3 // 4  # base64 turns 3 bytes into 4 characters
    candidates = [("r", _runs(relative, payload_room)), ("b", _bitmap(relative, payload_room))]
    fitting = [(len(data), kind, data) for kind, data in candidates if data is not None]
    if not fitting:
        return None
    _, kind, data = min(fitting)
    body = f"{PREFIX}{kind}{watermark}:{base64.urlsafe_b64encode(data).decode().rstrip('=')}"
    text = f"{body}:{zlib.crc32(body.encode()):08x}"
    return text if len(text) <= budget else None


def decode(metadata: object, committed: int, max_offsets: int = MAX_OFFSETS) -> set[int] | None:
    """The processed offsets above ``committed`` in ``metadata``, or None if it is not ours."""
    if not isinstance(metadata, str) or not metadata.startswith(PREFIX) or not metadata.isascii():
        return None
    try:
        body, crc = metadata.rsplit(":", 1)
        if f"{zlib.crc32(body.encode()):08x}" != crc:
            return None
        head, text = body[len(PREFIX):].split(":")
        kind, base = head[:1], head[1:]
        if not base.isdigit() or int(base) != committed:
            return None
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        relative = _read_runs(data, max_offsets) if kind == "r" else (
            _read_bitmap(data) if kind == "b" else None)
    except (ValueError, binascii.Error):
        return None
    if relative is None or len(relative) > max_offsets:
        return None
    return {committed + 1 + offset for offset in relative}


def _runs(relative: list[int], room: int) -> bytes | None:
    """Varint pairs (gap since the previous run's end, run length); None past ``room``."""
    out = bytearray()
    end, index = 0, 0
    while index < len(relative):
        start = index
        while index + 1 < len(relative) and relative[index + 1] == relative[index] + 1:
            index += 1
        index += 1
        _varint(out, relative[start] - end)
        _varint(out, index - start)
        end = relative[index - 1] + 1
        if len(out) > room:
            return None
    return bytes(out)


def _bitmap(relative: list[int], room: int) -> bytes | None:
    """Bit ``i`` set for each relative offset ``i``; None when it would exceed ``room``."""
    size = relative[-1] // 8 + 1 if relative else 0
    if size > room:
        return None
    bits = bytearray(size)
    for offset in relative:
        bits[offset >> 3] |= 1 << (offset & 7)
    return bytes(bits)


def _varint(out: bytearray, number: int) -> None:
    while number >= 0x80:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)


def _read_runs(data: bytes, max_offsets: int) -> list[int] | None:
    numbers = _read_varints(data)
    if numbers is None or len(numbers) % 2:
        return None
    relative: list[int] = []
    end = 0
    for gap, length in zip(numbers[::2], numbers[1::2], strict=True):
        if length < 1 or len(relative) + length > max_offsets:
            return None
        relative.extend(range(end + gap, end + gap + length))
        end += gap + length
    return relative


def _read_varints(data: bytes) -> list[int] | None:
    numbers, number, shift = [], 0, 0
    for byte in data:
        number |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            numbers.append(number)
            number, shift = 0, 0
        elif shift > 63:
            return None  # no offset needs more than 64 bits: corrupt
    return numbers if shift == 0 else None


def _read_bitmap(data: bytes) -> list[int]:
    return [index * 8 + bit for index, byte in enumerate(data) for bit in range(8)
            if byte >> bit & 1]
