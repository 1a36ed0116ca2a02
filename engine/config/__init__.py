"""Configuration: validated app settings and the librdkafka settings the engine derives."""

from engine.config.settings import Settings

__all__ = ["Settings"]
