"""Render a one-way lifecycle's transition table as a Mermaid state diagram."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum
from typing import TypeVar

S = TypeVar("S", bound=Enum)


def mermaid(states: Sequence[S], table: Mapping[S, Sequence[S]]) -> str:
    """A ``stateDiagram-v2`` with exactly the moves of ``table`` (the enforced ones)."""
    lines = ["stateDiagram-v2", f"    [*] --> {states[0].value}"]
    for source in states:
        lines += [f"    {source.value} --> {target.value}" for target in table.get(source, ())]
    lines.append(f"    {states[-1].value} --> [*]")
    return "\n".join(lines)
