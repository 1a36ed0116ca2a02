"""engine: run Kafka consumers the way Karafka does, under an explicit lifecycle.

The public names are imported on first use, so importing a submodule alone (the pytest
plugin, say) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.app import App
    from engine.consumer import Consumer
    from engine.errors import (
        AdminError,
        BlockingCallError,
        ConfigError,
        DeserializationError,
        EngineError,
        NotRunningError,
        PluginError,
        ProduceError,
        QueueClosedError,
        RoutingError,
        SeekError,
        StopTimeout,
        SwarmError,
        TransactionError,
        UnknownEventError,
    )
    from engine.lifecycle import AppState, ListenerState
    from engine.messages import Message, Messages
    from engine.plugin import Plugin
    from engine.routing import DeadLetterQueue, Selection
    from engine.virtual.settings import VirtualPartitions

_HOMES = {
    "App": "engine.app", "Consumer": "engine.consumer", "AppState": "engine.lifecycle",
    "ListenerState": "engine.lifecycle", "Message": "engine.messages",
    "Messages": "engine.messages", "Plugin": "engine.plugin", "DeadLetterQueue": "engine.routing",
    "Selection": "engine.routing", "VirtualPartitions": "engine.virtual.settings",
    **dict.fromkeys([
        "AdminError", "BlockingCallError", "ConfigError", "DeserializationError", "EngineError",
        "NotRunningError",
        "PluginError",
        "ProduceError", "QueueClosedError", "RoutingError", "SeekError", "StopTimeout",
        "SwarmError", "TransactionError", "UnknownEventError",
    ], "engine.errors"),
}

__all__ = [
    "AdminError", "App", "AppState", "BlockingCallError", "ConfigError", "Consumer",
    "DeadLetterQueue",
    "DeserializationError", "EngineError", "ListenerState", "Message", "Messages",
    "NotRunningError", "Plugin", "PluginError", "ProduceError", "QueueClosedError",
    "RoutingError", "SeekError", "Selection", "StopTimeout", "SwarmError", "TransactionError",
    "UnknownEventError", "VirtualPartitions",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names."""
    return sorted({*globals(), *_HOMES})
