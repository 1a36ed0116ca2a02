"""What a ``ConsumerMachine``'s rule mixins (``FaultRules``, ``GroupRules``) use of the machine."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from engine.testing.harness import Harness
    from engine.testing.schedule import Step


class MachineHost:
    """The machine's harness, topic and step runner, declared once for every rule mixin.

    ``ConsumerMachine`` sets ``topic``, ``kafka`` and ``_fresh`` (True while the consumers
    have polled nothing since they were made) and runs a step in ``_do``.
    """

    topic: ClassVar[str | None]
    kafka: Harness
    _fresh: bool

    def _do(self, each: Step) -> None:
        """Run one step and record it (``ConsumerMachine`` implements it)."""
        raise NotImplementedError

    @property
    def _machine_topic(self) -> str:
        """The machine's topic (checked to be set when the subclass was made)."""
        assert self.topic is not None
        return self.topic
