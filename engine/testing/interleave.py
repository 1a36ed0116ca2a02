"""The order the harness runs virtual partitions' jobs in: chosen per wait, and replayable.

On a topic with virtual partitions the workers run a batch's jobs at the same time, so the
order their effects land in is anyone's. The harness runs them one after the other on the
calling thread; ``Interleaving`` picks that order: push order (None), a seeded shuffle (an
int, or a ``random.Random`` such as hypothesis's ``st.randoms()``), or the user's chooser.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.processing.jobs import Job

Chooser = Callable[[list["Job"]], Sequence["Job"]]
"""A function given the jobs in push order, returning the same jobs in the order to run."""

Interleave = None | int | random.Random | Chooser
"""What ``Harness(interleave=...)`` takes: None, a seed, a ``random.Random`` or a chooser."""


class Interleaving:
    """The chooser of one harness; ``set`` replaces it (a seed starts a fresh generator)."""

    def __init__(self, interleave: Interleave = None) -> None:
        self._choose: Chooser | None = None
        self.set(interleave)

    def set(self, interleave: Interleave) -> None:
        """Choose with ``interleave`` from now on (a TypeError names a value of another kind)."""
        self._choose = chooser(interleave)

    @property
    def active(self) -> bool:
        """Whether jobs may run in another order than pushed (False: push order)."""
        return self._choose is not None

    def order(self, jobs: list[Job]) -> list[Job]:
        """``jobs`` in the order to run them (a ValueError when a chooser returns another set)."""
        if self._choose is None or len(jobs) < 2:
            return jobs
        chosen = list(self._choose(list(jobs)))
        if sorted(map(id, chosen)) != sorted(map(id, jobs)):
            raise ValueError(f"interleave chooser {self._choose!r} must return the jobs it was"
                             f" given, each once, in any order: given {jobs!r},"
                             f" returned {chosen!r}")
        return chosen


def chooser(interleave: Interleave) -> Chooser | None:
    """The chooser ``interleave`` stands for (None: push order)."""
    if interleave is None:
        return None
    if isinstance(interleave, bool):  # an int, but surely not meant as a seed
        raise _wrong_kind(interleave)
    if isinstance(interleave, int):
        return _Shuffle(random.Random(interleave))
    if isinstance(interleave, random.Random):
        return _Shuffle(interleave)
    if callable(interleave):
        return interleave
    raise _wrong_kind(interleave)


def _wrong_kind(interleave: object) -> TypeError:
    return TypeError("interleave must be None (push order), an int seed, a random.Random or"
                     f" a function (jobs) -> jobs in the order to run (got {interleave!r})")


class _Shuffle:
    """A seeded shuffle: the same seed and the same pushes give the same orders."""

    def __init__(self, generator: random.Random) -> None:
        self._generator = generator

    def __call__(self, jobs: list[Any]) -> list[Any]:
        """``jobs`` shuffled."""
        self._generator.shuffle(jobs)
        return jobs

    def __repr__(self) -> str:
        """The generator."""
        return f"<shuffle with {self._generator!r}>"
