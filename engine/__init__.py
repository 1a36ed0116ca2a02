"""engine: run Kafka consumers the way Karafka does, under an explicit lifecycle."""

from engine.app import App
from engine.consumer import Consumer
from engine.errors import (
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
    UnknownEventError,
)
from engine.lifecycle import AppState, ListenerState
from engine.messages import Message, Messages
from engine.plugin import Plugin
from engine.routing import DeadLetterQueue, Selection

__all__ = [
    "App",
    "AppState",
    "ConfigError",
    "Consumer",
    "DeadLetterQueue",
    "DeserializationError",
    "EngineError",
    "ListenerState",
    "Message",
    "Messages",
    "NotRunningError",
    "Plugin",
    "PluginError",
    "ProduceError",
    "QueueClosedError",
    "RoutingError",
    "SeekError",
    "Selection",
    "StopTimeout",
    "UnknownEventError",
]
