"""Default deserializers: JSON payloads and UTF-8 keys (None stays None)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from engine.messages.message import Message

Deserializer = Callable[["Message"], Any]


def json_payload(message: Message) -> Any:
    """The payload parsed as JSON; a tombstone (None) stays None."""
    raw = message.raw_payload
    return None if raw is None else json.loads(raw)


def utf8_key(message: Message) -> Any:
    """The key decoded as UTF-8 text; no key stays None."""
    raw = message.raw_key
    return None if raw is None else raw.decode("utf-8")


class Deserializers(NamedTuple):
    """The payload and key deserializers of one topic."""

    payload: Deserializer = json_payload
    key: Deserializer = utf8_key


DEFAULT = Deserializers()


def deserializers_of(payload: Deserializer | None, key: Deserializer | None) -> Deserializers:
    """A topic's deserializers: the ones its route names, the defaults otherwise."""
    return Deserializers(payload or json_payload, key or utf8_key)
