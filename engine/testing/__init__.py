"""The testing kit: run an app's consumers on the engine's own code without a broker.

``Harness`` needs nothing more than the engine. ``ConsumerMachine`` and ``strategies`` build on
hypothesis (the ``testing`` extra); importing them without it raises an ImportError that says
what to install. Names are imported on first use: the pytest plugin, a submodule, stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.testing import strategies
    from engine.testing.clock import EPOCH, VirtualClock
    from engine.testing.errors import HarnessError, HistoryError, Stuck
    from engine.testing.events import Event, EventLog
    from engine.testing.harness import Harness
    from engine.testing.history import Delivery, History, Position
    from engine.testing.machine import ConsumerMachine, ScheduleError
    from engine.testing.schedule import Step

_HOMES = {
    "EPOCH": "engine.testing.clock", "VirtualClock": "engine.testing.clock",
    "HarnessError": "engine.testing.errors",
    "HistoryError": "engine.testing.errors", "Stuck": "engine.testing.errors",
    "Event": "engine.testing.events", "EventLog": "engine.testing.events",
    "Harness": "engine.testing.harness", "Delivery": "engine.testing.history",
    "History": "engine.testing.history", "Position": "engine.testing.history",
    "Step": "engine.testing.schedule",
}
_NEEDS_HYPOTHESIS = {"ConsumerMachine": "engine.testing.machine",
                     "ScheduleError": "engine.testing.machine",
                     "strategies": "engine.testing.strategies"}

__all__ = [
    "EPOCH", "ConsumerMachine", "Delivery", "Event", "EventLog", "Harness", "HarnessError",
    "History", "HistoryError", "Position", "ScheduleError", "Step", "Stuck", "VirtualClock",
    "strategies",
]


def __getattr__(name: str) -> Any:
    """A public name, imported on first use (those built on hypothesis say when it is missing)."""
    home = _HOMES.get(name)
    if home is None:
        home = _NEEDS_HYPOTHESIS.get(name)
        if home is None:
            raise AttributeError(f"module 'engine.testing' has no attribute {name!r}")
        try:
            import hypothesis  # noqa: F401
        except ImportError as error:
            raise ImportError(
                f"engine.testing.{name} needs hypothesis: pip install 'engine[testing]'"
            ) from error
    module = importlib.import_module(home)
    value = module if name == "strategies" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names."""
    return sorted({*globals(), *_HOMES, *_NEEDS_HYPOTHESIS})
