"""The names of librdkafka's settings, read from the library itself, for "did you mean"."""

from __future__ import annotations

import ctypes
import ctypes.util
import difflib
import re
from pathlib import Path

_UNKNOWN = re.compile(r'No such configuration property: "([^"]+)"')
# librdkafka dumps only settings that have a value: these common ones have none by default
_UNDUMPED = ("bootstrap.servers", "metadata.broker.list", "group.id", "group.instance.id",
             "transactional.id", "sasl.username", "sasl.password", "ssl.ca.location",
             "ssl.certificate.location", "ssl.key.location", "ssl.key.password", "acks",
             "compression.type", "linger.ms", "batch.size")


def suggestion(message: str) -> str:
    """``" (did you mean 'session.timeout.ms'?)"`` for librdkafka's unknown-property message.

    Empty when the message is about something else, or nothing is close.
    """
    unknown = _UNKNOWN.search(message)
    if unknown is None:
        return ""
    close = difflib.get_close_matches(unknown.group(1), property_names(), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def property_names() -> list[str]:
    """Most of librdkafka's setting names: those it dumps with a value, and common others."""
    library = _library()
    if library is None:
        return list(_UNDUMPED)
    try:
        dumped = _dumped(library, "rd_kafka_conf") + _dumped(library, "rd_kafka_topic_conf")
    except (AttributeError, OSError, UnicodeDecodeError):
        dumped = []
    return [*_UNDUMPED, *dumped]


def _library() -> ctypes.CDLL | None:
    """The librdkafka confluent-kafka loaded: its wheel's copy, else the system's."""
    import confluent_kafka

    bundled = Path(confluent_kafka.__file__).parent.with_name("confluent_kafka.libs")
    found = sorted(bundled.glob("librdkafka*")) if bundled.is_dir() else []
    path = str(found[0]) if found else ctypes.util.find_library("rdkafka")
    try:
        return ctypes.CDLL(path) if path else None
    except OSError:
        return None


def _dumped(library: ctypes.CDLL, kind: str) -> list[str]:
    new, dump, destroy = (getattr(library, f"{kind}_{verb}") for verb in ("new", "dump",
                                                                           "destroy"))
    new.restype = ctypes.c_void_p
    dump.restype = ctypes.POINTER(ctypes.c_char_p)
    dump.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
    destroy.argtypes = [ctypes.c_void_p]
    free = library.rd_kafka_conf_dump_free
    free.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t]
    conf, count = new(), ctypes.c_size_t()
    pairs = dump(conf, ctypes.byref(count))
    try:  # key, value, key, value...
        return [(pairs[index] or b"").decode() for index in range(0, count.value, 2)]
    finally:
        free(pairs, count)
        destroy(conf)
