"""Whether a decoded record has the shape the dashboard's views and templates read.

Anyone who can write to ``engine_reports`` or ``engine_errors`` can put any JSON there. A
record whose fields the views cannot read (a time that is no number, a list where a mapping
goes) is refused when it arrives: kept, it would break every page until it is forgotten.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]


def number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def integer(value: Any) -> bool:
    """An int (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def _mapping(fields: dict[str, Check]) -> Check:
    """A dict whose named fields, where present and not None, pass their checks."""
    return lambda value: isinstance(value, dict) and all(
        value.get(name) is None or check(value[name]) for name, check in fields.items())


def _list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def _pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2


_PROCESS = _mapping({"interval": number, "pid": integer, "started_at": number, "node": integer,
                     "versions": _mapping({})})
_REPORT = _mapping({
    "counters": lambda value: isinstance(value, dict) and all(map(integer, value.values())),
    "partitions": _list_of(_mapping({"lag": integer, "paused_until": number})),
    "partitions_hidden": _mapping({"count": integer, "lag": integer, "messages": integer}),
    "jobs": _list_of(_mapping({"started_at": number})),
    "listeners": _list_of(_mapping({"assigned": _list_of(_pair)})),
    "statistics": _mapping({}),
})
_ERROR = _mapping({"context": _mapping({})})


def readable(record: dict[str, Any]) -> bool:
    """True for a report or an error the views can show; False for anything else."""
    kind = record.get("kind")
    if kind == "report":
        process = record.get("process")
        return (isinstance(process, dict) and _PROCESS(process)
                and number(process.get("reported_at")) and _REPORT(record))
    return kind == "error" and _ERROR(record)
