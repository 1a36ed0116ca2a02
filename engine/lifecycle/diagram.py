"""Render a one-way lifecycle as a Mermaid state diagram."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from itertools import pairwise


def mermaid(states: Sequence[Enum], shortcuts: Sequence[tuple[Enum, Enum]] = ()) -> str:
    """A ``stateDiagram-v2``: each state to the next, plus the given shortcuts.

    Any forward move is legal; only the path and the usual shortcuts are drawn so the picture
    stays readable.
    """
    names = [str(state.value) for state in states]
    lines = ["stateDiagram-v2", f"    [*] --> {names[0]}"]
    lines += [f"    {a} --> {b}" for a, b in pairwise(names)]
    lines += [f"    {a.value} --> {b.value}" for a, b in shortcuts]
    lines.append(f"    {names[-1]} --> [*]")
    return "\n".join(lines)
