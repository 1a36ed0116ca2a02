"""Harness operations as values: what a property-based run did, replayable and printable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from engine.testing.harness import Harness


class Step(NamedTuple):
    """One harness call: ``kafka.<name>(*args, **kwargs)`` (``advance`` is the clock's).

    ``str(step)`` is that call as Python source, so a schedule pastes into a plain test.
    """

    name: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    def apply(self, kafka: Harness) -> Any:
        """Make the call on ``kafka``."""
        if self.name == "restart":
            kafka.stop()
            return kafka.start()
        target = kafka.clock if self.name == "advance" else kafka
        return getattr(target, self.name)(*self.args, **dict(self.kwargs))

    def __str__(self) -> str:
        """The call as source, e.g. ``kafka.produce('orders', {'id': 1}, key='a')``."""
        if self.name == "restart":
            return "kafka.stop(); kafka.start()"
        arguments = [repr(arg) for arg in self.args]
        arguments += [f"{name}={value!r}" for name, value in self.kwargs]
        target = "kafka.clock" if self.name == "advance" else "kafka"
        return f"{target}.{self.name}({', '.join(arguments)})"


def step(name: str, *args: Any, **kwargs: Any) -> Step:
    """A ``Step`` from a call's arguments (keywords whose value is None are left out)."""
    return Step(name, args, tuple((key, value) for key, value in kwargs.items()
                                  if value is not None))


_REFRESHING = frozenset({"restart", "rebalance"})
_IDLE = frozenset({"produce", "advance", "crash", "fail_produce", "interleave"})


def refreshes(each: Step) -> bool:
    """After a restart, a rebalance or a crash at once (it restarts), every consumer is fresh.

    Fresh consumers have polled nothing: restarting or rebalancing them changes nothing a
    check sees, so a machine skips those steps rather than pile them up in schedules.
    """
    return each.name in _REFRESHING or (each.name == "crash" and not each.kwargs)


def keeps_fresh(each: Step) -> bool:
    """Steps that leave fresh consumers fresh (arming a fault is the harness', not theirs)."""
    return each.name in _IDLE


def replay(kafka: Harness, steps: Iterable[Step]) -> None:
    """Apply every step in order."""
    for each in steps:
        each.apply(kafka)


class Line(NamedTuple):
    """A line of the user's own code in a machine's schedule, printed as it is.

    ``ConsumerMachine.record`` adds one for a step of a user's rule (a fault, an outage) that
    the printed test must repeat for the failure to come back.
    """

    source: str

    def __str__(self) -> str:
        """The line itself."""
        return self.source


def render(steps: Iterable[Step | Line], machine: str, *, end: Iterable[str] = ()) -> str:
    """A machine's schedule as a test function a user can paste and run.

    ``machine`` names the machine class: the test makes one outside hypothesis (its harness
    over a fresh app) so that recorded lines and the machine's own checks can use it. A
    timestamp prints as ``datetime.datetime(...)``: the test then imports ``datetime`` itself.
    """
    body = [str(each) for each in steps] + list(end)
    lines = ["def test_replay():"]
    if any("datetime." in line for line in body):  # a drawn timestamp prints as its repr
        lines.append("    import datetime")
    lines += [f"    machine = {machine}()", "    with machine.kafka as kafka:"]
    lines += [f"        {line}" for line in body] or ["        pass"]
    return "\n".join(lines)
