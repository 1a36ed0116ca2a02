"""Every exception the engine raises on purpose, under one base class."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""


class ConfigError(EngineError, ValueError):
    """Settings are invalid; the message lists every problem found, one per line."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid settings ({count} {noun}):\n{lines}")


class RoutingError(EngineError, ValueError):
    """A route is invalid; the message names the topic (or group) at fault."""


class PluginError(EngineError):
    """A plugin is unknown, broken, installed twice, badly configured, or failed to start.

    ``hint`` says what to try, where the raiser knows better than a generic line.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UnknownEventError(EngineError, KeyError):
    """An event name is not in the monitor's registry."""

    def __init__(self, name: str, suggestions: Sequence[str] = ()) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        hint = f"; did you mean {', '.join(map(repr, self.suggestions))}?" if suggestions else ""
        message = f"unknown event {name!r}{hint} (custom events need monitor.register_event)"
        super().__init__(message)

    def __str__(self) -> str:
        """Show the message plainly (KeyError would quote it)."""
        return str(self.args[0])


class DeserializationError(EngineError):
    """A message payload or key could not be deserialized."""

    def __init__(self, topic: str, partition: int, offset: int, part: str, cause: Exception):
        self.topic, self.partition, self.offset, self.part = topic, partition, offset, part
        super().__init__(
            f"cannot deserialize the {part} of {topic}/{partition}@{offset}: "
            f"{type(cause).__name__}: {cause}"
        )


class StopTimeout(EngineError):  # noqa: N818 - the public name in the API contract
    """A graceful stop outlasted shutdown_timeout; carries what was still running."""

    def __init__(self, timeout: float, report: dict[str, Any]) -> None:
        self.timeout = timeout
        self.report = report
        super().__init__(f"the engine did not stop within shutdown_timeout={timeout}s: {report}")


_SWARM_ENDS = {
    1: "a node found that the app cannot run as configured (its error is in the node's log)",
    2: "a node had to be forced to stop",
}


class SwarmError(EngineError):
    """A swarm ended badly; ``exit_code`` is what ``engine swarm`` exits with for it.

    1: a node found that the app cannot run as configured; 2: a node had to be forced to stop.
    """

    def __init__(self, exit_code: int) -> None:
        self.exit_code = exit_code
        reason = _SWARM_ENDS.get(exit_code, "a node failed")
        super().__init__(f"the swarm stopped: {reason} (exit code {exit_code})")


class ProduceError(EngineError):
    """The broker did not acknowledge a synchronous send in time, or refused it."""


class NotRunningError(EngineError, RuntimeError):
    """A consumer's runtime method outside a running engine, or a send that cannot be made.

    Sends cannot be made once the app stopped (its producer is closed) or in a swarm's
    supervisor.
    """


class QueueClosedError(EngineError, RuntimeError):
    """A job was pushed after the jobs queue was closed."""


class SeekError(EngineError):
    """The client could not move a partition's fetch position."""


class AdminError(EngineError):
    """An admin operation (``engine.admin``, ``engine topics``) met problems.

    ``problems`` holds one line per problem, each ending with a hint; ``done`` is what the
    operation did before or despite them.
    """

    def __init__(self, problems: Iterable[str], done: Sequence[Any] = ()) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.done: tuple[Any, ...] = tuple(done)
        super().__init__("\n".join(self.problems))


class LoopBlockedError(EngineError):
    """An async consumer held the app's event loop (a sync call inside ``async def``).

    Reported, never raised: ``error.occurred`` type ``consumer.loop.blocked`` carries it.
    """


class BlockingCallError(EngineError, RuntimeError):
    """A call that waits for the broker, made from an async consumer (it would block the loop).

    ``produce_sync`` and the ``sync=True`` marks and commits; their awaitable forms
    (``produce_async``, ``commit_offsets_async``) do not block.
    """


class TransactionError(EngineError):
    """A transaction was misused, or failed (aborted, fenced, or past its time bound).

    Raised inside ``consume``: the batch fails and is retried as usual.
    """
