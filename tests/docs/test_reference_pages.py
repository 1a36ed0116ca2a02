"""The reference pages are rendered from the code: check the renderers and where they are used."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from engine.cli.main import parser
from engine.config.kafka import FORCED, INJECTED_DEFAULTS, OWNED
from engine.config.settings import Settings
from engine.instrumentation.events import ERROR_TYPES, EVENT_NAMES
from engine.lifecycle.lifecycle import Lifecycle
from tests.docs.hook import reference_hook

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def first_column(table: str) -> list[str]:
    """The backticked name in the first column of each of a Markdown table's rows."""
    return [re.findall(r"`([^`]+)`", line.split("|")[1])[0] for line in table.splitlines()[2:]]


def test_the_events_table_lists_exactly_the_registry() -> None:
    assert first_column(reference_hook().events()) == list(EVENT_NAMES)


def test_every_error_type_of_the_registry_has_its_line_and_no_other() -> None:
    notes = reference_hook().ERROR_TYPE_NOTES
    assert sorted(notes) == sorted(ERROR_TYPES), "describe a new error type in ERROR_TYPE_NOTES"
    assert first_column(reference_hook().error_types()) == list(ERROR_TYPES)


def test_event_notes_name_only_registered_events() -> None:
    assert set(reference_hook().EVENT_NOTES) <= set(EVENT_NAMES)


def test_the_settings_table_has_every_setting_with_its_default_and_rule() -> None:
    table = reference_hook().settings()
    rows = {re.findall(r"`([^`]+)`", line)[0]: line for line in table.splitlines()[2:]}
    fields = dataclasses.fields(Settings)
    assert list(rows) == [field.name for field in fields]
    assert "`500`" in rows["max_messages"] and "`None`" in rows["transactional_id"]
    for line in rows.values():
        assert len(line.rsplit("|", 2)[1].strip()) > 10, line


def test_only_documented_fields_have_a_rule() -> None:
    @dataclasses.dataclass
    class Undocumented:
        documented: int = 1
        """A rule."""
        silent: int = 2

    assert reference_hook().field_docstrings(Undocumented) == {"documented": "A rule."}


def test_the_librdkafka_tables_follow_the_engines_own_dicts() -> None:
    hook = reference_hook()
    assert first_column(hook.injected_defaults()) == list(INJECTED_DEFAULTS)
    assert first_column(hook.owned_settings()) == [*FORCED, *OWNED]


def test_the_cli_reference_shows_every_command() -> None:
    text = reference_hook().cli()
    commands = parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"### `engine {name}`" in text and f"usage: engine {name}" in text


def test_the_plugin_options_table_lists_every_first_party_option() -> None:
    from engine_plugins.health import HealthPlugin
    from engine_plugins.logger import LoggerPlugin
    from engine_plugins.opentelemetry import OpenTelemetryPlugin
    from engine_plugins.prometheus import PrometheusPlugin

    rows = [tuple(re.findall(r"`([^`]+)`", line)[:3])
            for line in reference_hook().plugin_options().splitlines()[2:]]
    for plugin in (HealthPlugin, LoggerPlugin, OpenTelemetryPlugin, PrometheusPlugin):
        for option in plugin.OPTIONS:
            variable = f"ENGINE_{plugin.name.upper()}_{option.name.upper()}"
            assert (plugin.name, option.name, variable) in rows


def test_the_lifecycle_diagram_is_the_one_the_code_draws() -> None:
    assert reference_hook().lifecycle_diagram() == f"```mermaid\n{Lifecycle.diagram()}\n```"


def test_every_placeholder_in_the_pages_is_known_and_renders() -> None:
    hook = reference_hook()
    used = set()
    for page in DOCS.rglob("*.md"):
        text = page.read_text()
        used |= set(hook.PLACEHOLDER.findall(text))
        assert "[[engine:" not in hook.render(text), page
    assert used == set(hook.RENDERERS), "a renderer no page uses, or a page asks for nothing"


def test_an_unknown_placeholder_fails_the_build() -> None:
    with pytest.raises(ValueError, match="unknown placeholder"):
        reference_hook().render("[[engine:nonsense]]\n")


def test_source_links_are_checked_and_pointed_at_the_repository() -> None:
    hook = reference_hook()
    page = "[`app.py`](../engine/app.py) and [a page](guides/routing.md)"
    assert hook.source_links(page, "architecture.md", None) == (
        "`app.py` and [a page](guides/routing.md)")
    assert hook.source_links(page, "architecture.md", "https://example.org/engine") == (
        "[`app.py`](https://example.org/engine/blob/main/engine/app.py)"
        " and [a page](guides/routing.md)")
    with pytest.raises(ValueError, match="does not exist"):
        hook.source_links("[x](../engine/missing.py)", "architecture.md", None)


def test_every_page_is_in_the_navigation() -> None:
    nav = set(re.findall(r":\s+(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if "_hooks" not in p.parts}
    assert pages == nav


def test_the_metrics_page_lists_exactly_the_families_the_plugin_exposes() -> None:
    from prometheus_client import CollectorRegistry

    from engine_plugins.prometheus import PrometheusPlugin

    registry = CollectorRegistry()
    PrometheusPlugin(registry=registry)
    exposed = {(family.name + ("_total" if family.type == "counter" else ""), family.type)
               for family in registry.collect()}
    table = (DOCS / "operations" / "metrics.md").read_text().split("| metric |", 1)[1]
    documented = {(cells[1].strip(" `"), cells[2].strip())
                  for cells in (line.split("|") for line in table.splitlines()[2:])
                  if len(cells) > 3}
    assert documented == exposed
