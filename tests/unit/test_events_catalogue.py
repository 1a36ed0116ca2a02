"""EVENTS.md, the registry in code and the emit sites must agree.

The site's events reference is rendered from the registry (tests/docs/test_reference_pages.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.instrumentation.events import (
    BEYOND_DESIGN,
    BEYOND_DESIGN_EVENTS,
    ERROR_TYPES,
    EVENT_NAMES,
)
from engine.instrumentation.monitor import Monitor
from engine.swarm.events import SWARM_ERROR_TYPES, SWARM_EVENTS

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT.parent / "shared" / "design" / "EVENTS.md"
SOURCES = [*ROOT.joinpath("engine").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py")]


def first_column_names(markdown: str, heading: str) -> list[str]:
    """Backticked names in the first column of the tables under ``heading``.

    A name starting with '.' replaces the last part of the name before it
    (``connection.listener.pending`` … ``.starting`` -> ``connection.listener.starting``).
    """
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    names: list[str] = []
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) < 3 or set(cells[1].strip()) <= {"-", ""}:
            continue
        for token in re.findall(r"`([^`]+)`", cells[1]):
            prefix = names[-1].rsplit(".", 1)[0] if token.startswith(".") else ""
            names.append(prefix + token)
    return names


def design_catalogue() -> str:
    if not DESIGN.exists():
        pytest.skip(f"the design catalogue is not beside this checkout ({DESIGN})")
    return DESIGN.read_text()


def test_registry_matches_the_design_catalogue() -> None:
    text = design_catalogue()
    documented = [
        name
        for heading in ("## Lifecycle", "## Connection", "## Processing")
        for name in first_column_names(text, heading)
    ] + ["error.occurred"]
    beyond = [spec.name for spec in BEYOND_DESIGN_EVENTS]
    assert not set(beyond) & set(documented), "in the design now: drop it from BEYOND_DESIGN"
    assert sorted([*documented, *beyond]) == sorted(EVENT_NAMES)


def test_the_events_beyond_the_design_are_exactly_the_known_ones() -> None:
    # adding one is a decision, not an accident: name it here
    assert [spec.name for spec in BEYOND_DESIGN_EVENTS] == ["connection.listener.unassigned"]


def test_error_types_match_the_design_catalogue() -> None:
    documented = first_column_names(design_catalogue(), "## Errors")
    assert sorted([*documented, *BEYOND_DESIGN]) == sorted(ERROR_TYPES)


def test_every_emit_site_uses_a_catalogued_event_and_error_type() -> None:
    emitted: set[str] = set()
    types: set[str] = set()
    for path in SOURCES:
        source = path.read_text()
        emitted |= set(re.findall(r"(?:instrument|measure)\(\s*\"([a-z_.]+)\"", source))
        types |= set(re.findall(r"\btype=\"([a-z_.]+)\"", source))
        types |= set(re.findall(r"\"(consumer\.[a-z_]+\.error)\"", source))
    known_events, known_types = {*EVENT_NAMES, *SWARM_EVENTS}, {*ERROR_TYPES, *SWARM_ERROR_TYPES}
    assert emitted <= known_events, emitted - known_events
    assert types <= known_types, types - known_types


def test_the_supervisors_events_match_the_design_catalogue() -> None:
    text = design_catalogue()
    section = text.split("## Swarm", 1)[1].split("\n## ", 1)[0]
    assert sorted([*first_column_names(text, "## Swarm"), "error.occurred"]) == sorted(
        SWARM_EVENTS)
    assert [f"`{kind}`" for kind in SWARM_ERROR_TYPES] == re.findall(r"`swarm\.[a-z.]+\.error`",
                                                                    section)


def test_a_fresh_monitor_knows_exactly_the_catalogue() -> None:
    assert Monitor().events == EVENT_NAMES
