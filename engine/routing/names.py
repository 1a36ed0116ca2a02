"""Kafka's naming rules for topics and consumer groups."""

from __future__ import annotations

import re

_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


def topic_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid Kafka topic name, or None when it is."""
    if not isinstance(name, str):
        return f"a topic name must be a string (got {type(name).__name__})"
    if name in (".", ".."):
        return f"topic name {name!r} is reserved"
    if not _TOPIC.match(name):
        return (
            f"invalid topic name {name!r}: use 1-249 characters of letters, digits,"
            " '.', '_' and '-'"
        )
    return None


def group_name_problem(name: object) -> str | None:
    """Why ``name`` is not a usable consumer group name, or None when it is."""
    if not isinstance(name, str) or not name.strip():
        return f"a consumer group name must be a non-empty string (got {name!r})"
    if len(name) > 255:
        return f"consumer group name {name[:20]!r}... is longer than 255 characters"
    return None
