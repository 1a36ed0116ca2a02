"""A one-way lifecycle on a ``transitions`` machine, and its Mermaid diagram.

The only module that imports ``transitions``. The machine's transitions are the lifecycle's
verbs, each moving forward only, so a request for anything else is a trigger the machine
refuses (``MachineError``, read as False: a refusal is routine, so it is not logged).
``LockedMachine`` serialises the triggers; its ``after_state_change`` callback is the one place
that announces an entered state.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from enum import Enum
from typing import Any, Generic, TypeVar, cast

from transitions import MachineError
from transitions.extensions import GraphMachine, LockedMachine

from engine.lifecycle.verb import Verb, checked

S = TypeVar("S", bound=Enum)

APP_MACHINE = "engine.app"
LISTENER_MACHINE = "engine.listener"


class _DropOwnChatter(logging.Filter):
    """Drops the DEBUG/INFO lines of the engine's own machines (one per callback).

    Not a level on the ``transitions`` loggers: that would also silence the machines of the
    application using the engine. ``transitions`` starts each line with its machine's name,
    which is how the engine's are told apart; their warnings still pass.
    """

    prefixes = frozenset({f"{APP_MACHINE}: ", f"{LISTENER_MACHINE}: "})

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return (record.levelno >= logging.WARNING or not isinstance(args, tuple) or not args
                or args[0] not in self.prefixes)


_CHATTER = _DropOwnChatter()


def _drop_own_chatter() -> None:
    """Install the filter once, when the first machine is built (not at import)."""
    logger = logging.getLogger("transitions.core")
    if _CHATTER not in logger.filters:
        logger.addFilter(_CHATTER)


class _Model:
    """What the machine decorates: it holds the state value and gets one method per verb."""

    state: str
    trigger: Callable[[str], bool]


class OneWayLifecycle(ABC, Generic[S]):
    """The shared shape of the app's lifecycle and a listener's status.

    ``name`` (``APP_MACHINE`` or ``LISTENER_MACHINE``) names the machine; ``initial`` (the
    first state by default) is where it starts, unannounced. Subclasses say how an entered state
    is announced (``_announce``) and add their own predicates. The machine's lock is reentrant
    (its ``machine_context``): a receiver may request a move on the thread that announced.
    """

    def __init__(self, states: type[S], verbs: Sequence[Verb[S]], name: str,
                 initial: S | None = None) -> None:
        self._order: tuple[S, ...] = tuple(states)
        self._verbs = checked(self._order, verbs)
        self._name = name
        self._rank = {state: index for index, state in enumerate(self._order)}
        self._by_value = {state.value: state for state in self._order}
        self._verb_into = {verb.dest: verb.name for verb in self._verbs}
        self._watchers: list[Callable[[], None]] = []
        self._build(self._order[0] if initial is None else initial)

    def _build(self, initial: S) -> None:
        """A fresh machine (and lock) at ``initial``; the state is a plain attribute for reads."""
        _drop_own_chatter()
        self._state: S = initial
        self._model = _Model()
        # reentrant (the library's default Lock is not); cast: its stub wants __enter__ -> None
        lock = cast(Any, threading.RLock())
        self._machine = LockedMachine(
            model=self._model, name=self._name, send_event=True,
            after_state_change=self._entered, machine_context=[lock],
            **definition(self._order, self._verbs, initial),
        )

    @property
    def state(self) -> S:
        """The current state (a plain attribute read: cheap on any path)."""
        return self._state

    def request(self, target: S) -> bool:
        """Fire the verb that enters ``target``; False (and no change) if it cannot from here."""
        verb = self._verb_into.get(target)
        if verb is None:
            return False
        try:
            return self._model.trigger(verb)
        except MachineError:  # the verb does not leave the current state; nothing changed
            return False

    def reached(self, state: S) -> bool:
        """Whether the current state is ``state`` or a later one (lock-free read)."""
        return self._rank[self._state] >= self._rank[state]

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (no arguments) after every announced change."""
        self._watchers.append(callback)

    def unwatch(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback`` (a no-op when it is not watching)."""
        with suppress(ValueError):
            self._watchers.remove(callback)

    @contextmanager
    def _atomically(self) -> Iterator[None]:
        """Hold the machine's own lock across several requests (reentrant for this thread)."""
        with ExitStack() as stack:
            for context in self._machine.machine_context:
                stack.enter_context(context)
            yield

    def _entered(self, event: Any) -> None:
        previous = self._state
        self._state = self._by_value[event.transition.dest]
        self._announce(self._state, previous)
        for callback in self._watchers:
            callback()

    @abstractmethod
    def _announce(self, state: S, previous: S) -> None:
        """Instrument the entered ``state`` (the subclass's event and payload)."""


def definition(order: Sequence[S], verbs: Sequence[Verb[S]], initial: S) -> dict[str, Any]:
    """The ``transitions`` machine arguments for these states and verbs (no auto transitions)."""
    return {
        "states": [state.value for state in order],
        "initial": initial.value,
        "transitions": [{"trigger": verb.name, "source": [s.value for s in verb.sources],
                         "dest": verb.dest.value} for verb in verbs],
        "auto_transitions": False,
    }


def diagram(states: type[S], verbs: Sequence[Verb[S]], title: str) -> str:
    """The machine of ``states`` and ``verbs`` as transitions draws it in Mermaid."""
    order = tuple(states)
    machine = GraphMachine(graph_engine="mermaid", title=title,
                           **definition(order, checked(order, verbs), order[0]))
    source = str(machine.get_graph().draw(None))
    # transitions indents its blank separator lines: no trailing blanks in the printed text
    return "\n".join(line.rstrip() for line in source.splitlines())
