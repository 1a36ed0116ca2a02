"""The engine's pytest plugin: ``engine_harness`` and ``kafka_broker`` fixtures.

Registered through the ``pytest11`` entry point. Importing it does nothing but define the
fixtures: the harness and the broker are imported when a test asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from engine.app import App
    from engine.testing.harness import Harness


@pytest.fixture
def engine_harness() -> Iterator[Callable[..., Harness]]:
    """A factory: ``engine_harness(app, **options)`` opens a ``Harness``, closed at teardown."""
    from engine.testing.harness import Harness

    opened: list[Harness] = []

    def open_harness(app: App, *args: Any, **options: Any) -> Harness:
        harness = Harness(app, *args, **options)
        opened.append(harness)
        return harness

    yield open_harness
    for harness in reversed(opened):
        harness.close()


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[str]:
    """The embedded Tansu broker, started once per session: its bootstrap address.

    Skips (with the install hint) when the ``broker`` extra is missing.
    """
    from engine.broker import INSTALL_HINT, BrokerMissingError, EmbeddedBroker, binary

    try:
        binary()
    except BrokerMissingError:
        pytest.skip(f"kafka_broker needs the embedded broker: {INSTALL_HINT}")
    with EmbeddedBroker() as broker:
        yield broker.bootstrap
